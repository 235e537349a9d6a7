import Foundation
import Testing
@testable import FunAD

/// Evaluation end to end (per defect type and overall) against the fixture script's
/// scikit-learn / reference-AUPRO numbers, report rendering, edge cases, overlays.
@Suite struct ReportTests {
    struct Fixture {
        var samples: [EvaluationSample]
        var scores: [Float]
        var maps: InMemoryMaps
        var expected: [String: [String: Any]]
    }

    func fixture() throws -> Fixture {
        let a = try EvalFixtures.arrays()
        let j = try EvalFixtures.json("evaluation.json")
        let types = j["types"] as! [String]
        let shape = a["evaluation.masks"]!.shape
        let (n, h, w) = (shape[0], shape[1], shape[2])
        let masks = a["evaluation.masks"]!.values, maps = a["evaluation.maps"]!.values
        let samples = (0..<n).map { i in
            EvaluationSample(name: "\(types[i])/\(i)", defectType: types[i], isAnomalous: types[i] != "good",
                             mask: types[i] == "good" ? nil
                                 : ImagePlanes(width: w, height: h, channels: 1, data: Array(masks[(i * h * w)..<((i + 1) * h * w)])))
        }
        let m = InMemoryMaps(height: h, width: w, maps: (0..<n).map { Array(maps[($0 * h * w)..<(($0 + 1) * h * w)]) })
        return Fixture(samples: samples, scores: EvalFixtures.floats(j["scores"]), maps: m,
                       expected: j["subsets"] as! [String: [String: Any]])
    }

    @Test func perTypeAndOverallMatchReferences() throws {
        let f = try fixture()
        let r = try Evaluation.evaluate(samples: f.samples, imageScores: f.scores, maps: f.maps)
        #expect(r.perDefectType.map(\.name) == ["crack", "hole"])
        for row in [r.overall] + r.perDefectType {
            let e = f.expected[row.name]!
            #expect(row.normalImages == EvalFixtures.ints([e["normal"]!])[0])
            #expect(row.anomalousImages == EvalFixtures.ints([e["anomalous"]!])[0])
            let pairs: [(MetricValue, String)] = [(row.imageAUROC, "image_auroc"), (row.pixelAUROC, "pixel_auroc"),
                                                  (row.aupro, "aupro"), (row.imageF1Max.metric, "image_f1_max"),
                                                  (row.pixelF1Max.metric, "pixel_f1_max")]
            for (v, key) in pairs {
                let got = try #require(v.value, "\(row.name) \(key): \(v.reason ?? "")")
                #expect(abs(got - EvalFixtures.double(e[key])) < 1e-9, "\(row.name) \(key)")
            }
            #expect(row.pixelF1Max.threshold == Float(EvalFixtures.double(e["pixel_f1_threshold"])))
        }
        // The ROC curve ends at (1, 1) and starts at (0, 0).
        #expect(r.pixelROC.first.map { ($0.fpr, $0.tpr) } ?? (-1, -1) == (0, 0))
        #expect(r.pixelROC.last.map { ($0.fpr, $0.tpr) } ?? (-1, -1) == (1, 1))
    }

    @Test func singleClassTestSetGivesNullWithReasonInEveryFormat() throws {
        let f = try fixture()
        let normal = Array(f.samples[..<4])
        let r = try Evaluation.evaluate(samples: normal, imageScores: Array(f.scores[..<4]),
                                        maps: InMemoryMaps(height: f.maps.height, width: f.maps.width,
                                                           maps: (0..<4).map { i in var b = [Float](repeating: 0, count: f.maps.height * f.maps.width); b.withUnsafeMutableBufferPointer { f.maps.map(i, into: $0.baseAddress!) }; return b }))
        #expect(r.overall.imageAUROC.value == nil)
        #expect(r.overall.imageAUROC.reason == "only normal images (no anomalous ones): AUROC is undefined")
        #expect(r.perDefectType.isEmpty && r.imageROC.isEmpty)
        let json = try JSONSerialization.jsonObject(with: EvaluationReport.json(r)) as! [String: Any]
        let overall = json["overall"] as! [String: Any]
        #expect(overall["image_auroc"] is NSNull)
        #expect((overall["undefined"] as! [String: String])["image_auroc"] == "only normal images (no anomalous ones): AUROC is undefined")
        let md = EvaluationReport.markdown(r)
        #expect(md.contains("| overall | 4 | 0 | n/a |"))
        #expect(md.contains("- overall, image AUROC: only normal images (no anomalous ones): AUROC is undefined"))
        #expect(EvaluationReport.csv(r).contains("\noverall,4,0,,,,,\n"))
    }

    @Test func maskSizeMismatchNamesTheImage() throws {
        var f = try fixture()
        f.samples[5].mask = ImagePlanes(width: 3, height: 3, channels: 1)
        do {
            _ = try Evaluation.evaluate(samples: f.samples, imageScores: f.scores, maps: f.maps)
            Issue.record("accepted a mask of the wrong size")
        } catch let e as EvaluationError {
            #expect(e.description == "evaluate: mask of image 'crack/5' is 3×3; its anomaly map is 20×24")
        }
    }

    @Test func missingMaskOrMapsLeavePixelMetricsUndefinedButImageMetricsDefined() throws {
        var f = try fixture()
        f.samples[8].mask = nil   // a 'hole' image
        let r = try Evaluation.evaluate(samples: f.samples, imageScores: f.scores, maps: f.maps)
        #expect(r.overall.pixelAUROC.reason == "anomalous image 'hole/8' has no ground-truth mask")
        #expect(r.perDefectType[0].pixelAUROC.value != nil)   // crack unaffected
        #expect(r.perDefectType[1].aupro.value == nil)
        #expect(r.overall.imageAUROC.value != nil)
        let noMaps = try Evaluation.evaluate(samples: f.samples, imageScores: f.scores, maps: nil)
        #expect(noMaps.overall.pixelAUROC.reason == "no anomaly maps were given" && noMaps.pixelROC.isEmpty)
        #expect(throws: EvaluationError.self) { try Evaluation.evaluate(samples: f.samples, imageScores: [1], maps: nil) }
        var nan = f.scores; nan[2] = .nan
        #expect(throws: EvaluationError.self) { try Evaluation.evaluate(samples: f.samples, imageScores: nan, maps: nil) }
    }

    @Test func writesAllReportFiles() throws {
        let f = try fixture()
        let r = try Evaluation.evaluate(samples: f.samples, imageScores: f.scores, maps: f.maps)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let urls = try EvaluationReport.write(r, to: dir)
        #expect(urls.map(\.lastPathComponent) == ["metrics.json", "metrics.md", "metrics.csv", "roc_image.csv", "roc_pixel.csv", "pro_curve.csv"])
        let csv = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 4 && csv[0] == "subset,normal_images,anomalous_images,image_auroc,pixel_auroc,aupro,image_f1_max,pixel_f1_max")
        let roc = try String(contentsOf: dir.appendingPathComponent("roc_pixel.csv"), encoding: .utf8).split(separator: "\n")
        #expect(roc[0] == "fpr,tpr,threshold" && roc[1] == "0.0,0.0,inf" && roc.count <= 1001)
        let pro = try String(contentsOf: dir.appendingPathComponent("pro_curve.csv"), encoding: .utf8).split(separator: "\n")
        #expect(pro[0] == "fpr,pro,threshold" && pro[1] == "0.0,0.0,inf" && pro.count == r.proCurve.count + 1)
        #expect(pro.last!.hasPrefix("\(r.fprLimit),"), "the PRO curve ends at the FPR limit")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: urls[0])) as! [String: Any]
        let overall = json["overall"] as! [String: Any]
        #expect(abs((overall["pixel_auroc"] as! Double) - r.overall.pixelAUROC.value!) < 1e-15)
    }

    @Test func imageScoresTableQuotesFieldsAndChecksCounts() throws {
        let samples = [EvaluationSample(name: "a,1", defectType: "good", isAnomalous: false, mask: nil),
                       EvaluationSample(name: "b\"2", defectType: "crack", isAnomalous: true, mask: nil)]
        #expect(try EvaluationReport.imageScoresCSV(samples: samples, imageScores: [0.5, 2]) ==
                "image,defect_type,anomalous,score\n\"a,1\",good,0,0.5\n\"b\"\"2\",crack,1,2.0\n")
        #expect(throws: EvaluationError.self) { try EvaluationReport.imageScoresCSV(samples: samples, imageScores: [1]) }
    }

    @Test func overlaySelectionPutsWorstAndBestFirst() {
        let anomalous = [false, false, true, true, true, false]
        let scores: [Float] = [0.1, 0.9, 0.3, 0.8, 0.95, 0.2]
        let picks = OverlaySelection.choose(isAnomalous: anomalous, imageScores: scores, count: 5)
        #expect(picks.map(\.index) == [2, 1, 4, 3, 5])
        #expect(picks.map(\.role) == [.missedDefect, .falseAlarm, .bestDetection, .missedDefect, .falseAlarm])
        #expect(OverlaySelection.choose(isAnomalous: anomalous, imageScores: scores, count: 50).count == 6)
    }

    @Test func overlayPanels() throws {
        let image = ImagePlanes(width: 2, height: 1, channels: 1, data: [0.5, 1])
        let mask = ImagePlanes(width: 2, height: 1, channels: 1, data: [0, 1])
        let o = try Overlay.render(name: "x", image: image, mask: mask, map: [0, 1], range: 0...1, alpha: 0.5)
        #expect(o.width == 6 && o.height == 1 && o.channels == 3)
        #expect((0..<3).map { o[$0, 0, 0] } == [0.5, 0.5, 0.5])        // image, grey replicated
        #expect((0..<3).map { o[$0, 0, 3] } == [1, 1, 1])              // defect pixel white
        #expect((0..<3).map { o[$0, 0, 2] } == [0.2, 0.2, 0.2])        // normal pixel darkened
        #expect((0..<3).map { o[$0, 0, 4] } == [0.25, 0.25, 0.25 + 0.25]) // jet(0) = dark blue (0,0,0.5)
        #expect((0..<3).map { o[$0, 0, 5] } == [0.75, 0.5, 0.5])       // jet(1) = dark red (0.5,0,0)
        #expect(throws: EvaluationError.self) { try Overlay.render(name: "x", image: image, mask: nil, map: [0], range: 0...1) }
    }
}
