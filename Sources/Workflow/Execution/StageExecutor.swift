import Foundation

/// Which part of a stage's work one execution does.
public enum StageWork: Sendable, Equatable, CustomStringConvertible {
    /// The whole stage, stored under its key.
    case whole
    /// One shard of a `ShardableStage`, stored under its shard key.
    case shard(Shard)
    /// The whole result assembled from `count` stored shards, stored under the stage's key.
    case merge(count: Int)

    public var description: String {
        switch self {
        case .whole: return "whole stage"
        case .shard(let s): return "shard \(s)"
        case .merge(let n): return "merge of \(n) shards"
        }
    }
}

/// How one stage execution ended.
enum StageExecution: Sendable {
    case cached(CacheEntryInfo, seconds: Double)
    case ran(CacheEntryInfo, seconds: Double, reasons: [String], summary: Data?)
    case failed(String, seconds: Double, reasons: [String])
    case cancelled(seconds: Double)
}

/// Runs one stage (or one shard of it, or the merge of its shards) against the cache:
/// takes the stored result if there is a sound one, else computes into a temporary
/// folder and publishes it atomically. Shared by `funad run` (`WorkflowRunner`) and
/// single-stage jobs (`StageJob`), so both key, lock, verify and store results alike.
///
/// While computing it holds the key's lock (`CacheStore.keyLockPath`): a second job on
/// the same key, in this process or another one sharing the cache, waits, then finds
/// the result stored and uses it. Jobs on different keys never wait for each other.
struct StageExecutor {
    var store: CacheStore
    var board: ProgressBoard
    var cancellation: CancellationFlag

    /// The cache key the result of `work` on `step` is stored under.
    static func entryKey(_ step: Plan.Step, _ work: StageWork) -> String {
        if case .shard(let s) = work { return CacheStore.shardKey(step.key, index: s.index, count: s.count) }
        return step.key
    }

    func execute(_ step: Plan.Step, work: StageWork = .whole, inputs: [StageInput], workflow: ValidatedWorkflow,
                 log: URL) async -> StageExecution {
        let name = step.stage.name
        let label = work == .whole ? name : "\(name) \(work)"
        let key = Self.entryKey(step, work)
        let clock = Date()
        var reasons: [String] = []
        let fresh: Bool
        switch step.status {
        case .cached: fresh = false
        case .willRun(let why): reasons = why; fresh = step.forced
        }
        if !fresh, let hit = cachedResult(key, label: label, log: log, clock: clock, reasons: &reasons) { return hit }
        if reasons.isEmpty { reasons = ["no stored result"] }

        if cancellation.isCancelled { return .cancelled(seconds: 0) }
        // Blocking flock off the cooperative pool, so a wait never starves other stages.
        let keyLock: FileLock
        do { keyLock = try await Self.lock(store.keyLockPath(key), board: board, label: label) } catch {
            return .failed("\(error)", seconds: 0, reasons: reasons)
        }
        defer { withExtendedLifetime(keyLock) {} }
        // Another job may have stored the key while this one waited for its lock.
        if !fresh, store.contains(key), let hit = cachedResult(key, label: label, log: log, clock: clock, reasons: &reasons) { return hit }

        let tmp: URL
        do { tmp = try store.beginEntry(key) } catch {
            return .failed("cannot create a cache folder: \(error)", seconds: 0, reasons: reasons)
        }
        let resume = store.resumeURL(key)
        let resuming = ((try? FileManager.default.contentsOfDirectory(atPath: resume.path)) ?? []).isEmpty == false
        try? FileManager.default.createDirectory(at: resume, withIntermediateDirectories: true)
        let context = StageContext(stageName: name, parameters: step.stage.parameters,
                                   outputDirectory: tmp.appendingPathComponent("out"), finalOutputDirectory: store.outputURL(key),
                                   resumeDirectory: resume,
                                   inputs: inputs, workflowDirectory: workflow.spec.baseDirectory, cacheKey: key,
                                   store: store, sideStores: step.stage.declaration.sideStores,
                                   board: board, logFile: log, cancelled: { [cancellation] in cancellation.isCancelled })
        board.line("[\(label)] running: \(reasons.joined(separator: "; "))\(resuming ? " (resuming from checkpoint)" : "")")
        context.log("stage \(name) (\(step.stage.declaration.type) v\(step.stage.declaration.version)) key \(step.key)"
                    + (work == .whole ? "" : ", \(work) stored as \(key)"))
        context.log("parameters \(step.stage.parameters.canonicalJSON)")
        board.started(label)
        defer { board.finished(label) }
        do {
            try await perform(work, step: step, context: context)
            try context.checkCancellation()
            var summary: Data?
            if !context.summary.isEmpty {
                let data = try JSONSerialization.data(withJSONObject: context.summary, options: [.prettyPrinted, .sortedKeys])
                try data.write(to: context.outputDirectory.appendingPathComponent("summary.json"))
                summary = data
            }
            var stageName = name
            if case .shard = work { stageName = "\(name) [\(work)]" }
            let info = try store.commitEntry(tmp, key: key, material: step.material, workflow: workflow.spec.name, stage: stageName)
            if key == step.key { store.recordMaterial(step.material, workflow: workflow.spec.name, stage: name) }
            let seconds = Date().timeIntervalSince(clock)
            context.log("done in \(formatDuration(seconds))")
            board.line("[\(label)] done in \(formatDuration(seconds))")
            return .ran(info, seconds: seconds, reasons: reasons, summary: summary)
        } catch {
            store.discardEntry(tmp)
            let seconds = Date().timeIntervalSince(clock)
            if error is StageCancelled || cancellation.isCancelled {
                context.log("cancelled after \(formatDuration(seconds))")
                board.line("[\(label)] cancelled")
                return .cancelled(seconds: seconds)
            }
            let message = "\(error)"
            context.log("FAILED: \(message)")
            board.line("[\(label)] FAILED after \(formatDuration(seconds)): \(message)")
            return .failed(message, seconds: seconds, reasons: reasons)
        }
    }

    /// The stage's own work for `work`.
    private func perform(_ work: StageWork, step: Plan.Step, context: StageContext) async throws {
        switch work {
        case .whole:
            try await step.stage.implementation.run(context)
        case .shard(let shard):
            guard let shardable = step.stage.implementation as? any ShardableStage else {
                throw StageFailure("a '\(step.stage.declaration.type)' stage cannot be split into shards")
            }
            try await shardable.runShard(shard, context: context)
        case .merge(let count):
            guard let shardable = step.stage.implementation as? any ShardableStage else {
                throw StageFailure("a '\(step.stage.declaration.type)' stage cannot be split into shards")
            }
            var folders: [URL] = []
            for index in 0..<count {
                let key = CacheStore.shardKey(step.key, index: index, count: count)
                guard store.contains(key) else {
                    throw StageFailure("shard \(index + 1)/\(count) of stage '\(step.stage.name)' is not in the cache; run it first (run-stage --shard \(index + 1)/\(count))")
                }
                let shardInfo = try store.verify(key)
                // The merged result stands for its shards: it uses what they used.
                for use in shardInfo.sideStores ?? [] {
                    let parts = use.split(separator: "/", maxSplits: 1).map(String.init)
                    if parts.count == 2 { try context.recordSideStoreUse(parts[0], item: parts[1]) }
                }
                folders.append(store.outputURL(key))
            }
            try await shardable.mergeShards(folders, context: context)
        }
    }

    /// The stored result of `key` if it is sound; a damaged one is quarantined and noted
    /// in `reasons` (the caller then recomputes).
    private func cachedResult(_ key: String, label: String, log: URL, clock: Date, reasons: inout [String]) -> StageExecution? {
        guard store.contains(key) else { return nil }
        do {
            let info = try store.verify(key)
            board.line("[\(label)] cached (\(key.prefix(12)))")
            try? "\(ISO8601DateFormatter().string(from: Date())) cached result \(key) used\n".write(to: log, atomically: false, encoding: .utf8)
            return .cached(info, seconds: Date().timeIntervalSince(clock))
        } catch {
            reasons = ["\(error); recomputing"]
            board.line("[\(label)] \(error); recomputing")
            return nil
        }
    }

    private static func lock(_ path: String, board: ProgressBoard, label: String) async throws -> FileLock {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    let lock = try FileLock(path: path) { holder in
                        board.line("[\(label)] another job (\(holder)) is computing the same result; waiting for it")
                    }
                    continuation.resume(returning: lock)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
