import Foundation

/// Reads a workflow file into a `WorkflowSpec`: YAML parsing, the top-level shape,
/// variable substitution and `--set` parameter overrides. Every problem found is
/// reported together as a `DiagnosticList`.
public struct WorkflowLoader: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The largest workflow file read (the shipped ones are a few KB; the 91-stage sweep 14 KB).
    static let maximumFileBytes = 16 << 20

    static let topLevelKeys = ["name", "vars", "stages"]
    static let stageKeys = ["type", "needs", "with"]

    public func load(path: String, overrides: Overrides = Overrides()) throws -> WorkflowSpec {
        let url = URL(fileURLWithPath: path)
        let data: Data
        do { data = try BoundedRead.data(url, limit: Self.maximumFileBytes) } catch let big as BoundedRead.TooLarge {
            throw DiagnosticList([Diagnostic("workflow file '\(path)' is too large: \(big)")])
        } catch {
            throw DiagnosticList([Diagnostic("cannot read workflow file '\(path)': \(Self.reason(error))")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DiagnosticList([Diagnostic("workflow file '\(path)' is not UTF-8 text")])
        }
        return try load(text: text, file: path, baseDirectory: url.deletingLastPathComponent(),
                        digest: SHA256.hex(data), overrides: overrides)
    }

    public func load(text: String, file: String, baseDirectory: URL, digest: String? = nil,
                     overrides: Overrides = Overrides()) throws -> WorkflowSpec {
        var diagnostics: [Diagnostic] = []
        let root: YAMLNode
        do { root = try YAMLReader.parse(text, file: file) } catch let d as Diagnostic {
            throw DiagnosticList([d])
        }
        guard let top = root.entries else {
            throw DiagnosticList([Diagnostic("expected a mapping with 'stages' at the top of the workflow, found \(root.kindDescription)", at: root.location)])
        }
        for entry in top where !Self.topLevelKeys.contains(entry.key) {
            diagnostics.append(Diagnostic("unknown top-level key '\(entry.key)'\(NameSuggestion.hint(for: entry.key, among: Self.topLevelKeys)); expected name, vars or stages",
                                          at: entry.keyLocation))
        }

        // Variables: --set beats the environment, which beats the file's defaults.
        var defaults: [String: String] = [:]
        var varLocations: [String: SourceLocation] = [:]
        if let vars = root["vars"] {
            if let entries = vars.entries {
                for e in entries {
                    varLocations[e.key] = e.value.location
                    if case .scalar(let v, _) = e.value.value { defaults[e.key] = v } else {
                        diagnostics.append(Diagnostic("variable '\(e.key)' must be a single value, found \(e.value.kindDescription)", at: e.value.location, field: "vars.\(e.key)"))
                    }
                }
            } else {
                diagnostics.append(Diagnostic("'vars' must be a mapping of NAME: value, found \(vars.kindDescription)", at: vars.location, field: "vars"))
            }
        }
        let env = environment
        let cli = overrides.variables
        let fileVariables = Self.expandFileVariables(defaults, locations: varLocations, commandLine: cli,
                                                     environment: env, diagnostics: &diagnostics)
        var resolved = fileVariables.values
        for (k, _) in defaults { if let e = environment[k] { resolved[k] = e } }
        for (k, v) in overrides.variables { resolved[k] = v }
        // Every name a `vars:` value or a stage looks up, for the unread `--set` check below.
        var referenced = Self.references(inVariableTexts: defaults.values)
        let substitution = VariableSubstitution { name in
            referenced.insert(name)
            if let v = cli[name] ?? env[name] ?? fileVariables.values[name] { return v }
            if fileVariables.failed.contains(name) {
                throw Diagnostic("variable '\(name)' cannot be expanded; see the error under vars")
            }
            return nil
        }

        var name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        if let n = root["name"] {
            if case .scalar(let v, let kind) = n.value, kind != .null { name = (try? substitution.expand(v, at: n.location)) ?? v } else {
                diagnostics.append(Diagnostic("'name' must be a string, found \(n.kindDescription)", at: n.location, field: "name"))
            }
        }

        var stages: [StageSpec] = []
        if let stagesNode = root["stages"] {
            if let entries = stagesNode.entries {
                if entries.isEmpty { diagnostics.append(Diagnostic("'stages' is empty; a workflow needs at least one stage", at: stagesNode.location)) }
                for entry in entries {
                    do {
                        stages.append(try stageSpec(entry, substitution: substitution, diagnostics: &diagnostics))
                    } catch var d as Diagnostic {
                        d.stage = d.stage ?? entry.key
                        diagnostics.append(d)
                    }
                }
            } else {
                diagnostics.append(Diagnostic("'stages' must be a mapping from stage name to stage, found \(stagesNode.kindDescription)", at: stagesNode.location, field: "stages"))
            }
        } else {
            diagnostics.append(Diagnostic("the workflow has no 'stages' mapping", at: root.location))
        }

        // A --set NAME=value that no part of the file reads would change nothing: most likely
        // a misspelt name, or a variable of another workflow (the user expects an effect).
        let known = Set(defaults.keys).union(referenced)
        for name in cli.keys.sorted() where !known.contains(name) {
            let list = known.isEmpty ? "it reads none" : "its variables: " + known.sorted().joined(separator: ", ")
            diagnostics.append(Diagnostic("--set \(name)=\(cli[name]!): the workflow reads no variable '\(name)'\(NameSuggestion.hint(for: name, among: known.sorted())); \(list) (a stage parameter is set as stage.param=value)"))
        }

        for o in overrides.parameters {
            guard let index = stages.firstIndex(where: { $0.name == o.stage }) else {
                diagnostics.append(Diagnostic("--set \(([o.stage] + o.path).joined(separator: "."))=\(o.value): no stage named '\(o.stage)'\(NameSuggestion.hint(for: o.stage, among: stages.map(\.name)))"))
                continue
            }
            let at = SourceLocation(file: "<command line>", line: 1, column: 1)
            let value = YAMLNode(.scalar(o.value, PlainScalar.kind(of: o.value)), at: at)
            stages[index].with = Self.setting(o.path, to: value, in: stages[index].with ?? YAMLNode(.mapping([]), at: at))
        }

        if !diagnostics.isEmpty { throw DiagnosticList(diagnostics) }
        return WorkflowSpec(name: name, file: file, baseDirectory: baseDirectory.standardizedFileURL,
                            variables: resolved, stages: stages,
                            fileDigest: digest ?? SHA256.hex(Data(text.utf8)))
    }

    /// The names `${…}` references in `texts` (the file's `vars:` values, which may be
    /// expanded or not depending on what the command line sets), read with the same parser
    /// as the substitution; a text that does not parse contributes what precedes the error.
    static func references<S: Sequence>(inVariableTexts texts: S) -> Set<String> where S.Element == String {
        var names: Set<String> = []
        let recorder = VariableSubstitution { name in names.insert(name); return "" }
        for text in texts { _ = try? recorder.expand(text, at: SourceLocation(file: "<vars>", line: 1, column: 1)) }
        return names
    }

    /// Deepest chain of file variables that refer to file variables (`A: ${B}`, `B: ${C}`…);
    /// a deeper chain is refused rather than recursed into.
    static let maxVariableDepth = 32

    /// The file's `vars:` with references to other variables expanded (`WEIGHTS:
    /// "${ROOT}/lite0.safetensors"`), each once. Values from the command line and the
    /// environment are taken as they are (the shell has expanded them). A cycle, a chain
    /// deeper than `maxVariableDepth` or an over-long value is one diagnostic at the
    /// variable, and the variable is listed as failed.
    static func expandFileVariables(_ raw: [String: String], locations: [String: SourceLocation],
                                    commandLine: [String: String], environment: [String: String],
                                    diagnostics: inout [Diagnostic]) -> (values: [String: String], failed: Set<String>) {
        var done: [String: String] = [:]
        var inCycle: Set<String> = []
        func value(of name: String, chain: [String]) throws -> String? {
            if let v = commandLine[name] ?? environment[name] { return v }
            guard let text = raw[name] else { return nil }
            if let v = done[name] { return v }
            let at = locations[name] ?? SourceLocation(file: "<vars>", line: 1, column: 1)
            if let start = chain.firstIndex(of: name) {
                inCycle.formUnion(chain[start...])
                let cycle = (chain[start...] + [name]).joined(separator: " → ")
                throw Diagnostic("variables refer to each other in a cycle: \(cycle); a variable cannot depend on itself", at: at, field: "vars.\(name)")
            }
            guard chain.count < maxVariableDepth else {
                throw Diagnostic("variables refer to variables more than \(maxVariableDepth) levels deep (\(chain.prefix(3).joined(separator: " → ")) → …)", at: at, field: "vars.\(name)")
            }
            let inner = VariableSubstitution { try value(of: $0, chain: chain + [name]) }
            let expanded: String
            do { expanded = try inner.expand(text, at: at) } catch var d as Diagnostic {
                d.field = d.field ?? "vars.\(name)"
                throw d
            }
            done[name] = expanded
            return expanded
        }
        var failed: Set<String> = []
        for name in raw.keys.sorted() where commandLine[name] == nil && environment[name] == nil {
            if inCycle.contains(name) { failed.insert(name); continue }  // its cycle is reported once
            do { _ = try value(of: name, chain: []) } catch let d as Diagnostic {
                failed.insert(name)
                if !diagnostics.contains(d) { diagnostics.append(d) }
            } catch {
                failed.insert(name)
            }
        }
        return (done, failed)
    }

    private func stageSpec(_ entry: YAMLEntry, substitution: VariableSubstitution, diagnostics: inout [Diagnostic]) throws -> StageSpec {
        let stageName = entry.key
        guard VariableSubstitution.isValidName(Substring(stageName.replacingOccurrences(of: "-", with: "_"))) else {
            throw Diagnostic("stage name '\(stageName)' must start with a letter and use letters, digits, '_' or '-'", at: entry.keyLocation, stage: stageName)
        }
        guard let fields = entry.value.entries else {
            throw Diagnostic("expected a mapping with 'type', 'needs' and 'with', found \(entry.value.kindDescription)", at: entry.value.location, stage: stageName)
        }
        for f in fields where !Self.stageKeys.contains(f.key) {
            diagnostics.append(Diagnostic("unknown key '\(f.key)'\(NameSuggestion.hint(for: f.key, among: Self.stageKeys)); a stage has type, needs and with",
                                          at: f.keyLocation, stage: stageName, field: f.key))
        }
        var spec = StageSpec(name: stageName, location: entry.keyLocation, type: nil, typeLocation: entry.keyLocation, needs: [], with: nil)
        if let typeNode = entry.value["type"] {
            if case .scalar(let t, let kind) = typeNode.value, kind != .null {
                spec.type = try substitution.expand(t, at: typeNode.location)
            } else {
                diagnostics.append(Diagnostic("'type' must be a stage type name, found \(typeNode.kindDescription)", at: typeNode.location, stage: stageName, field: "type"))
            }
            spec.typeLocation = typeNode.location
        } else {
            diagnostics.append(Diagnostic("missing 'type'", at: entry.keyLocation, stage: stageName, field: "type"))
        }
        if let needsNode = entry.value["needs"] {
            let items: [YAMLNode]
            switch needsNode.value {
            case .sequence(let list): items = list
            case .scalar(_, let kind) where kind != .null: items = [needsNode]
            default:
                items = []
                diagnostics.append(Diagnostic("'needs' must be a list of stage names, found \(needsNode.kindDescription)", at: needsNode.location, stage: stageName, field: "needs"))
            }
            for item in items {
                if case .scalar(let n, _) = item.value {
                    spec.needs.append(.init(name: try substitution.expand(n, at: item.location), location: item.location))
                } else {
                    diagnostics.append(Diagnostic("'needs' entries must be stage names, found \(item.kindDescription)", at: item.location, stage: stageName, field: "needs"))
                }
            }
        }
        if let withNode = entry.value["with"] {
            switch withNode.value {
            case .mapping: spec.with = try substitution.expand(withNode)
            case .scalar(_, .null): spec.with = nil
            default:
                diagnostics.append(Diagnostic("'with' must be a mapping of parameters, found \(withNode.kindDescription)", at: withNode.location, stage: stageName, field: "with"))
            }
        }
        return spec
    }

    /// Returns `node` (a mapping) with the value at `path` replaced or added.
    static func setting(_ path: [String], to value: YAMLNode, in node: YAMLNode) -> YAMLNode {
        guard let key = path.first else { return value }
        var entries = node.entries ?? []
        if let i = entries.firstIndex(where: { $0.key == key }) {
            entries[i].value = setting(Array(path.dropFirst()), to: value, in: entries[i].value)
        } else {
            let child = path.count == 1 ? value : setting(Array(path.dropFirst()), to: value, in: YAMLNode(.mapping([]), at: value.location))
            entries.append(YAMLEntry(key: key, keyLocation: value.location, value: child))
        }
        return YAMLNode(.mapping(entries), at: node.location)
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain && ns.code == NSFileReadNoSuchFileError { return "no such file" }
        return ns.localizedDescription
    }
}
