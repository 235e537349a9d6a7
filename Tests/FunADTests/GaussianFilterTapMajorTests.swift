import Foundation
import Testing
@testable import FunAD

/// `GaussianFilter.apply` sums each pixel's taps tap-major (vectorised along the row).
/// The naive reference below is the per-pixel running sum it replaced; both add the same
/// products in the same order from 0.0, so the planes must agree bit for bit (the maps of
/// `infer` and `predict`, and the SciPy fixtures of GaussianFilterTests, stay unchanged).
@Suite struct GaussianFilterTapMajorTests {
    /// Axis 0 then axis 1, one running Double sum per output pixel, SciPy's reflect.
    static func reference(_ input: [Float], height: Int, width: Int, filter: GaussianFilter) -> [Float] {
        let r = filter.radius
        var mid = [Float](repeating: 0, count: input.count)
        for y in 0..<height {
            for x in 0..<width {
                var acc = 0.0
                for k in 0...(2 * r) { acc += filter.weights[k] * Double(input[GaussianFilter.reflect(y + k - r, height) * width + x]) }
                mid[y * width + x] = Float(acc)
            }
        }
        var out = mid
        for y in 0..<height {
            for x in 0..<width {
                var acc = 0.0
                for k in 0...(2 * r) { acc += filter.weights[k] * Double(mid[y * width + GaussianFilter.reflect(x + k - r, width)]) }
                out[y * width + x] = Float(acc)
            }
        }
        return out
    }

    @Test func tapMajorEqualsThePerPixelSumBitForBit() {
        var rng = SplitMix64(seed: 3)
        // Map-sized, odd sizes, and planes narrower than the kernel (reflect repeats).
        for (h, w, sigma) in [(224, 224, 4.0), (17, 31, 1.5), (5, 3, 4.0), (1, 40, 2.0), (40, 1, 0.7)] {
            let plane = (0..<(h * w)).map { _ in Float(rng.nextUnit() * 2 - 1) }
            let filter = GaussianFilter(sigma: sigma)
            var fast = plane
            fast.withUnsafeMutableBufferPointer { filter.apply($0.baseAddress!, height: h, width: w) }
            let expected = Self.reference(plane, height: h, width: w, filter: filter)
            #expect(fast.map(\.bitPattern) == expected.map(\.bitPattern), "\(h)×\(w) σ=\(sigma)")
        }
    }

    /// An independent value: a constant plane stays constant (weights sum to 1, reflect
    /// keeps every tap inside the plane), up to the rounding of the weights' sum.
    @Test func aConstantPlaneStaysConstant() {
        var plane = [Float](repeating: 0.75, count: 12 * 9)
        plane.withUnsafeMutableBufferPointer { GaussianFilter(sigma: 4).apply($0.baseAddress!, height: 12, width: 9) }
        for v in plane { #expect(abs(v - 0.75) < 1e-6) }
    }
}
