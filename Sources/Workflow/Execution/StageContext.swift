import Foundation

/// The result of an upstream stage, as a downstream stage sees it.
public struct StageInput: Sendable {
    public var stage: String
    public var stageType: String
    /// Artifact types that stage produces.
    public var produces: [String]
    /// Folder holding its files (read-only: it lives in the cache).
    public var directory: URL
    public var key: String
    /// That stage's validated parameters (defaults filled in), e.g. the feature recipe an
    /// `extract` used, for a consumer that must reproduce it. Not part of any cache key
    /// beyond `key`, which already covers them.
    public var parameters: Parameters
}

/// Thrown by `StageContext.checkCancellation()` when the run is being stopped.
public struct StageCancelled: Error, CustomStringConvertible, Sendable {
    public var description: String { "cancelled" }
}

/// Everything a running stage may use. A stage writes only under `outputDirectory`; the
/// engine seals that folder into the cache when `run` returns and discards it if `run`
/// throws or the run is cancelled.
public final class StageContext: @unchecked Sendable {
    public let stageName: String
    public let parameters: Parameters
    public let outputDirectory: URL
    /// Where `outputDirectory` will be once the stage succeeds (its cache entry). A stage
    /// that records paths to its own files (e.g. a list of generated images) records them
    /// under this folder: `outputDirectory` is a temporary folder renamed into place.
    public let finalOutputDirectory: URL
    /// A folder that survives failures and kills of this exact stage configuration
    /// (same cache key): for checkpoints, so a re-run resumes instead of starting over.
    public let resumeDirectory: URL
    /// Upstream results in `needs` order.
    public let inputs: [StageInput]
    /// The workflow file's folder (relative paths in parameters are already resolved).
    public let workflowDirectory: URL
    public let cacheKey: String

    private let board: ProgressBoard
    private let logHandle: FileHandle?
    private let cancelled: @Sendable () -> Bool
    private let lock = NSLock()
    private var summaryFields: [String: Any] = [:]
    private let store: CacheStore
    private let declaredSideStores: [String]

    init(stageName: String, parameters: Parameters, outputDirectory: URL, finalOutputDirectory: URL, resumeDirectory: URL, inputs: [StageInput],
         workflowDirectory: URL, cacheKey: String, store: CacheStore, sideStores: [String],
         board: ProgressBoard, logFile: URL?, cancelled: @escaping @Sendable () -> Bool) {
        self.stageName = stageName
        self.parameters = parameters
        self.outputDirectory = outputDirectory
        self.finalOutputDirectory = finalOutputDirectory
        self.resumeDirectory = resumeDirectory
        self.inputs = inputs
        self.workflowDirectory = workflowDirectory
        self.cacheKey = cacheKey
        self.store = store
        self.declaredSideStores = sideStores
        self.board = board
        self.cancelled = cancelled
        if let logFile {
            FileManager.default.createFile(atPath: logFile.path, contents: nil)
            logHandle = try? FileHandle(forWritingTo: logFile)
            _ = try? logHandle?.seekToEnd()
        } else {
            logHandle = nil
        }
    }

    deinit { try? logHandle?.close() }

    /// The first upstream result that produces `type`. Validation guarantees one exists
    /// for every type the stage declares it consumes.
    public func input(_ type: String) throws -> StageInput {
        guard let i = inputs.first(where: { $0.produces.contains(type) }) else {
            throw StageFailure("no upstream stage produced '\(type)'")
        }
        return i
    }

    public func optionalInput(_ type: String) -> StageInput? { inputs.first { $0.produces.contains(type) } }

    /// Every upstream result that produces `type`, in the order the stage lists its
    /// `needs`: for stages that combine several inputs of one type (an ensemble of
    /// models, the features of real and synthetic images) rather than take the first.
    public func inputs(producing type: String) -> [StageInput] { inputs.filter { $0.produces.contains(type) } }

    /// Reports progress: `completed` of `total` `unit`s (the engine adds rate and ETA).
    public func progress(_ completed: Int, of total: Int?, unit: String = "steps", note: String? = nil) {
        board.update(stageName, completed: completed, total: total, unit: unit, note: note)
    }

    /// Appends a line to this stage's log file in the run folder.
    public func log(_ message: String) {
        let stamp = ISO8601DateFormatter().string(from: Date())
        lock.lock(); defer { lock.unlock() }
        // `write(contentsOf:)` throws where the deprecated `write(_:)` traps: a full disk
        // or a file-size limit must fail the stage's own writes, not crash the run.
        try? logHandle?.write(contentsOf: Data("\(stamp) \(message)\n".utf8))
    }

    /// Logs a line and shows it on the console too.
    public func announce(_ message: String) {
        log(message)
        board.line("[\(stageName)] \(message)")
    }

    /// Adds a field to the stage's summary (stored with its result and copied into the
    /// run record): seeds drawn, counts, what departs from the paper. JSON values only.
    public func record(_ key: String, _ value: Any) {
        lock.lock(); defer { lock.unlock() }
        summaryFields[key] = value
    }

    /// The folder of one item of a side store the stage type declares
    /// (`<cache>/<name>/<item>`, created if missing), data kept across results, e.g. one
    /// feature recipe's per-image features. The use is recorded with the result, so that
    /// `funad cache gc` keeps the item as long as it keeps a result that used it (see
    /// `SideStores.swift`). Inside, write each file under a name starting with `.` and
    /// rename it into place: gc removes such names left by interrupted writes.
    public func sideStore(_ name: String, item: String) throws -> URL {
        guard declaredSideStores.contains(name) else {
            throw StageFailure("side store '\(name)' is not declared by this stage type (declared: \(declaredSideStores.isEmpty ? "none" : declaredSideStores.joined(separator: ", ")))")
        }
        guard CacheStore.isSideStoreComponent(item) else {
            throw StageFailure("side store '\(name)': item '\(item)' is not a plain name (letters, digits, '-', '_', '.'; not starting with '.')")
        }
        let url = store.sideStoreURL(name, item: item)
        do {
            try recordSideStoreUse(name, item: item)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw StageFailure("cannot open side store folder \(url.path): \(error.localizedDescription)")
        }
        return url
    }

    /// Records a side-store use in the stage's in-progress folder (also how a merge
    /// carries over its shards' uses).
    func recordSideStoreUse(_ name: String, item: String) throws {
        lock.lock(); defer { lock.unlock() }
        try store.recordSideStoreUse(name, item: item, inProgress: outputDirectory.deletingLastPathComponent())
    }

    var summary: [String: Any] {
        lock.lock(); defer { lock.unlock() }
        return summaryFields
    }

    public var isCancelled: Bool { cancelled() || Task.isCancelled }

    /// Call between units of work; throws once the run is being stopped.
    public func checkCancellation() throws {
        if isCancelled { throw StageCancelled() }
    }
}

/// A stage's own error with a message for the user.
public struct StageFailure: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
