import Foundation
import Testing
@testable import FunAD

/// The fused resize-and-smooth of the anomaly map against the two passes it replaced
/// (bilinear resize, then SciPy-style Gaussian over the plane); the SciPy fixture itself
/// is AnomalyMapTests.pipelineMatchesTorchThenSciPy.
@Suite struct SmoothedResizeTests {
    @Test func equalsResizeThenGaussianUpToFloatRounding() {
        var rng = SplitMix64(seed: 11)
        // The paper's map, another grid, a narrow σ, a map smaller than the kernel (reflect
        // repeats), a single cell, and non-square shapes.
        for (gh, gw, mh, mw, sigma) in [(28, 28, 224, 224, 4.0), (14, 14, 224, 224, 4.0), (28, 28, 224, 224, 1.0),
                                        (5, 7, 13, 11, 4.0), (1, 1, 8, 8, 2.0), (7, 3, 40, 17, 1.5)] {
            let grid = (0..<(gh * gw)).map { _ in Float(rng.nextUnit() * 2 - 1) }
            let maker = AnomalyMapMaker(gridHeight: gh, gridWidth: gw, mapHeight: mh, mapWidth: mw, sigma: sigma)
            let fused = maker.makeMap(scores: grid)
            var passes = [Float](repeating: 0, count: mh * mw)
            grid.withUnsafeBufferPointer { g in
                passes.withUnsafeMutableBufferPointer { maker.makeMapByPasses(scores: g.baseAddress!, into: $0.baseAddress!, sigma: sigma) }
            }
            let err = zip(fused, passes).map { abs($0 - $1) }.max()!
            #expect(err < 1e-6, "\(gh)×\(gw) → \(mh)×\(mw), σ \(sigma): max abs difference \(err)")
        }
    }

    /// Independent invariants: each axis operator's rows sum to 1 (bilinear weights and
    /// Gaussian taps both do, and 'reflect' keeps every tap inside), so a constant grid
    /// gives a constant map; entries outside a row's recorded window are exactly zero.
    @Test func rowsSumToOneAndTheSkippedEntriesAreZero() {
        let op = SmoothedResize(inHeight: 28, inWidth: 20, outHeight: 224, outWidth: 160, filter: GaussianFilter(sigma: 4))
        for oy in 0..<224 {
            let row = op.rows[(oy * 28)..<((oy + 1) * 28)]
            #expect(abs(row.reduce(0, +) - 1) < 1e-12)
            for (i, v) in row.enumerated() where !op.rowSupport[oy].contains(i) { #expect(v == 0) }
            #expect(op.rowSupport[oy].count <= 8)  // ±16 output pixels reach about 5 grid rows of 8 pixels
        }
        for j in 0..<20 {
            for ox in 0..<160 where !op.columnSupport[j].contains(ox) { #expect(op.columnsTransposed[j * 160 + ox] == 0) }
        }
        let maker = AnomalyMapMaker(gridHeight: 6, gridWidth: 9, mapHeight: 48, mapWidth: 72, sigma: 4)
        for v in maker.makeMap(scores: [Float](repeating: -2.5, count: 54)) { #expect(abs(v + 2.5) < 1e-6) }
    }
}
