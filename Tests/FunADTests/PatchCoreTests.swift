import Foundation
import Testing
@testable import FunAD

/// PatchCore: blocked BLAS nearest neighbours vs a brute-force Double loop, coreset picks
/// vs the fixture script's NumPy replay of PatchCore's approximate greedy coreset (same
/// SplitMix64 draws), determinism, and the save/load round trip.
@Suite struct PatchCoreTests {
    func random(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) }
    }

    /// Spans several query and bank blocks (256 × 2048). Tolerance: relative 1e-4 on the
    /// distance (float32 cancellation in ‖q‖² + ‖m‖² − 2q·m for distances of order 10).
    @Test func scoresEqualBruteForceNearestDistance() throws {
        let d = 24, m = 2500, q = 300
        let bank = random(m * d, seed: 1), queries = random(q * d, seed: 2)
        let model = try PatchCore(bank: bank, dimension: d)
        var scores = [Float](repeating: 0, count: q)
        try queries.withUnsafeBufferPointer { f in
            try scores.withUnsafeMutableBufferPointer { try model.scorePatches(f.baseAddress!, count: q, into: $0.baseAddress!) }
        }
        let want = BruteForceNearest.squaredDistances(queries: queries, bank: bank, dimension: d)
        var worst = 0.0
        for i in 0..<q { worst = max(worst, abs(Double(scores[i]) - want[i].squareRoot()) / want[i].squareRoot()) }
        print("patchcore NN distance max relative error vs brute force: \(worst)")
        #expect(worst < 1e-4)
        // A bank row scores (almost) 0 against itself.
        var self0: Float = 1
        try bank.withUnsafeBufferPointer { try model.scorePatches($0.baseAddress! + 7 * d, count: 1, into: &self0) }
        #expect(self0 < 1e-3)
    }

    func fixtureFeatures(_ c: [String: Any], _ key: String, _ a: [String: WeightTensor]) -> InMemoryPatchFeatures {
        let grid = EvalFixtures.ints(c["grid"])
        return InMemoryPatchFeatures(imageCount: EvalFixtures.ints([c["images"]!])[0], gridHeight: grid[0], gridWidth: grid[1],
                                     dimension: EvalFixtures.ints([c["dim"]!])[0], values: a["coreset.\(key).features"]!.values)
    }

    @Test func coresetMatchesTheReferenceReplay() throws {
        let a = try EvalFixtures.arrays()
        let cases = try EvalFixtures.json("coreset.json")["cases"] as! [String: Any]
        for key in ["a", "b"] {
            let c = cases[key] as! [String: Any]
            let sampler = CoresetSampler(fraction: EvalFixtures.double(c["fraction"]),
                                         projectionDimension: EvalFixtures.ints([c["proj"]!])[0],
                                         startPoints: EvalFixtures.ints([c["start"]!])[0],
                                         seed: UInt64(EvalFixtures.ints([c["seed"]!])[0]))
            let features = fixtureFeatures(c, key, a)
            let picks = try sampler.select(from: features)
            #expect(picks == EvalFixtures.ints(c["picks"]), "case \(key)")
            #expect(Set(picks).count == picks.count)
            // Same seed, same picks; another seed, another start.
            #expect(try sampler.select(from: features) == picks)
            var other = sampler; other.seed += 1
            #expect(try other.select(from: features) != picks)
        }
    }

    /// The greedy pass split over two concurrent chunks picks exactly what one pass picks,
    /// and a pick is the point farthest from the anchors' mean and the earlier picks (brute force).
    @Test func chunkedGreedyEqualsSerialAndIsFarthestFirst() {
        let n = 9000, k = 16
        let pts = random(n * k, seed: 12)
        let serial = CoresetSampler.greedy(pts, count: n, dimension: k, anchors: [5, 77], select: 40, threads: 1, progress: { _ in })
        let chunked = CoresetSampler.greedy(pts, count: n, dimension: k, anchors: [5, 77], select: 40, threads: 2, progress: { _ in })
        #expect(serial == chunked)
        func dist(_ i: Int, _ j: Int) -> Double {
            var s = 0.0
            for t in 0..<k { let v = Double(pts[i * k + t]) - Double(pts[j * k + t]); s += v * v }
            return s.squareRoot()
        }
        // Pick 3 maximises min(mean distance to the anchors, distance to picks 0…2).
        func key(_ i: Int) -> Double { min((dist(i, 5) + dist(i, 77)) / 2, serial[0..<3].map { dist(i, $0) }.min()!) }
        let far = (0..<n).max { key($0) < key($1) }!
        #expect(serial[3] == far)
    }

    /// The bank holds exactly the picked patches, in pick order.
    @Test func fitGathersThePickedPatches() throws {
        let a = try EvalFixtures.arrays()
        let c = (try EvalFixtures.json("coreset.json")["cases"] as! [String: Any])["b"] as! [String: Any]
        let features = fixtureFeatures(c, "b", a)
        let sampler = CoresetSampler(fraction: 0.2, projectionDimension: 8, startPoints: 3, seed: 123456789)
        let model = try PatchCore.fit(features: features, coreset: sampler)
        let picks = EvalFixtures.ints(c["picks"])
        #expect(model.bankSize == picks.count)
        let all = features.values, d = 40
        for (slot, flat) in picks.enumerated() {
            #expect(Array(model.bank[(slot * d)..<((slot + 1) * d)]) == Array(all[(flat * d)..<((flat + 1) * d)]))
        }
        let full = try PatchCore.fit(features: features, coreset: nil)
        #expect(full.bankSize == 100 && full.bank == all)
    }

    /// The coreset reports every 1,024 picks, with both searches, and a throwing progress
    /// stops the selection (how the stage honours Ctrl-C): nothing is returned.
    @Test func coresetProgressReportsAndCanStopTheSelection() throws {
        struct Stop: Error {}
        let d = 16, gh = 10, gw = 10
        let features = InMemoryPatchFeatures(imageCount: 30, gridHeight: gh, gridWidth: gw, dimension: d, values: random(30 * 100 * d, seed: 21))
        for search in CoresetSearch.allCases {
            let sampler = CoresetSampler(fraction: 0.9, seed: 4, search: search)  // 2,700 of 3,000 patches
            var calls: [[Int]] = []
            let picks = try sampler.select(from: features) { calls.append([$0, $1]) }
            #expect(picks.count == 2700)
            #expect(calls == [[1024, 2700], [2048, 2700]], "\(search)")
            #expect(try sampler.select(from: features) == picks)  // reporting changes no pick
            var seen = 0
            #expect(throws: Stop.self) {
                _ = try sampler.select(from: features) { _, _ in seen += 1; throw Stop() }
            }
            #expect(seen == 1)
        }
    }

    /// PatchCore as a PatchScorer behind Inference.run: image score = max over the image's
    /// patches of the brute-force nearest distance to the training patches.
    @Test func runsBehindInference() throws {
        let d = 8, gh = 3, gw = 4, p = gh * gw
        let train = InMemoryPatchFeatures(imageCount: 4, gridHeight: gh, gridWidth: gw, dimension: d, values: random(4 * p * d, seed: 8))
        let test = InMemoryPatchFeatures(imageCount: 3, gridHeight: gh, gridWidth: gw, dimension: d, values: random(3 * p * d, seed: 9))
        let model = try PatchCore.fit(features: train, coreset: nil)
        let result = try Inference.run(scorer: model, features: test, mapSide: 8, writeMapsTo: nil)
        for img in 0..<3 {
            var expected = 0.0
            for j in 0..<p {
                var best = Double.infinity
                for m in 0..<(4 * p) {
                    var s = 0.0
                    for k in 0..<d { let t = Double(test.values[(img * p + j) * d + k]) - Double(train.values[m * d + k]); s += t * t }
                    best = min(best, s)
                }
                expected = max(expected, best.squareRoot())
            }
            #expect(abs(Double(result.imageScores[img]) - expected) < 1e-4 * expected)
        }
    }

    /// Eq. 7 reweighting vs the fixture script's float64 replay of anomalib's
    /// compute_anomaly_score (b = 1 gives weight 0: softmax over one element). Relative 1e-4.
    @Test func reweightedImageScoreMatchesAnomalib() throws {
        let a = try EvalFixtures.arrays()
        let r = (try EvalFixtures.json("coreset.json")["reweight"] as! [String: Any])
        let model = try PatchCore(bank: a["reweight.bank"]!.values, dimension: 12)
        let feats = a["reweight.features"]!.values
        var scores = [Float](repeating: 0, count: 20)
        try feats.withUnsafeBufferPointer { f in
            try scores.withUnsafeMutableBufferPointer { try model.scorePatches(f.baseAddress!, count: 20, into: $0.baseAddress!) }
        }
        let expectedPatches = EvalFixtures.doubles(r["patch_scores"])
        #expect(zip(scores, expectedPatches).allSatisfy { abs(Double($0) - $1) < 1e-4 * $1 })
        for b in [1, 3, 9] {
            let got = try feats.withUnsafeBufferPointer { f in
                try scores.withUnsafeBufferPointer { try model.reweightedImageScore(features: f.baseAddress!, patchScores: $0, neighbours: b) }
            }
            let expected = EvalFixtures.double(r["b\(b)"])
            print("reweighted image score b=\(b): \(got) anomalib replay \(expected)")
            #expect(abs(Double(got) - expected) <= 1e-4 * max(1e-3, abs(expected)), "b = \(b)")
        }
        // Behind Inference.run.
        let source = InMemoryPatchFeatures(imageCount: 1, gridHeight: 4, gridWidth: 5, dimension: 12, values: feats)
        let result = try Inference.run(scorer: model, features: source, mapSide: 8, writeMapsTo: nil,
                                       imageScore: { try model.reweightedImageScore(features: $0, patchScores: $1, neighbours: 9) })
        #expect(abs(Double(result.imageScores[0]) - EvalFixtures.double(r["b9"])) <= 1e-4 * EvalFixtures.double(r["b9"]))
    }

    @Test func saveLoadRoundTripAndBadFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-pc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try PatchCore(bank: random(30 * 6, seed: 4), dimension: 6)
        let url = dir.appendingPathComponent("patchcore.safetensors")
        try model.save(to: url)
        let back = try PatchCore.load(from: url)
        #expect(back.bank == model.bank && back.dimension == 6 && back.bankSize == 30)
        let wrong = dir.appendingPathComponent("other.safetensors")
        try SafeTensors.write(["weights": WeightTensor(shape: [2], values: [1, 2])], to: wrong)
        do { _ = try PatchCore.load(from: wrong); Issue.record("accepted a file without a bank") } catch let e as InferenceError {
            #expect(e.description.contains("other.safetensors") && e.description.contains("'bank'"))
        }
        #expect(throws: InferenceError.self) { try PatchCore(bank: [1, 2, 3], dimension: 2) }
        #expect(throws: InferenceError.self) { try CoresetSampler(fraction: 0, seed: 1).select(from: InMemoryPatchFeatures(imageCount: 1, gridHeight: 1, gridWidth: 1, dimension: 1, values: [0])) }
    }
}
