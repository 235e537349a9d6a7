import Foundation

/// What a run would do, as a plain value: each stage with its cache key and whether its
/// stored result will be used or it will run, and why. `funad plan` prints it; the
/// runner executes it.
public struct Plan: Sendable {
    public enum Status: Sendable, Equatable {
        case cached
        case willRun(reasons: [String])
    }

    public struct Step: Sendable {
        public var stage: ValidatedStage
        public var key: String
        public var material: CacheKeyMaterial
        public var status: Status
        public var resumable: Bool
        /// Run even if a result is stored (`--force` on it or on a stage upstream).
        public var forced: Bool = false
    }

    public var workflow: ValidatedWorkflow
    public var steps: [Step]

    public var toRun: [Step] { steps.filter { if case .willRun = $0.status { return true }; return false } }

    /// One line per stage: "features  will run   parameter with.batch changed: 8 → 16".
    public func render() -> String {
        let width = steps.map(\.stage.name.count).max() ?? 0
        var lines = ["workflow \(workflow.spec.name) (\(workflow.spec.file)): \(steps.count) stages, \(toRun.count) to run"]
        for s in steps {
            let name = s.stage.name.padding(toLength: width, withPad: " ", startingAt: 0)
            switch s.status {
            case .cached:
                lines.append("  \(name)  cached    \(s.key.prefix(12))")
            case .willRun(let reasons):
                let resume = s.resumable ? " (resumes from its checkpoint)" : ""
                lines.append("  \(name)  will run  \(reasons.joined(separator: "; "))\(resume)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Computes cache keys in dependency order and compares them with the store.
public struct Planner {
    public var store: CacheStore
    public var digests: FileDigests

    public init(store: CacheStore, digests: FileDigests) {
        self.store = store
        self.digests = digests
    }

    public func plan(_ workflow: ValidatedWorkflow, force: Set<String> = []) throws -> Plan {
        let graph = DependencyGraph(workflow.stages.map { ($0.name, $0.needs) })
        var forced = force
        for f in force { forced.formUnion(graph.dependents(of: f)) }
        var keys: [String: String] = [:]
        var steps: [Plan.Step] = []
        for stage in workflow.stages {
            var files: [String: String] = [:]
            for (name, path) in stage.inputPaths { files[name] = try digests.digest(ofPath: path) }
            let material = CacheKeyMaterial(
                stageType: stage.declaration.type, version: stage.declaration.version,
                parameters: Self.canonicalParameters(stage.parameters, base: workflow.spec.baseDirectory),
                inputs: stage.needs.map { .init(stage: $0, key: keys[$0]!) }, files: files,
                implementationDigest: stage.declaration.implementationDigest, implementationFile: stage.declaration.definitionFile)
            let key = material.key
            keys[stage.name] = key
            let status: Plan.Status
            if force.contains(stage.name) {
                status = .willRun(reasons: ["forced with --force"])
            } else if forced.contains(stage.name) {
                status = .willRun(reasons: ["an upstream stage is forced"])
            } else if store.contains(key) {
                status = .cached
            } else if let previous = store.lastMaterial(workflow: workflow.spec.name, stage: stage.name) {
                let diff = material.differences(from: previous)
                status = .willRun(reasons: diff.isEmpty ? ["its stored result is gone"] : diff)
            } else {
                status = .willRun(reasons: ["no stored result"])
            }
            let resumable = FileManager.default.fileExists(atPath: store.resumeURL(key).path)
                && ((try? FileManager.default.contentsOfDirectory(atPath: store.resumeURL(key).path))?.isEmpty == false)
            steps.append(.init(stage: stage, key: key, material: material, status: status, resumable: resumable,
                               forced: forced.contains(stage.name)))
        }
        digests.save()
        return Plan(workflow: workflow, steps: steps)
    }

    /// Parameters as canonical JSON with paths inside the workflow's folder made relative,
    /// so moving a project folder does not invalidate its cache. Empty objects are left
    /// out: an option group whose members have no defaults and were not set resolves to
    /// `{}` and changes nothing, so adding such a group to a stage type keeps the keys of
    /// every workflow that does not use it (and their cached results).
    static func canonicalParameters(_ p: Parameters, base: URL) -> String {
        let basePath = base.standardizedFileURL.path + "/"
        func rel(_ v: ParameterValue) -> ParameterValue {
            switch v {
            case .path(let s): return .path(s.hasPrefix(basePath) ? String(s.dropFirst(basePath.count)) : s)
            case .list(let items): return .list(items.map(rel))
            case .object(let fields): return .object(fields.mapValues(rel).filter { !isEmptyObject($0.value) })
            default: return v
            }
        }
        return rel(.object(p.values)).canonicalJSON
    }

    private static func isEmptyObject(_ v: ParameterValue) -> Bool {
        if case .object(let fields) = v { return fields.isEmpty }
        return false
    }
}
