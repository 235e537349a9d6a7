import Dispatch
import Foundation

/// Runs `body(i)` for i in 0..<count on `threads` worker lanes (DispatchQueue.
/// concurrentPerform) and returns the results in index order. Each lane handles a strided
/// subset, so results are written to distinct slots without locking.
func parallelMap<T: Sendable>(_ count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
    if count == 0 { return [] }
    let lanes = max(1, min(threads, count))
    let box = ResultSlots<T>(count: count)
    if lanes == 1 {
        for i in 0..<count { box.set(i, body(i)) }
    } else {
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in
            var i = lane
            while i < count {
                box.set(i, body(i))
                i += lanes
            }
        }
    }
    return box.values()
}

/// Slots written by distinct indices from several threads, read after all writers finish.
/// Backed by one raw allocation made up front, so concurrent writers never touch shared
/// Swift array state (no copy-on-write check, no exclusivity conflict).
private final class ResultSlots<T>: @unchecked Sendable {
    private let base: UnsafeMutablePointer<T?>
    private let count: Int

    init(count: Int) {
        self.count = count
        base = UnsafeMutablePointer<T?>.allocate(capacity: count)
        base.initialize(repeating: nil, count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    func set(_ i: Int, _ value: T) { base[i] = value }

    func values() -> [T] { (0..<count).map { base[$0]! } }
}

/// Streams preprocessed images in batches: each batch's files are decoded and
/// preprocessed in parallel, and only one batch is held decoded at a time, so a dataset of
/// thousands of images never sits in memory as pixels.
public struct PreprocessedBatches: Sendable {
    public let urls: [URL]
    public let batchSize: Int
    public let preprocessor: Preprocessor
    public let threads: Int
    private var position = 0

    public init(urls: [URL], batchSize: Int, preprocessor: Preprocessor, threads: Int = 2) throws {
        guard batchSize > 0 else {
            throw PreprocessingError(message: "batch size must be > 0, got \(batchSize)")
        }
        self.urls = urls
        self.batchSize = batchSize
        self.preprocessor = preprocessor
        self.threads = max(1, threads)
    }

    /// Index of the first image of the next batch.
    public var nextIndex: Int { position }

    /// The next batch (up to `batchSize` images, in order), or nil at the end. If any file
    /// in the batch fails, throws the first failure (by index).
    public mutating func next() throws -> [ImagePlanes]? {
        try nextOutcomes()?.map { try $0.get() }
    }

    /// The next batch with each file's own outcome, or nil at the end: for a caller that
    /// skips a bad file (reporting its path and reason) and keeps the rest of the batch.
    public mutating func nextOutcomes() -> [Result<ImagePlanes, any Error>]? {
        guard position < urls.count else { return nil }
        let range = position..<min(position + batchSize, urls.count)
        position = range.upperBound
        let batch = Array(urls[range])
        let pre = preprocessor
        return parallelMap(batch.count, threads: threads) { i in
            Result { try pre.image(at: batch[i]) }
        }
    }
}
