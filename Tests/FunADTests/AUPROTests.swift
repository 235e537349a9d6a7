import Foundation
import Testing
@testable import FunAD

/// AUPRO against the fixture script's brute-force reference: exact PRO curve (one
/// threshold per distinct score, regions = scipy.ndimage.label with 8-connectivity),
/// MVTec AD's trapezoid with interpolation at the limit. Tolerance 1e-9.
@Suite struct AUPROTests {
    func ranked(masks: [Float], maps: [Float], count: Int, h: Int, w: Int) -> RankedScores {
        let samples = (0..<count).map { i in
            EvaluationSample(name: "img\(i)", defectType: "d", isAnomalous: true,
                             mask: ImagePlanes(width: w, height: h, channels: 1, data: Array(masks[(i * h * w)..<((i + 1) * h * w)])))
        }
        let src = InMemoryMaps(height: h, width: w, maps: (0..<count).map { Array(maps[($0 * h * w)..<(($0 + 1) * h * w)]) })
        return try! PixelGroup(indices: Array(0..<count), samples: samples, maps: src).ranked
    }

    @Test func matchesReferenceOnSmoothAndTiedMaps() throws {
        let a = try EvalFixtures.arrays()
        let cases = try EvalFixtures.json("aupro.json")["cases"] as! [String: Any]
        for name in ["smooth", "ties"] {
            let c = cases[name] as! [String: Any]
            let shape = a["\(name).masks"]!.shape
            let r = ranked(masks: a["\(name).masks"]!.values, maps: a["\(name).maps"]!.values,
                           count: shape[0], h: shape[1], w: shape[2])
            #expect(r.regionCount == EvalFixtures.ints([c["regions"]!])[0])
            for limit in ["0.3", "0.05", "1.0"] {
                let v = try #require(BinaryMetrics.aupro(r, fprLimit: Double(limit)!).value)
                let expected = EvalFixtures.double(c["aupro_\(limit)"])
                print("AUPRO \(name) @\(limit): \(v) reference \(expected)")
                #expect(abs(v - expected) < 1e-9, "\(name) @ \(limit)")
            }
        }
    }

    /// Against the fixture script's port of anomalib 1.x `AUPRO.compute_pro` (thresholds=None):
    /// on tie-free maps its per-region index resampling stays within 1e-4 of the exact curve
    /// (observed 1.8e-5). On tied maps it differs (see BinaryMetrics.aupro), so not asserted.
    @Test func agreesWithAnomalibPortOnTieFreeMaps() throws {
        let a = try EvalFixtures.arrays()
        let c = (try EvalFixtures.json("aupro.json")["cases"] as! [String: Any])["smooth"] as! [String: Any]
        let shape = a["smooth.masks"]!.shape
        let r = ranked(masks: a["smooth.masks"]!.values, maps: a["smooth.maps"]!.values, count: shape[0], h: shape[1], w: shape[2])
        let v = try #require(BinaryMetrics.aupro(r, fprLimit: 0.3).value)
        let anomalib = EvalFixtures.double(c["anomalib_1x_port_aupro_0.3"])
        print("AUPRO smooth: exact \(v), anomalib 1.x port \(anomalib)")
        #expect(abs(v - anomalib) < 1e-4)
    }

    @Test func diagonalNeighboursJoinUnderEightConnectivity() {
        // 0 1 0 / 0 0 1 / 1 0 0: two regions with 8-connectivity ({(0,1),(1,2)} and {(2,0)}).
        let m: [Float] = [0, 1, 0, 0, 0, 1, 1, 0, 0]
        let cc = m.withUnsafeBufferPointer { ConnectedComponents(mask: $0, height: 3, width: 3) }
        #expect(cc.count == 2)
        #expect(cc.sizes.sorted() == [1, 2])
        #expect(cc.labels[1] == cc.labels[5] && cc.labels[1] != cc.labels[6])
    }

    /// Hand-computed: one 2-pixel region scored 0.9 and 0.5; normal pixels 0.8, 0.1, 0.1, 0.1.
    /// Thresholds: 0.9 → (fpr 0, pro 0.5); 0.8 → (0.25, 0.5); 0.5 → (0.25, 1); 0.1 → (1, 1).
    /// Area to 0.3: 0.25·0.5 (from (0,0)…(0,0.5) is vertical, 0) = 0.125, plus 0.05·1 = 0.05;
    /// normalised: 0.175 / 0.3.
    @Test func handComputedCurve() throws {
        let r = RankedScores(scores: [0.9, 0.5, 0.8, 0.1, 0.1, 0.1], labels: [true, true, false, false, false, false],
                             weights: [0.5, 0.5, 0, 0, 0, 0], regionCount: 1)
        let v = try #require(BinaryMetrics.aupro(r, fprLimit: 0.3).value)
        #expect(abs(v - 0.175 / 0.3) < 1e-12)
    }

    @Test func undefinedWithoutRegionsOrNormalPixels() {
        let noRegions = RankedScores(scores: [0.1, 0.2], labels: [false, false])
        #expect(BinaryMetrics.aupro(noRegions, fprLimit: 0.3).reason == "no anomalous regions in the ground truth: AUPRO is undefined")
        let noNormal = RankedScores(scores: [0.1], labels: [true], weights: [1], regionCount: 1)
        #expect(BinaryMetrics.aupro(noNormal, fprLimit: 0.3).value == nil)
    }
}
