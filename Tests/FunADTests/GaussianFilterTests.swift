import Foundation
import Testing
@testable import FunAD

/// Gaussian smoothing vs scipy.ndimage.gaussian_filter (defaults: truncate 4, 'reflect').
/// Tolerance 1e-4 (the requirement); observed errors are ~1e-7 (Float rounding
/// of the intermediate pass, which SciPy also stores as float32).
@Suite struct GaussianFilterTests {
    func filtered(_ plane: [Float], h: Int, w: Int, sigma: Double) -> [Float] {
        var out = plane
        out.withUnsafeMutableBufferPointer { GaussianFilter(sigma: sigma).apply($0.baseAddress!, height: h, width: w) }
        return out
    }

    @Test func matchesSciPyOnAPlaneSmallerThanTheKernel() throws {
        let a = try EvalFixtures.arrays()
        let plane = a["plane9x12"]!.values
        let e4 = EvalFixtures.maxAbsDiff(filtered(plane, h: 9, w: 12, sigma: 4), a["gauss9x12_s4"]!.values)
        let e15 = EvalFixtures.maxAbsDiff(filtered(plane, h: 9, w: 12, sigma: 1.5), a["gauss9x12_s1.5"]!.values)
        print("gaussian 9×12 max abs error vs SciPy: σ=4 \(e4), σ=1.5 \(e15)")
        #expect(e4 < 1e-4)
        #expect(e15 < 1e-4)
    }

    @Test func radiusAndWeightsFollowSciPyDefaults() {
        let g = GaussianFilter(sigma: 4)
        #expect(g.radius == 16)                      // int(4·4 + 0.5)
        #expect(abs(g.weights.reduce(0, +) - 1) < 1e-12)
        #expect(g.weights[16] > g.weights[15] && g.weights[15] == g.weights[17])
    }

    /// 'reflect' is half-sample symmetric: d c b a | a b c d | d c b a.
    @Test func reflectIndexing() {
        #expect((-4...7).map { GaussianFilter.reflect($0, 4) } == [3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0])
        // Further out the pattern repeats: d c b a | a b c d | d c b a | a b c d | …
        #expect((-12...(-5)).map { GaussianFilter.reflect($0, 4) } == [3, 2, 1, 0, 0, 1, 2, 3])
        #expect((8...12).map { GaussianFilter.reflect($0, 4) } == [0, 1, 2, 3, 3])
        #expect(GaussianFilter.reflect(5, 1) == 0)
    }
}
