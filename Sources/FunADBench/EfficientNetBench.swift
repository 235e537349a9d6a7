import Foundation
import FunAD

/// Throughput of the EfficientNet-Lite backbone (feature extraction: stem, all blocks,
/// head, pooling, local grid), for `funad bench effnet`. The PyTorch counterpart is
/// bench/efficientnet_reference.py (same variant, side, batch and thread count).
public enum EfficientNetBench {
    public struct Result: Sendable, CustomStringConvertible {
        public var variant: String
        public var side: Int
        public var batch: Int
        public var threads: Int
        public var iterations: Int
        /// Wall-clock seconds per batch: best and median over the timed iterations.
        public var bestSeconds: Double
        public var medianSeconds: Double
        public var imagesPerSecond: Double { Double(batch) / medianSeconds }
        public var weights: String

        public var description: String {
            String(format: "%@ %dx%d batch %d, %d threads, %@ weights: %.1f images/s (median %.1f ms/batch, best %.1f ms, %d runs)",
                   variant, side, side, batch, threads, weights, imagesPerSecond, medianSeconds * 1000, bestSeconds * 1000, iterations)
        }
    }

    /// Times `iterations` forward passes of a batch after one warm-up pass. Uses the
    /// checkpoint's weights when given (a `.safetensors` file as `funad weights import`
    /// writes it, or a PyTorch `.pth`), else seeded random weights of the right shapes
    /// (the arithmetic, hence the speed, does not depend on the values). The input is a
    /// seeded random batch. `threads` sets OpenBLAS and the kernels' worker count.
    public static func run(variant: EfficientNetLite.Variant = .lite0, checkpoint: URL? = nil, side: Int? = nil,
                           batch: Int = 8, iterations: Int = 10, threads: Int = 2, seed: UInt64 = 1) throws -> Result {
        let weights: [String: WeightTensor]
        if let checkpoint {
            weights = checkpoint.pathExtension.lowercased() == "safetensors" ? try SafeTensors.read(checkpoint)
                                                                               : try PyTorchCheckpoint.read(checkpoint)
        } else {
            var rng = SplitMix64(seed: seed)
            weights = EfficientNetLite.expectedShapes(variant).mapValues { shape in
                WeightTensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in rng.nextFloat() * 0.2 + 0.1 })
            }
        }
        let model = try EfficientNetLite(variant, weights: weights, source: checkpoint?.path ?? "<random>", workers: threads)
        let s = side ?? model.inputSize
        var rng = SplitMix64(seed: seed ^ 0xABCD)
        let input = (0..<(batch * 3 * s * s)).map { _ in rng.nextFloat() * 2 - 1 }
        let saved = BLAS.threads
        BLAS.threads = threads
        defer { BLAS.threads = saved }
        _ = try model.forward(input, batch: batch, side: s)
        var times: [Double] = []
        for _ in 0..<max(1, iterations) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try model.forward(input, batch: batch, side: s)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.sort()
        return Result(variant: model.name, side: s, batch: batch, threads: threads, iterations: times.count,
                      bestSeconds: times[0], medianSeconds: times[times.count / 2],
                      weights: checkpoint.map { $0.pathExtension.lowercased() == "safetensors" ? "safetensors" : "checkpoint" } ?? "random")
    }
}
