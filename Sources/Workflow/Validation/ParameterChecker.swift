import Foundation

/// Rule: a stage's `with:` matches its type's parameter declarations — no unknown names
/// (with the nearest valid one suggested), values of the declared type, required ones
/// present, input paths that exist. Produces the typed, defaulted parameters.
struct ParameterChecker {
    var stage: String
    var baseDirectory: URL

    func check(_ with: YAMLNode?, against declarations: [ParameterDeclaration], fallback: SourceLocation)
        -> (Parameters, [String: String], [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        var inputs: [String: String] = [:]
        let values = checkObject(with, declarations, path: "with", fallback: fallback, diagnostics: &diagnostics, inputs: &inputs)
        return (Parameters(values), inputs, diagnostics)
    }

    private func checkObject(_ node: YAMLNode?, _ declarations: [ParameterDeclaration], path: String,
                             fallback: SourceLocation, diagnostics: inout [Diagnostic], inputs: inout [String: String]) -> [String: ParameterValue] {
        var out: [String: ParameterValue] = [:]
        let entries = node?.entries ?? []
        let names = declarations.map(\.name)
        for entry in entries where !names.contains(entry.key) {
            let expected = names.isEmpty ? "this takes no parameters" : "expected one of: \(names.joined(separator: ", "))"
            diagnostics.append(Diagnostic("unknown parameter '\(entry.key)'\(NameSuggestion.hint(for: entry.key, among: names)); \(expected)",
                                          at: entry.keyLocation, stage: stage, field: "\(path).\(entry.key)"))
        }
        for decl in declarations {
            let field = "\(path).\(decl.name)"
            if let entry = entries.first(where: { $0.key == decl.name }), !isNull(entry.value) {
                if let v = convert(entry.value, decl.type, field: field, diagnostics: &diagnostics, inputs: &inputs) {
                    out[decl.name] = v
                }
            } else if case .object(let children) = decl.type {
                // A mapping parameter that is absent still gets its children's defaults.
                let child = checkObject(entries.first(where: { $0.key == decl.name })?.value, children, path: field,
                                        fallback: node?.location ?? fallback, diagnostics: &diagnostics, inputs: &inputs)
                out[decl.name] = .object(child)
            } else if let d = decl.defaultValue {
                out[decl.name] = d
            } else if decl.required {
                diagnostics.append(Diagnostic("missing required parameter '\(decl.name)' (\(decl.type))",
                                              at: node?.location ?? fallback, stage: stage, field: field))
            }
        }
        return out
    }

    private func isNull(_ node: YAMLNode) -> Bool {
        if case .scalar(_, .null) = node.value { return true }
        return false
    }

    private func convert(_ node: YAMLNode, _ type: ParameterType, field: String,
                         diagnostics: inout [Diagnostic], inputs: inout [String: String]) -> ParameterValue? {
        func fail(_ expected: String) -> ParameterValue? {
            diagnostics.append(Diagnostic("expected \(expected), found \(node.kindDescription)", at: node.location, stage: stage, field: field))
            return nil
        }
        switch (type, node.value) {
        case (.int(let range), .scalar(let text, .int)):
            guard let v = Int(text) else { return fail(type.description) }
            if let range, !range.contains(v) { return fail(type.description) }
            return .int(v)
        case (.double(let range), .scalar(let text, let kind)) where kind == .int || kind == .float:
            guard let v = Double(text) else { return fail(type.description) }
            if let range, !range.contains(v) { return fail(type.description) }
            return .double(v)
        case (.bool, .scalar(let text, .bool)):
            return .bool(["true", "True", "TRUE", "yes", "Yes", "on", "On"].contains(text))
        case (.string, .scalar(let text, let kind)) where kind != .null:
            return .string(text)
        case (.choice(let words), .scalar(let text, let kind)) where kind != .null:
            guard words.contains(text) else {
                diagnostics.append(Diagnostic("'\(text)' is not one of \(words.joined(separator: "|"))\(NameSuggestion.hint(for: text, among: words))",
                                              at: node.location, stage: stage, field: field))
                return nil
            }
            return .string(text)
        case (.path, .scalar(let text, let kind)) where kind == .string || kind == .quoted:
            return .path(resolve(text))
        case (.inputPath, .scalar(let text, let kind)) where kind == .string || kind == .quoted:
            let resolved = resolve(text)
            guard FileManager.default.fileExists(atPath: resolved) else {
                diagnostics.append(Diagnostic("'\(text)' does not exist (looked for \(resolved)); expected a path to an existing file or folder",
                                              at: node.location, stage: stage, field: field))
                return nil
            }
            inputs[String(field.dropFirst("with.".count))] = resolved
            return .path(resolved)
        case (.list(let element), .sequence(let items)):
            var values: [ParameterValue] = []
            for (i, item) in items.enumerated() {
                guard let v = convert(item, element, field: "\(field)[\(i)]", diagnostics: &diagnostics, inputs: &inputs) else { continue }
                values.append(v)
            }
            return .list(values)
        case (.list(let element), .scalar(_, let kind)) where kind != .null:
            // A single value where a list is expected is a one-element list.
            return convert(node, element, field: field, diagnostics: &diagnostics, inputs: &inputs).map { .list([$0]) }
        case (.object(let children), .mapping):
            return .object(checkObject(node, children, path: field, fallback: node.location, diagnostics: &diagnostics, inputs: &inputs))
        case (.luaHooks(let names), .mapping(let entries)):
            return checkHooks(entries, names: names, field: field, diagnostics: &diagnostics, inputs: &inputs)
        default:
            return fail(type.description)
        }
    }

    /// `hooks:` — each entry names a known hook and a script that exists, compiles and
    /// defines the hook's function. The script file is recorded as an input (its bytes are
    /// in the cache key); the value is `{script: path, with: {...}}` for every hook.
    private func checkHooks(_ entries: [YAMLEntry], names: [String], field: String,
                            diagnostics: inout [Diagnostic], inputs: inout [String: String]) -> ParameterValue? {
        var out: [String: ParameterValue] = [:]
        for entry in entries {
            let hookField = "\(field).\(entry.key)"
            guard names.contains(entry.key) else {
                diagnostics.append(Diagnostic("unknown hook '\(entry.key)'\(NameSuggestion.hint(for: entry.key, among: names)); this stage offers: \(names.joined(separator: ", "))",
                                              at: entry.keyLocation, stage: stage, field: hookField))
                continue
            }
            var scriptNode: YAMLNode?
            var with: ParameterValue = .object([:])
            switch entry.value.value {
            case .scalar(_, let kind) where kind == .string || kind == .quoted:
                scriptNode = entry.value
            case .mapping(let fields):
                for f in fields where f.key != "script" && f.key != "with" {
                    diagnostics.append(Diagnostic("unknown key '\(f.key)'\(NameSuggestion.hint(for: f.key, among: ["script", "with"])); a hook takes 'script' and 'with'",
                                                  at: f.keyLocation, stage: stage, field: "\(hookField).\(f.key)"))
                }
                scriptNode = entry.value["script"]
                if scriptNode == nil {
                    diagnostics.append(Diagnostic("missing 'script' (the Lua file defining \(entry.key))", at: entry.value.location, stage: stage, field: hookField))
                }
                if let w = entry.value["with"] {
                    guard case .mapping = w.value else {
                        diagnostics.append(Diagnostic("expected a mapping of the script's parameters, found \(w.kindDescription)", at: w.location, stage: stage, field: "\(hookField).with"))
                        continue
                    }
                    with = Self.freeForm(w)
                }
            default:
                diagnostics.append(Diagnostic("expected a Lua script path or {script, with}, found \(entry.value.kindDescription)",
                                              at: entry.value.location, stage: stage, field: hookField))
            }
            guard let scriptNode else { continue }
            guard case .scalar(let text, let kind) = scriptNode.value, kind == .string || kind == .quoted else {
                diagnostics.append(Diagnostic("expected a Lua script path, found \(scriptNode.kindDescription)", at: scriptNode.location, stage: stage, field: "\(hookField).script"))
                continue
            }
            let resolved = resolve(text)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), !isDirectory.boolValue else {
                diagnostics.append(Diagnostic("Lua script '\(text)' does not exist (looked for \(resolved))", at: scriptNode.location, stage: stage, field: hookField))
                continue
            }
            if let problem = LuaHookCheck.problem(scriptAt: resolved, hook: entry.key, stage: stage) {
                diagnostics.append(Diagnostic(problem, at: scriptNode.location, stage: stage, field: hookField))
                continue
            }
            inputs[String(hookField.dropFirst("with.".count))] = resolved
            out[entry.key] = .object(["script": .path(resolved), "with": with])
        }
        return .object(out)
    }

    /// Any YAML value as a parameter value, typed as YAML resolved it (a script's `with:`
    /// is the script's business: the engine only carries it, into the key and to Lua).
    static func freeForm(_ node: YAMLNode) -> ParameterValue {
        switch node.value {
        case .scalar(let text, let kind):
            switch kind {
            case .int: return Int(text).map(ParameterValue.int) ?? .string(text)
            case .float: return Double(text).map(ParameterValue.double) ?? .string(text)
            case .bool: return .bool(["true", "True", "TRUE", "yes", "Yes", "on", "On"].contains(text))
            case .null: return .null
            case .string, .quoted: return .string(text)
            }
        case .sequence(let items): return .list(items.map(freeForm))
        case .mapping(let entries): return .object(Dictionary(entries.map { ($0.key, freeForm($0.value)) }, uniquingKeysWith: { _, b in b }))
        }
    }

    /// Relative paths are relative to the workflow file's folder; if nothing is there,
    /// to the current directory (so `plugins/x.lua` works from the repository root too).
    private func resolve(_ text: String) -> String {
        let expanded = text.hasPrefix("~/") ? NSString(string: text).expandingTildeInPath : text
        if expanded.hasPrefix("/") { return URL(fileURLWithPath: expanded).standardizedFileURL.path }
        let fromWorkflow = baseDirectory.appendingPathComponent(expanded).standardizedFileURL.path
        if FileManager.default.fileExists(atPath: fromWorkflow) { return fromWorkflow }
        let fromCwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(expanded).standardizedFileURL.path
        return FileManager.default.fileExists(atPath: fromCwd) ? fromCwd : fromWorkflow
    }
}
