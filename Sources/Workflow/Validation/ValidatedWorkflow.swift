import Foundation

/// A stage that passed validation: its type, typed parameters and upstream stages.
public struct ValidatedStage: Sendable {
    public var name: String
    public var location: SourceLocation
    public var declaration: StageDeclaration
    public var implementation: any StageType
    public var parameters: Parameters
    /// Upstream stage names, in the order written under `needs`.
    public var needs: [String]
    /// Parameters of type `inputPath` by dotted name, resolved to absolute paths.
    public var inputPaths: [String: String]
}

/// A workflow that passed every validation rule, with its stages in a dependency order.
public struct ValidatedWorkflow: Sendable {
    public var spec: WorkflowSpec
    /// Stages in a topological order (ties broken by file order), so dependencies come first.
    public var stages: [ValidatedStage]
    /// The stages asked for by `selecting` (empty: the whole workflow). Run records carry
    /// it, so `funad cache gc` knows a record covers only part of the workflow.
    public var targets: [String] = []

    public func stage(named name: String) -> ValidatedStage? { stages.first { $0.name == name } }

    /// The named target stages and everything upstream of them, in the same order: what
    /// `funad run WORKFLOW STAGE…` runs (as `snakemake TARGET` or `dvc repro STAGE` do), so
    /// one cell of a sweep can be run, or re-run with another seed, without the rest.
    /// No targets: the whole workflow. Unknown names are reported together, with the
    /// nearest stage name as a hint.
    public func selecting(_ targets: [String]) throws -> ValidatedWorkflow {
        guard !targets.isEmpty else { return self }
        let names = stages.map(\.name)
        let unknown = targets.filter { !names.contains($0) }
        if !unknown.isEmpty {
            throw DiagnosticList(unknown.map {
                Diagnostic("target '\($0)': no stage of that name in \(spec.name)\(NameSuggestion.hint(for: $0, among: names))")
            })
        }
        let byName = Dictionary(stages.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var keep = Set<String>(), pending = targets
        while let name = pending.popLast() {
            guard keep.insert(name).inserted else { continue }
            pending += byName[name]?.needs ?? []
        }
        var selected = self
        selected.stages = stages.filter { keep.contains($0.name) }
        selected.targets = targets
        return selected
    }
}

/// Checks a `WorkflowSpec` against the registered stage types. Each rule is its own
/// function; all findings are collected and reported together, in file order.
public struct WorkflowValidator: Sendable {
    public var registry: StageRegistry

    public init(registry: StageRegistry) { self.registry = registry }

    public func validate(_ spec: WorkflowSpec) throws -> ValidatedWorkflow {
        var diagnostics: [Diagnostic] = []
        let names = spec.stages.map(\.name)
        var typed: [String: (any StageType)] = [:]
        var parameters: [String: (Parameters, [String: String])] = [:]

        for stage in spec.stages {
            diagnostics += StageTypeRule.check(stage, registry: registry)
            diagnostics += NeedsRule.check(stage, stageNames: names)
            if let type = stage.type, let impl = registry[type] {
                typed[stage.name] = impl
                let checker = ParameterChecker(stage: stage.name, baseDirectory: spec.baseDirectory)
                let (params, inputs, problems) = checker.check(stage.with, against: impl.declaration.parameters,
                                                               fallback: stage.typeLocation)
                diagnostics += problems
                parameters[stage.name] = (params, inputs)
            }
        }
        let cycle = CycleRule.findCycle(spec.stages)
        if let cycle { diagnostics.append(cycle) }
        diagnostics += TypeFlowRule.check(spec.stages, types: typed.mapValues(\.declaration))

        if !diagnostics.isEmpty {
            throw DiagnosticList(diagnostics.sorted { ($0.location?.line ?? 0, $0.location?.column ?? 0) < ($1.location?.line ?? 0, $1.location?.column ?? 0) })
        }
        let order = DependencyGraph(spec.stages.map { ($0.name, $0.needs.map(\.name)) }).topologicalOrder()!
        let byName = Dictionary(uniqueKeysWithValues: spec.stages.map { ($0.name, $0) })
        let stages = order.map { name -> ValidatedStage in
            let s = byName[name]!
            let impl = typed[name]!
            let (params, inputs) = parameters[name]!
            return ValidatedStage(name: name, location: s.location, declaration: impl.declaration, implementation: impl,
                                  parameters: params, needs: s.needs.map(\.name), inputPaths: inputs)
        }
        return ValidatedWorkflow(spec: spec, stages: stages)
    }
}

/// Rule: every stage names a registered type.
enum StageTypeRule {
    static func check(_ stage: StageSpec, registry: StageRegistry) -> [Diagnostic] {
        guard let type = stage.type else { return [] }
        if registry[type] != nil { return [] }
        let why = registry.unavailable[type].map { " (its plugin did not load: \($0))" } ?? NameSuggestion.hint(for: type, among: registry.sortedNames)
        return [Diagnostic("unknown stage type '\(type)'\(why); known types: \(registry.sortedNames.joined(separator: ", "))",
                           at: stage.typeLocation, stage: stage.name, field: "type")]
    }
}

/// Rule: every `needs` entry names a stage of this workflow, and not the stage itself.
enum NeedsRule {
    static func check(_ stage: StageSpec, stageNames: [String]) -> [Diagnostic] {
        var out: [Diagnostic] = []
        var seen: Set<String> = []
        for need in stage.needs {
            if need.name == stage.name {
                out.append(Diagnostic("a stage cannot need itself", at: need.location, stage: stage.name, field: "needs"))
            } else if !stageNames.contains(need.name) {
                out.append(Diagnostic("needs '\(need.name)', which is not a stage of this workflow\(NameSuggestion.hint(for: need.name, among: stageNames))",
                                      at: need.location, stage: stage.name, field: "needs"))
            } else if !seen.insert(need.name).inserted {
                out.append(Diagnostic("'\(need.name)' is listed twice under needs", at: need.location, stage: stage.name, field: "needs"))
            }
        }
        return out
    }
}

/// Rule: the `needs` relation has no cycle. Reports one cycle with its full path.
enum CycleRule {
    static func findCycle(_ stages: [StageSpec]) -> Diagnostic? {
        let names = Set(stages.map(\.name))
        let graph = DependencyGraph(stages.map { s in (s.name, s.needs.map(\.name).filter { names.contains($0) && $0 != s.name }) })
        guard let cycle = graph.findCycle() else { return nil }
        let first = stages.first { $0.name == cycle[0] }!
        let path = (cycle + [cycle[0]]).joined(separator: " -> ")
        let loc = first.needs.first { $0.name == cycle[1 % cycle.count] }?.location ?? first.location
        return Diagnostic("dependency cycle: \(path)", at: loc, stage: first.name, field: "needs")
    }
}

/// Rule: what a stage consumes is produced by a stage it needs (directly).
enum TypeFlowRule {
    static func check(_ stages: [StageSpec], types: [String: StageDeclaration]) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for stage in stages {
            guard let decl = types[stage.name] else { continue }
            let upstream = stage.needs.compactMap { n in types[n.name].map { (n.name, $0) } }
            // Only judge when every need is a known type; unknown ones are reported elsewhere.
            guard upstream.count == stage.needs.count else { continue }
            for consumed in decl.consumes where !upstream.contains(where: { $0.1.produces.contains(consumed) }) {
                let offered = upstream.map { "\($0.0) produces \($0.1.produces.joined(separator: ", "))" }
                let detail = offered.isEmpty ? "it needs no stage" : offered.joined(separator: "; ")
                let producers = Set(types.filter { $0.key != stage.name && $0.value.produces.contains(consumed) }.map(\.key)).sorted()
                let hint = producers.isEmpty ? "" : "; add one of [\(producers.joined(separator: ", "))] to its needs"
                out.append(Diagnostic("type mismatch: a '\(decl.type)' stage consumes '\(consumed)', but no stage it needs produces it (\(detail))\(hint)",
                                      at: stage.needs.first?.location ?? stage.typeLocation, stage: stage.name, field: "needs"))
            }
        }
        return out
    }
}
