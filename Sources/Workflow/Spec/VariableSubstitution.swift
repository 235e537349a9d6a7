/// Expands `${NAME}` and `${NAME:-default}` in workflow scalars. `$${` writes a literal `${`.
/// Lookup order: command line (`--set NAME=…`), environment, the file's `vars:`.
struct VariableSubstitution {
    /// The longest value an expansion may produce. A file of a few megabytes could otherwise
    /// expand a large variable thousands of times (a billion-laughs bomb of `${A}${A}…`);
    /// no real path, name or number comes near it.
    static let maxExpandedBytes = 1 << 20

    /// A variable's value; nil when it is not defined. Throws when the variable's own value
    /// cannot be expanded (a cycle, too deep; see WorkflowLoader).
    var lookup: (String) throws -> String?

    func expand(_ text: String, at location: SourceLocation) throws -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if c == "$", next < text.endIndex, text[next] == "$",
               text.index(after: next) < text.endIndex, text[text.index(after: next)] == "{" {
                out += "${"
                i = text.index(after: text.index(after: next))
                continue
            }
            if c == "$", next < text.endIndex, text[next] == "{" {
                guard let close = text[next...].firstIndex(of: "}") else {
                    throw Diagnostic("unterminated variable reference in '\(text)'; expected ${NAME} or ${NAME:-default}", at: location)
                }
                let body = text[text.index(after: next)..<close]
                let name: Substring
                let fallback: Substring?
                if let sep = body.range(of: ":-") {
                    name = body[..<sep.lowerBound]
                    fallback = body[sep.upperBound...]
                } else {
                    name = body
                    fallback = nil
                }
                guard Self.isValidName(name) else {
                    throw Diagnostic("'${\(body)}' is not a variable reference; names are letters, digits and _", at: location)
                }
                let found: String?
                do { found = try lookup(String(name)) } catch var d as Diagnostic {
                    d.location = d.location ?? location
                    throw d
                }
                if let value = found {
                    out += value
                } else if let fallback {
                    out += fallback
                } else {
                    throw Diagnostic("undefined variable '\(name)'; define it under vars:, in the environment, with --set \(name)=…, or give a default ${\(name):-value}", at: location)
                }
                if out.utf8.count > Self.maxExpandedBytes {
                    throw Diagnostic("the value expands to more than \(Self.maxExpandedBytes >> 20) MiB (at '${\(body)}'); a workflow value may hold at most that", at: location)
                }
                i = text.index(after: close)
                continue
            }
            out.append(c)
            i = next
        }
        return out
    }

    static func isValidName(_ s: Substring) -> Bool {
        guard let first = s.first, first == "_" || first.isLetter else { return false }
        return s.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
    }

    /// Expands every scalar below `node`; an unquoted scalar that contained a reference
    /// is re-read as YAML would read the expanded text (so `${EPOCHS}` can be an integer).
    func expand(_ node: YAMLNode) throws -> YAMLNode {
        switch node.value {
        case .scalar(let text, let kind):
            guard text.contains("${") else { return node }
            let expanded = try expand(text, at: node.location)
            // A value that is exactly one reference is read as YAML would read the value,
            // even when quoted: `{ratio: "${RATIO}"}` is the only way to write a reference
            // inside a flow mapping, and must still give a number.
            let wholeReference = text.hasPrefix("${") && text.hasSuffix("}") && text.components(separatedBy: "${").count == 2
            let newKind: YAMLValue.ScalarKind = kind == .quoted && !wholeReference ? .quoted : PlainScalar.kind(of: expanded)
            return YAMLNode(.scalar(expanded, newKind), at: node.location)
        case .sequence(let items):
            return YAMLNode(.sequence(try items.map(expand)), at: node.location)
        case .mapping(let entries):
            return YAMLNode(.mapping(try entries.map { YAMLEntry(key: $0.key, keyLocation: $0.keyLocation, value: try expand($0.value)) }),
                            at: node.location)
        }
    }
}

/// How YAML 1.1 (as LibYAML-based readers resolve it) reads an unquoted scalar's text.
enum PlainScalar {
    static func kind(of text: String) -> YAMLValue.ScalarKind {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "no", "No", "on", "On", "off", "Off": return .bool
        default: break
        }
        if Int(text) != nil { return .int }
        if Double(text) != nil, text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return .float }
        return .string
    }
}
