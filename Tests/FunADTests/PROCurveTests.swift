import Foundation
import Testing
@testable import FunAD

/// The plotted PRO curve is the curve AUPRO integrates: its trapezoid area up to the FPR
/// limit, divided by the limit, equals the fixture script's brute-force reference AUPRO
/// (tolerance 1e-9, as in AUPROTests: only summation order differs).
@Suite struct PROCurveTests {
    @Test func areaUnderThePlottedCurveIsTheReferenceAUPRO() throws {
        let a = try EvalFixtures.arrays()
        let cases = try EvalFixtures.json("aupro.json")["cases"] as! [String: Any]
        for name in ["smooth", "ties"] {
            let c = cases[name] as! [String: Any]
            let shape = a["\(name).masks"]!.shape
            let r = AUPROTests().ranked(masks: a["\(name).masks"]!.values, maps: a["\(name).maps"]!.values,
                                        count: shape[0], h: shape[1], w: shape[2])
            for limit in ["0.3", "0.05", "1.0"] {
                let l = Double(limit)!
                let curve = BinaryMetrics.proCurve(r, fprLimit: l, maxPoints: .max)
                #expect(curve.first == PROPoint(fpr: 0, pro: 0, threshold: .infinity))
                #expect(abs(curve.last!.fpr - l) < 1e-12, "\(name) @ \(limit): the curve ends at the limit")
                #expect(zip(curve, curve.dropFirst()).allSatisfy { $0.fpr <= $1.fpr && $0.pro <= $1.pro }, "monotone")
                let area = zip(curve, curve.dropFirst()).reduce(0.0) { $0 + 0.5 * ($1.0.pro + $1.1.pro) * ($1.1.fpr - $1.0.fpr) }
                #expect(abs(area / l - EvalFixtures.double(c["aupro_\(limit)"])) < 1e-9, "\(name) @ \(limit)")
            }
            // Thinned to 5 points: the first and the last are kept.
            let full = BinaryMetrics.proCurve(r, fprLimit: 0.3, maxPoints: .max)
            let thin = BinaryMetrics.proCurve(r, fprLimit: 0.3, maxPoints: 5)
            #expect(full.count > 5 && thin.count == 5 && thin.first == full.first && thin.last == full.last)
        }
    }

    @Test func undefinedAUPROGivesAnEmptyCurve() {
        let noRegions = RankedScores(scores: [0.1, 0.2], labels: [false, false])
        #expect(BinaryMetrics.proCurve(noRegions, fprLimit: 0.3).isEmpty)
    }

    /// Overlay files end in one ".png" whatever the id's extension; "/" becomes "_".
    @Test func overlayFileNamesEndInOnePNG() {
        let pick = OverlayPick(index: 0, role: .missedDefect, rank: 2)
        #expect(Overlay.fileName(order: 3, pick: pick, id: "test/crack/003.png") == "03-missed-defect-2-test_crack_003.png")
        #expect(Overlay.fileName(order: 1, pick: pick, id: "good/a.JPG") == "01-missed-defect-2-good_a.png")
        #expect(Overlay.fileName(order: 12, pick: pick, id: "x.tiff") == "12-missed-defect-2-x.png")
        // Not an image extension: kept. Repeated image extensions all go.
        #expect(Overlay.fileName(order: 1, pick: pick, id: "lot.7") == "01-missed-defect-2-lot.7.png")
        #expect(Overlay.fileName(order: 1, pick: pick, id: "a.png.png") == "01-missed-defect-2-a.png")
    }
}
