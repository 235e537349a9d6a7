import Foundation
import Testing
@testable import FunAD

/// `Inference.run`'s in-memory map sink (what `predict` renders overlays from) against the
/// map file `infer` writes, and the per-call buffer that never exceeds the source.
@Suite struct InferenceMapSinkTests {
    /// Score = first component of the feature; records how many patches each call got.
    final class FirstComponent: PatchScorer, @unchecked Sendable {
        let dimension: Int
        var calls: [Int] = []
        init(dimension: Int) { self.dimension = dimension }
        func scorePatches(_ f: UnsafePointer<Float>, count: Int, into s: UnsafeMutablePointer<Float>) throws {
            calls.append(count)
            for i in 0..<count { s[i] = f[i * dimension] }
        }
    }

    private func features(images n: Int, seed: UInt64) -> InMemoryPatchFeatures {
        var rng = SplitMix64(seed: seed)
        let (gh, gw, d) = (5, 4, 3)
        return InMemoryPatchFeatures(imageCount: n, gridHeight: gh, gridWidth: gw, dimension: d,
                                     values: (0..<(n * gh * gw * d)).map { _ in Float(rng.nextUnit()) })
    }

    @Test func sinkMapsEqualTheMapFileBitForBit() throws {
        let source = features(images: 3, seed: 5)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sink-\(UUID().uuidString).maps")
        defer { try? FileManager.default.removeItem(at: url) }
        let filed = try Inference.run(scorer: FirstComponent(dimension: 3), features: source, mapSide: 20, sigma: 1.5, writeMapsTo: url)
        var sunk: [(Int, [Float])] = []
        let kept = try Inference.run(scorer: FirstComponent(dimension: 3), features: source, mapSide: 20, sigma: 1.5,
                                     writeMapsTo: nil, mapSink: { i, map in sunk.append((i, Array(map))) })
        #expect(kept.imageScores == filed.imageScores)
        #expect(sunk.map(\.0) == [0, 1, 2])
        let reader = try AnomalyMapReader(url: url)
        for (i, map) in sunk {
            #expect(map.count == 400)
            #expect(map.map(\.bitPattern) == reader.map(i).map(\.bitPattern))
        }
        // Independent expectation: the map of image 1 is its 5×4 score grid made into a map.
        let grid = (0..<20).map { source.values[(20 + $0) * 3] }
        let maker = AnomalyMapMaker(gridHeight: 5, gridWidth: 4, mapHeight: 20, mapWidth: 20, sigma: 1.5)
        #expect(sunk[1].1 == maker.makeMap(scores: grid))
    }

    @Test func aSourceSmallerThanOneCallIsScoredInOneCallOfItsOwnSize() throws {
        let scorer = FirstComponent(dimension: 3)
        // 8192 patches per call would hold 409 images of 20 patches; the source has 3.
        let result = try Inference.run(scorer: scorer, features: features(images: 3, seed: 9), writeMapsTo: nil)
        #expect(scorer.calls == [60])
        #expect(result.imageScores.count == 3)
        #expect(result.scorerSeconds >= 0)
    }

    @Test func aThrowingSinkStopsTheRun() {
        struct Refused: Error {}
        var seen = 0
        #expect(throws: Refused.self) {
            _ = try Inference.run(scorer: FirstComponent(dimension: 3), features: features(images: 3, seed: 2), mapSide: 8,
                                  writeMapsTo: nil, mapSink: { _, _ in seen += 1; if seen == 2 { throw Refused() } })
        }
        #expect(seen == 2)
    }
}
