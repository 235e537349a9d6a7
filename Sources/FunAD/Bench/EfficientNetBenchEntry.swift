import Foundation

/// Front door for `funad bench efficientnet`: the same timing as `EfficientNetBench.run`,
/// but it also accepts the `.safetensors` file `funad weights import` writes (the project's
/// usual weights file), not only a PyTorch `.pth` checkpoint. The arithmetic, hence the
/// speed, does not depend on which file the values came from; the caller reports which.
public enum EfficientNetBenchEntry {
    /// `weights`: a `.safetensors` file, a PyTorch checkpoint, or nil for seeded random
    /// weights. One warm-up pass, then `iterations` timed passes over a seeded random batch.
    public static func run(weights: URL?, batch: Int = 8, iterations: Int = 10, threads: Int = 2,
                           seed: UInt64 = 1) throws -> EfficientNetBench.Result {
        guard let weights, weights.pathExtension.lowercased() == "safetensors" else {
            return try EfficientNetBench.run(variant: .lite0, checkpoint: weights, batch: batch, iterations: iterations,
                                             threads: threads, seed: seed)
        }
        let model = try EfficientNetLite(.lite0, weights: SafeTensors.read(weights), source: weights.path, workers: threads)
        let side = model.inputSize
        var rng = SplitMix64(seed: seed ^ 0xABCD)
        // batch × 3 × side × side, uniform in [-1, 1)
        let input = (0..<(batch * 3 * side * side)).map { _ in Float(rng.nextUnit()) * 2 - 1 }
        let saved = BLAS.threads
        BLAS.threads = threads
        defer { BLAS.threads = saved }
        _ = try model.forward(input, batch: batch, side: side)
        var times: [Double] = []
        for _ in 0..<max(1, iterations) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try model.forward(input, batch: batch, side: side)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.sort()
        return EfficientNetBench.Result(variant: model.name, side: side, batch: batch, threads: threads, iterations: times.count,
                                        bestSeconds: times[0], medianSeconds: times[times.count / 2], weights: "safetensors")
    }
}
