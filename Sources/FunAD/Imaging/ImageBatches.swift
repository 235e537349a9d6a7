import Dispatch
import Foundation

/// Runs `body(i)` for i in 0..<count on `threads` worker lanes (DispatchQueue.
/// concurrentPerform) and returns the results in index order. Each lane handles a strided
/// subset, so results are written to distinct slots without locking.
package func parallelMap<T: Sendable>(_ count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
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
    /// Bytes one batch's images may decode to (3 per pixel, from their headers), checked
    /// before any is decoded. Each image is already under `ImageDecoder.maxPixels`; this
    /// bounds the decoding work of a whole batch, which many large images could otherwise
    /// multiply by `batchSize`. Real batches are far below it: 256 MVTec images of
    /// 1024×1024 decode to 0.8 GB, 256 VisA images of ~1.5 megapixels to ~1.2 GB.
    public static let maxBatchDecodedBytes = 1 << 31

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
    /// A batch over the decoded-size limit is still an error of the whole batch.
    public mutating func nextOutcomes() throws -> [Result<ImagePlanes, any Error>]? {
        guard position < urls.count else { return nil }
        let range = position..<min(position + batchSize, urls.count)
        position = range.upperBound
        let batch = Array(urls[range])
        let pre = preprocessor
        try checkDecodedBytes(batch, first: range.lowerBound)
        return parallelMap(batch.count, threads: threads) { i in
            Result { try pre.image(at: batch[i]) }
        }
    }

    /// Refuses the batch when its images' headers add up to more than
    /// `maxBatchDecodedBytes`. A header that cannot be read is skipped here: decoding that
    /// file reports it, in index order with the batch's other failures.
    private func checkDecodedBytes(_ batch: [URL], first: Int) throws {
        var total = 0
        for (i, url) in batch.enumerated() {
            guard let head = try? preprocessor.decoder.header(at: url) else { continue }
            total += head.width * head.height * 3
            guard total <= Self.maxBatchDecodedBytes else {
                throw PreprocessingError(message: "\(url.path): images \(first + 1)…\(first + i + 1) of the batch decode to \(total) bytes (this one \(head.width)×\(head.height)), over the limit of \(Self.maxBatchDecodedBytes) bytes per batch; lower batch_size")
            }
        }
    }
}
