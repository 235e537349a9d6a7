import Foundation

/// How a ViT forward pass spends the machine's cores. The two sound choices never
/// oversubscribe: several images at once each with single-threaded BLAS
/// (`batchParallel`), or one chunk at a time with BLAS on all cores (`blasParallel`, which
/// also splits attention heads and elementwise rows across the cores).
///
/// Measured on this 2-core machine (benchmarkViTThreading, 224 px, images per CPU-second,
/// which the shared machine's load disturbs least): ViT-B/8 0.53 batch-parallel vs
/// 0.50–0.51 blas-parallel (chunk 1 or 2); ViT-S/8 1.67 vs 1.33–1.49. Single-threaded
/// sgemm runs ~90 GFLOP/CPU-s at every ViT shape, and OpenBLAS's 2-thread split loses to
/// synchronisation what batch parallelism does not, so `batchParallel` is the default;
/// an odd image left over runs on the blas-parallel path.
public struct ViTThreading: Sendable, Equatable {
    /// Images processed concurrently, each on its own thread (each product on 1 BLAS thread).
    public var imageWorkers: Int
    /// BLAS threads when `imageWorkers` is 1, and for a leftover chunk that has no partner.
    public var blasThreads: Int
    /// Images whose tokens are stacked into each GEMM (larger M for the linear layers).
    public var imagesPerChunk: Int

    public init(imageWorkers: Int, blasThreads: Int, imagesPerChunk: Int) {
        self.imageWorkers = max(1, imageWorkers)
        self.blasThreads = max(1, blasThreads)
        self.imagesPerChunk = max(1, imagesPerChunk)
    }

    /// One image per core, BLAS single-threaded.
    public static func batchParallel(cores: Int = 2) -> ViTThreading {
        ViTThreading(imageWorkers: cores, blasThreads: cores, imagesPerChunk: 1)
    }
    /// One chunk at a time, BLAS on all cores.
    public static func blasParallel(cores: Int = 2, imagesPerChunk: Int = 1) -> ViTThreading {
        ViTThreading(imageWorkers: 1, blasThreads: cores, imagesPerChunk: imagesPerChunk)
    }
}

/// A DINO Vision Transformer backbone (METHOD.md step 2): output of the last block after
/// the final LayerNorm; global = class token, local = the patch-token grid.
///
/// `forward` already uses every core it is given (`threading`). Each of its products states
/// its OpenBLAS thread count (1 on image workers), so a forward never changes the count
/// that other tasks' products run with (`BLAS`).
public struct ViT: Backbone {
    public let weights: ViTWeights
    public var threading: ViTThreading

    public init(weights: ViTWeights, threading: ViTThreading = .batchParallel()) {
        self.weights = weights
        self.threading = threading
    }

    public var config: ViTConfig { weights.config }
    public var name: String { config.name }
    public var inputSize: Int { config.trainedInputSize }
    /// DINO was trained on ImageNet-normalised inputs (METHOD.md step 1).
    public var mean: [Float] { [0.485, 0.456, 0.406] }
    public var std: [Float] { [0.229, 0.224, 0.225] }
    public var globalDim: Int { config.dim }
    public var localDim: Int { config.dim }

    /// The patch embedding is a stride-`patchSize` convolution: a trailing partial patch is dropped.
    public func gridSize(forInput side: Int) -> (height: Int, width: Int) {
        (side / config.patchSize, side / config.patchSize)
    }

    public func forward(_ images: [Float], batch: Int, side: Int) throws -> BackboneFeatures {
        let cfg = config
        guard batch >= 0 else { throw BackboneError("\(name): batch \(batch) is negative") }
        guard side >= cfg.patchSize else {
            throw BackboneError("\(name): input side \(side) is smaller than the patch size \(cfg.patchSize)")
        }
        guard images.count == batch * 3 * side * side else {
            throw BackboneError("\(name): images hold \(images.count) values, expected batch \(batch) × 3 × \(side) × \(side) = \(batch * 3 * side * side)")
        }
        let g = side / cfg.patchSize
        let d = cfg.dim
        var global = [Float](repeating: 0, count: batch * d)
        var local = [Float](repeating: 0, count: batch * g * g * d)
        if batch == 0 {
            return BackboneFeatures(batch: 0, globalDim: d, localDim: d, gridHeight: g, gridWidth: g, global: [], local: [])
        }
        let pos = weights.storage.withUnsafeBufferPointer { w in
            ViTPositionEmbedding.resized(w.baseAddress! + weights.layout.posEmbed, trainedGrid: cfg.trainedGrid, grid: g, dim: d)
        }
        let chunk = min(threading.imagesPerChunk, batch)
        let chunkCount = (batch + chunk - 1) / chunk
        let workers = min(threading.imageWorkers, chunkCount)
        let parallelChunks = workers > 1 ? (chunkCount / workers) * workers : 0

        weights.storage.withUnsafeBufferPointer { w in
            images.withUnsafeBufferPointer { img in
                pos.withUnsafeBufferPointer { p in
                    global.withUnsafeMutableBufferPointer { gOut in
                        local.withUnsafeMutableBufferPointer { lOut in
                            let pass = ViTForwardPass(
                                config: cfg, layout: weights.layout, weights: w.baseAddress!, pos: p.baseAddress!,
                                images: img.baseAddress!, side: side, grid: g,
                                global: gOut.baseAddress!, local: lOut.baseAddress!)
                            if parallelChunks > 0 {
                                // Workers pull chunks from a shared counter, so one that is slowed
                                // (a busy machine) does not hold back the whole batch.
                                let queue = ChunkCounter(limit: parallelChunks)
                                DispatchQueue.concurrentPerform(iterations: workers) { _ in
                                    let ws = ViTWorkspace(config: cfg, grid: g, images: chunk)
                                    while let c = queue.next() { pass.run(chunk: c, of: chunk, batch: batch, workspace: ws) }
                                }
                            }
                            if parallelChunks < chunkCount {
                                let threads = threading.blasThreads
                                let ws = ViTWorkspace(config: cfg, grid: g, images: chunk, threads: threads)
                                for c in parallelChunks..<chunkCount {
                                    pass.run(chunk: c, of: chunk, batch: batch, workspace: ws, threads: threads, blasThreads: threads)
                                }
                            }
                        }
                    }
                }
            }
        }
        return BackboneFeatures(batch: batch, globalDim: d, localDim: d, gridHeight: g, gridWidth: g,
                                global: global, local: local)
    }
}

/// Hands out 0, 1, …, limit−1 once each across threads.
private final class ChunkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    private let limit: Int
    init(limit: Int) { self.limit = limit }
    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}
