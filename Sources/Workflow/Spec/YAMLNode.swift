import Yams

/// A YAML value with the place it came from. The engine's own tree (rather than Yams'
/// `Node`) so that every later step — substitution, validation, overrides — keeps a
/// location to report, and so that values are plain Sendable data.
public indirect enum YAMLValue: Sendable, Equatable {
    /// A scalar keeps its text and how YAML resolved it (int, float, bool, null, str).
    case scalar(String, ScalarKind)
    case sequence([YAMLNode])
    case mapping([YAMLEntry])

    /// `quoted` is text written in quotes: always a string, never re-read as a number.
    public enum ScalarKind: String, Sendable, Equatable { case string, quoted, int, float, bool, null }
}

public struct YAMLNode: Sendable, Equatable {
    public var value: YAMLValue
    public var location: SourceLocation

    public init(_ value: YAMLValue, at location: SourceLocation) {
        self.value = value
        self.location = location
    }

    /// Mapping entries in file order, or nil when this is not a mapping.
    public var entries: [YAMLEntry]? {
        if case .mapping(let e) = value { return e }
        return nil
    }

    public subscript(key: String) -> YAMLNode? {
        entries?.first(where: { $0.key == key })?.value
    }

    /// What the node is, in the words of an error message ("a mapping", "the string 'x'").
    public var kindDescription: String {
        switch value {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let text, let kind):
            switch kind {
            case .null: return "nothing (null)"
            case .string, .quoted: return "the string '\(text)'"
            case .int: return "the integer \(text)"
            case .float: return "the number \(text)"
            case .bool: return "the boolean \(text)"
            }
        }
    }
}

public struct YAMLEntry: Sendable, Equatable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: YAMLNode
}

/// Parses YAML text into `YAMLNode`s, turning the parser's errors into diagnostics with
/// `file:line:column`.
public enum YAMLReader {
    public static func parse(_ text: String, file: String) throws -> YAMLNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw diagnostic(for: error, text: text, file: file)
        }
        guard let root else {
            throw Diagnostic("the file is empty; expected a workflow mapping with 'stages'",
                             at: SourceLocation(file: file, line: 1, column: 1))
        }
        return try convert(root, file: file)
    }

    private static func location(_ mark: Mark?, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    private static func convert(_ node: Node, file: String) throws -> YAMLNode {
        let at = location(node.mark, file)
        switch node {
        case .scalar(let scalar):
            let kind: YAMLValue.ScalarKind
            if scalar.style != .plain {
                kind = .quoted  // quoted text is always a string, even "10"
            } else {
                kind = PlainScalar.kind(of: scalar.string)
            }
            return YAMLNode(.scalar(scalar.string, kind), at: at)
        case .sequence(let seq):
            return YAMLNode(.sequence(try seq.map { try convert($0, file: file) }), at: at)
        case .mapping(let map):
            var entries: [YAMLEntry] = []
            for (k, v) in map {
                guard case .scalar(let keyScalar) = k else {
                    throw Diagnostic("mapping keys must be plain names; found a \(k.mapping != nil ? "mapping" : "list") as a key",
                                     at: location(k.mark, file))
                }
                entries.append(YAMLEntry(key: keyScalar.string, keyLocation: location(k.mark, file),
                                         value: try convert(v, file: file)))
            }
            return YAMLNode(.mapping(entries), at: at)
        case .alias:
            throw Diagnostic("YAML aliases (*name) are not supported in workflow files; write the value out", at: at)
        }
    }

    private static func diagnostic(for error: YamlError, text: String, file: String) -> Diagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let while_ = context.map { " (\($0.text) started at line \($0.mark.line))" } ?? ""
            return Diagnostic("malformed YAML: \(problem)\(while_)", at: location(mark, file))
        case .reader(let problem, _, _, _):
            return Diagnostic("malformed YAML: \(problem)", at: SourceLocation(file: file, line: 1, column: 1))
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams reports the mapping, not the repeated key: find the second occurrence.
            let name = duplicates.sorted().first ?? "?"
            let places = keyOccurrences(of: name, in: text)
            let at = places.count > 1 ? SourceLocation(file: file, line: places[1].line, column: places[1].column)
                                      : location(context.mark, file)
            let first = places.first.map { " (first defined at line \($0.line))" } ?? ""
            return Diagnostic("duplicate key '\(name)'\(first); names in a mapping must be unique", at: at)
        default:
            return Diagnostic("malformed YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }

    /// Lines where `name:` starts a block-mapping key or appears as a flow key (`{name: …`).
    static func keyOccurrences(of name: String, in text: String) -> [(line: Int, column: Int)] {
        var found: [(Int, Int)] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let chars = Array(line)
            let needle = Array(name)
            var j = 0
            while j + needle.count <= chars.count {
                if Array(chars[j..<j + needle.count]) == needle {
                    let before = j == 0 ? " " : chars[j - 1]
                    var k = j + needle.count
                    while k < chars.count, chars[k] == " " { k += 1 }
                    if (before == " " || before == "{" || before == ",") && k < chars.count && chars[k] == ":" {
                        found.append((i + 1, j + 1))
                    }
                }
                j += 1
            }
        }
        return found
    }
}
