import Foundation
import Testing
@testable import FunAD

/// Anomaly maps (bilinear resize vs torch F.interpolate, full pipeline vs
/// F.interpolate + scipy gaussian_filter), the map file, and Inference.run.
@Suite struct AnomalyMapTests {
    func resized(_ src: [Float], _ ih: Int, _ iw: Int, _ oh: Int, _ ow: Int) -> [Float] {
        var out = [Float](repeating: 0, count: oh * ow)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { BilinearResize.resize(s.baseAddress!, inHeight: ih, inWidth: iw, into: $0.baseAddress!, outHeight: oh, outWidth: ow) }
        }
        return out
    }

    /// Tolerance 1e-6: PyTorch computes the same float32 lerp; differences are rounding order.
    @Test func bilinearMatchesTorchInterpolate() throws {
        let a = try EvalFixtures.arrays()
        let e1 = EvalFixtures.maxAbsDiff(resized(a["grid28"]!.values, 28, 28, 224, 224), a["bilinear224"]!.values)
        let e2 = EvalFixtures.maxAbsDiff(resized(a["grid5x7"]!.values, 5, 7, 13, 11), a["bilinear13x11"]!.values)
        let e3 = EvalFixtures.maxAbsDiff(resized(a["grid5x7"]!.values, 5, 7, 3, 4), a["bilinear3x4"]!.values)
        print("bilinear max abs error vs torch: 28→224 \(e1), 5×7→13×11 \(e2), 5×7→3×4 \(e3)")
        #expect(e1 < 1e-6 && e2 < 1e-6 && e3 < 1e-6)
    }

    /// 28×28 → 224×224 → σ = 4, the paper's map, within 1e-4 of PyTorch + SciPy.
    @Test func pipelineMatchesTorchThenSciPy() throws {
        let a = try EvalFixtures.arrays()
        let maker = AnomalyMapMaker(gridHeight: 28, gridWidth: 28)
        let err = EvalFixtures.maxAbsDiff(maker.makeMap(scores: a["grid28"]!.values), a["pipeline224"]!.values)
        print("anomaly map 28→224, σ=4: max abs error vs torch+SciPy \(err)")
        #expect(err < 1e-4)
    }

    /// This test's scratch folder, removed when swift-testing releases the suite instance.
    let scratch = try! TempTree("eval-tests")
    var directory: URL { scratch.root }

    func tempURL(_ name: String) -> URL { directory.appendingPathComponent(name) }

    @Test func mapFileRoundTripsBothPrecisions() throws {
        var rng = SplitMix64(seed: 3)
        let maps = (0..<3).map { _ in (0..<(5 * 7)).map { _ in Float(rng.nextUnit() * 10 - 5) } }
        for precision in MapPrecision.allCases {
            let url = tempURL("maps.bin")
            let w = try AnomalyMapWriter(url: url, height: 5, width: 7, precision: precision)
            for m in maps { try w.append(m) }
            try w.finish()
            let r = try AnomalyMapReader(url: url)
            #expect(r.count == 3 && r.height == 5 && r.width == 7 && r.precision == precision)
            for i in 0..<3 {
                let back = r.map(i)
                let expected = precision == .float32 ? maps[i] : maps[i].map { Float(Float16($0)) }
                #expect(back == expected)
            }
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
            #expect(size == 64 + 3 * 35 * (precision == .float32 ? 4 : 2))
        }
    }

    @Test func mapFileRefusesTruncationCorruptionAndUnfinishedFiles() throws {
        let url = tempURL("maps.bin")
        let w = try AnomalyMapWriter(url: url, height: 4, width: 4)
        try w.append([Float](repeating: 0.5, count: 16))
        try w.append([Float](repeating: 0.25, count: 16))
        // Not finished yet: header still zero.
        #expect(throws: InferenceError.self) { try AnomalyMapReader(url: url) }
        try w.finish()
        let good = try Data(contentsOf: url)
        let cut = tempURL("cut.bin")
        try good.prefix(good.count - 4).write(to: cut)
        do { _ = try AnomalyMapReader(url: cut); Issue.record("truncated file accepted") } catch let e as InferenceError {
            #expect(e.description.contains("cut.bin") && e.description.contains("truncated"))
        }
        var flipped = good
        flipped[64 + 5] ^= 0x01
        let bad = tempURL("bad.bin")
        try flipped.write(to: bad)
        do { _ = try AnomalyMapReader(url: bad); Issue.record("corrupt file accepted") } catch let e as InferenceError {
            #expect(e.description.contains("checksum"))
        }
        #expect(throws: InferenceError.self) { try w.append([Float](repeating: 0, count: 16)) }
        #expect(throws: InferenceError.self) { try AnomalyMapWriter(url: tempURL("x.bin"), height: 4, width: 4).append([1, 2, 3]) }
    }

    /// A scorer whose score is the feature's first component, counting its calls.
    final class FirstComponent: PatchScorer, @unchecked Sendable {
        let dimension: Int
        var calls: [Int] = []
        init(dimension: Int) { self.dimension = dimension }
        func scorePatches(_ f: UnsafePointer<Float>, count: Int, into s: UnsafeMutablePointer<Float>) throws {
            calls.append(count)
            for i in 0..<count { s[i] = f[i * dimension] }
        }
    }

    @Test func inferenceBatchesImagesAndWritesMaps() throws {
        var rng = SplitMix64(seed: 11)
        let n = 5, gh = 4, gw = 3, d = 2
        let values = (0..<(n * gh * gw * d)).map { _ in Float(rng.nextUnit()) }
        let features = InMemoryPatchFeatures(imageCount: n, gridHeight: gh, gridWidth: gw, dimension: d, values: values)
        let scorer = FirstComponent(dimension: d)
        let url = tempURL("maps.bin")
        var progress = [Int]()
        let result = try Inference.run(scorer: scorer, features: features, mapSide: 16, sigma: 2,
                                       patchesPerCall: 24, writeMapsTo: url, progress: { done, _ in progress.append(done) })
        #expect(scorer.calls == [24, 24, 12])          // two images per call (24 / 12 patches)
        #expect(progress == [2, 4, 5])
        let reader = try AnomalyMapReader(url: url)
        let maker = AnomalyMapMaker(gridHeight: gh, gridWidth: gw, mapHeight: 16, mapWidth: 16, sigma: 2)
        for i in 0..<n {
            let grid = (0..<(gh * gw)).map { values[(i * gh * gw + $0) * d] }
            #expect(result.imageScores[i] == grid.max()!)
            #expect(reader.map(i) == maker.makeMap(scores: grid))
        }
    }

    @Test func inferenceRefusesADimensionMismatch() {
        let features = InMemoryPatchFeatures(imageCount: 1, gridHeight: 1, gridWidth: 1, dimension: 3, values: [1, 2, 3])
        do {
            _ = try Inference.run(scorer: FirstComponent(dimension: 4), features: features, writeMapsTo: nil)
            Issue.record("mismatch accepted")
        } catch let e as InferenceError {
            #expect(e.description == "infer: the scorer expects 4-d features, the feature source has 3-d")
        } catch { Issue.record("unexpected \(error)") }
    }
}
