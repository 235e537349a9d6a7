import Foundation
import FunAD

/// Throughput of one ViT configuration at `side` px on seeded random weights and inputs.
/// Not a test: the lead wires it to `funad bench vit`; `bench/vit_reference.py` times the
/// same model in PyTorch for the side-by-side ratio.
public struct ViTBenchResult: Sendable {
    public var config: String
    public var threading: ViTThreading
    public var images: Int
    public var seconds: Double
    /// Process CPU time (all threads) of the timed run. On a shared machine, wall time
    /// suffers from other processes; images per CPU-second does much less.
    public var cpuSeconds: Double
    public var imagesPerSecond: Double { Double(images) / seconds }
    public var imagesPerCPUSecond: Double { Double(images) / cpuSeconds }
    /// Useful work rate (ViTConfig.flops per image × images/s), for comparison with sgemm peak.
    public var gflopsPerSecond: Double
}

/// Times `images` images (after a warm-up forward of `threads` images) of `config` at
/// `side` px using `threads` cores, arranged by `threading` (default: one image per core
/// with single-threaded BLAS, the faster arrangement measured here).
public func benchmarkViT(config: ViTConfig, images: Int, threads: Int = 2, side: Int = 224,
                         threading: ViTThreading? = nil, seed: UInt64 = 42) throws
    -> (imagesPerSecond: Double, gflopsPerSecond: Double, result: ViTBenchResult)
{
    let threading = threading ?? .batchParallel(cores: threads)
    let vit = ViT(weights: ViTWeights(config: config, seed: seed), threading: threading)
    var rng = seed &+ 1
    let input: [Float] = (0..<images * 3 * side * side).map { _ in
        rng = rng &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: rng) >> 40) * 0x1p-23   // ≈ U(-1, 1)
    }
    let warm = min(images, max(1, threads))
    _ = try vit.forward(Array(input[0..<warm * 3 * side * side]), batch: warm, side: side)
    let cpuStart = processCPUSeconds()
    let start = DispatchTime.now().uptimeNanoseconds
    _ = try vit.forward(input, batch: images, side: side)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let cpuSeconds = processCPUSeconds() - cpuStart
    let gflops = config.flops(forInput: side) * Double(images) / seconds / 1e9
    let result = ViTBenchResult(config: config.name, threading: threading, images: images, seconds: seconds, cpuSeconds: cpuSeconds,
                                gflopsPerSecond: gflops)
    return (result.imagesPerSecond, gflops, result)
}

/// The threading arrangements side by side (ViTThreading's choice is made from these):
/// one image per core with single-threaded BLAS, and one image or a two-image chunk at a
/// time with BLAS on all cores.
public func benchmarkViTThreading(config: ViTConfig, images: Int, cores: Int = 2) throws -> [ViTBenchResult] {
    let modes: [ViTThreading] = [.batchParallel(cores: cores), .blasParallel(cores: cores, imagesPerChunk: 1),
                                 .blasParallel(cores: cores, imagesPerChunk: 2)]
    return try modes.map { try benchmarkViT(config: config, images: images, threads: cores, threading: $0).result }
}

/// Full-size parity against PyTorch: reads `<name>.weights.safetensors` and
/// `<name>.io.safetensors` written by `scripts/fixtures/vit.py --full DIR` (ViT-B/8 and
/// ViT-S/16 with seeded random weights, 2 images at 224) and returns, per model, the
/// largest absolute difference of the class and patch tokens and the output scale
/// (max |value|). The bound is error ≤ 1e-3 · scale.
public func checkViTParity(directory: URL, threading: ViTThreading = .batchParallel())
    throws -> [(name: String, maxAbsError: Float, scale: Float)]
{
    var report: [(name: String, maxAbsError: Float, scale: Float)] = []
    for config in [ViTConfig.vitB8, .vitS16] {
        let weightsURL = directory.appendingPathComponent("\(config.name).weights.safetensors")
        let ioURL = directory.appendingPathComponent("\(config.name).io.safetensors")
        let vit = try ViT(weights: ViTWeights(config: config, tensors: SafeTensors.read(weightsURL), source: weightsURL.path),
                          threading: threading)
        let io = try SafeTensors.read(ioURL)
        guard let input = io["input"], input.shape.count == 4, let cls = io["cls"], let patches = io["patches"] else {
            throw WeightsError("\(ioURL.path): expected tensors 'input' (batch × 3 × side × side), 'cls' and 'patches'")
        }
        let out = try vit.forward(input.values, batch: input.shape[0], side: input.shape[3])
        var err: Float = 0, scale: Float = 0
        for (a, b) in zip(out.global, cls.values) { err = max(err, abs(a - b)); scale = max(scale, abs(b)) }
        for (a, b) in zip(out.local, patches.values) { err = max(err, abs(a - b)); scale = max(scale, abs(b)) }
        guard out.global.count == cls.count, out.local.count == patches.count else {
            throw WeightsError("\(ioURL.path): reference outputs have \(cls.count)+\(patches.count) values, Swift gave \(out.global.count)+\(out.local.count)")
        }
        report.append((config.name, err, scale))
    }
    return report
}

/// CPU time consumed so far by all threads of this process.
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
