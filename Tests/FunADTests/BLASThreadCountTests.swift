import Foundation
import Testing
@testable import FunAD

/// OpenBLAS has one process-wide thread count, and with an inner dimension beyond its
/// blocking a product's rounding depends on it. These tests hold funad to: a product's
/// bits depend on the thread count its caller states (or the process default), never on
/// what another task runs beside it — a ViT forward on image workers used to set the
/// library's count to 1 for the whole process while it ran.
@Suite struct BLASThreadCountTests {
    /// Local-Net's shape: 1,432-d patch features (Lite0's 1280 + 152) times a hidden layer.
    static let m = 50, n = 64, k = 1432

    static func operands(seed: UInt64) -> (a: [Float], b: [Float]) {
        var rng = SplitMix64(seed: seed)
        let a = (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 }
        let b = (0..<(k * n)).map { _ in rng.nextFloat() - 0.5 }
        return (a, b)
    }

    static func product(_ a: [Float], _ b: [Float], threads: Int? = nil) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.gemm(pa.baseAddress!, pb.baseAddress!, pc.baseAddress!, m: m, n: n, k: k, threads: threads)
                }
            }
        }
        return c
    }

    /// The stated count is the one a call runs with: each count gives the same bits on
    /// every call (and, on this 2-core machine's OpenBLAS, 1 and 2 threads differ — the
    /// reason the count must not leak between tasks; not asserted, as a library with
    /// another blocking may agree).
    @Test func aStatedCountGivesTheSameBitsEveryTime() {
        let (a, b) = Self.operands(seed: 7)
        let one = Self.product(a, b, threads: 1), two = Self.product(a, b, threads: 2)
        for _ in 0..<3 {
            let sameOne = Self.product(a, b, threads: 1) == one, sameTwo = Self.product(a, b, threads: 2) == two
            #expect(sameOne && sameTwo)
        }
        let differing = zip(one, two).filter { $0 != $1 }.count
        print("BLAS 1 vs 2 threads, \(Self.m)×\(Self.n)×\(Self.k): \(differing) of \(one.count) outputs differ in rounding")
    }

    /// Products computed while ViT forwards run on image workers in another task carry the
    /// bits of the same products computed alone, and the ViT's features carry the bits of
    /// a forward computed alone.
    @Test func productsBesideAViTForwardKeepTheirBits() async throws {
        let weights = try ViTWeights(config: tinyConfig, tensors: vitFixture("tiny.weights.safetensors"))
        let input = try vitFixture("tiny.io.safetensors")["side64.input"]!
        let batch = input.shape[0]
        let vit = ViT(weights: weights, threading: .batchParallel())
        let aloneFeatures = try vit.forward(input.values, batch: batch, side: 64)
        let (a, b) = Self.operands(seed: 11)
        let alone = (Self.product(a, b), Self.product(a, b, threads: 2))

        let stop = StopFlag()
        // Expectations are checked here, not in the detached task (it runs outside the test's context).
        let forwards = Task.detached { () throws -> (runs: Int, changed: Int) in
            var runs = 0, changed = 0
            while !stop.isSet || runs < 4 {
                let out = try vit.forward(input.values, batch: batch, side: 64)
                if out.local != aloneFeatures.local || out.global != aloneFeatures.global { changed += 1 }
                runs += 1
            }
            return (runs, changed)
        }
        var mismatches = 0
        for _ in 0..<300 {
            if Self.product(a, b) != alone.0 { mismatches += 1 }
            if Self.product(a, b, threads: 2) != alone.1 { mismatches += 1 }
        }
        stop.set()
        let (runs, changed) = try await forwards.value
        #expect(runs >= 4)
        #expect(changed == 0, "\(changed) of \(runs) ViT forwards beside the products changed their features")
        #expect(mismatches == 0, "\(mismatches) of 600 products changed bits while \(runs) ViT forwards ran beside them")
    }
}

/// A flag one task sets and another polls.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
