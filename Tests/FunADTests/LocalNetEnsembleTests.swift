import Foundation
import Testing
@testable import FunAD

@Suite struct LocalNetEnsembleTests {
    /// Images whose patches share their first `shared` values (the [global ‖ local_j]
    /// layout), so the members take their per-image shared-prefix path.
    private static func images(_ count: Int, patches: Int, dimension: Int, shared: Int, seed: UInt64) -> [Float] {
        var rng = Xoshiro256StarStar(seed: seed)
        var x = [Float](repeating: 0, count: count * patches * dimension)
        rng.fillGaussian(&x, count: x.count)
        for i in 0..<count {
            for j in 1..<patches {
                for k in 0..<shared { x[(i * patches + j) * dimension + k] = x[i * patches * dimension + k] }
            }
        }
        return x
    }

    private static func logit(_ s: Double) -> Double { Foundation.log(s / (1 - s)) }

    /// Three members against the Double reference forward: each patch's ensemble score is
    /// σ of the mean of the members' logits, and the calibration values are that mean.
    @Test func scoresAreSigmoidOfMeanLogit() throws {
        let shape = LocalNetShape(dimension: 12, hidden1: 16, hidden2: 5)
        let params = [21, 22, 23].map { LocalNetParameters(pytorchDefault: shape, seed: UInt64($0)) }
        var members = params.map { LocalNet(parameters: $0) }
        for i in members.indices { members[i].chunkRows = 10 }  // a chunk boundary inside the images
        let ensemble = try LocalNetEnsemble(members: members)
        let (images, patches) = (5, 4)
        let x = Self.images(images, patches: patches, dimension: shape.dimension, shared: 8, seed: 5)
        let n = images * patches
        var scores = [Float](repeating: 0, count: n), logits = [Float](repeating: 0, count: n)
        try ensemble.scoreImages(x, images: images, patchesPerImage: patches, into: &scores, calibrationValues: &logits)

        let refLogits = params.map { p in
            TrainingTestSupport.referenceForward(p.values.map(Double.init), shape: shape, x: x.map(Double.init), rows: n).scores.map(Self.logit)
        }
        for i in 0..<n {
            let mean = (refLogits[0][i] + refLogits[1][i] + refLogits[2][i]) / 3
            #expect(abs(Double(logits[i]) - mean) < 1e-5, "patch \(i): mean logit \(logits[i]), reference \(mean)")
            #expect(abs(Double(scores[i]) - 1 / (1 + Foundation.exp(-mean))) < 1e-6, "patch \(i)")
        }
        // The members do not agree (else the test could not tell a mean from one member).
        #expect(zip(refLogits[0], refLogits[1]).contains { abs($0 - $1) > 1e-3 })

        // The patch-by-patch path gives the same scores up to float rounding.
        var byPatch = [Float](repeating: 0, count: n)
        try ensemble.scorePatches(x, count: n, into: &byPatch)
        #expect(zip(byPatch, scores).allSatisfy { abs($0 - $1) < 1e-6 })
        // Without calibration values: the same scores, bit for bit.
        var plain = [Float](repeating: 0, count: n)
        try ensemble.scoreImages(x, images: images, patchesPerImage: patches, into: &plain)
        #expect(plain == scores)
    }

    /// One member: the member's own scores and logits, bit for bit.
    @Test func oneMemberIsTheMember() throws {
        let shape = LocalNetShape(dimension: 10, hidden1: 8, hidden2: 4)
        let net = LocalNet(parameters: LocalNetParameters(pytorchDefault: shape, seed: 31))
        let ensemble = try LocalNetEnsemble(members: [net])
        let x = Self.images(3, patches: 6, dimension: shape.dimension, shared: 6, seed: 32)
        var a = [Float](repeating: 0, count: 18), al = a, b = a, bl = a
        try net.scoreImages(x, images: 3, patchesPerImage: 6, into: &a, calibrationValues: &al)
        try ensemble.scoreImages(x, images: 3, patchesPerImage: 6, into: &b, calibrationValues: &bl)
        #expect(a == b && al == bl)
        #expect(ensemble.calibratesLogits && ensemble.dimension == 10)
    }

    /// Members must exist and read features of one dimension; bad counts are refused.
    @Test func refusesMismatchedOrEmptyMembers() throws {
        #expect(throws: LocalNetError.self) { try LocalNetEnsemble(members: []) }
        let a = LocalNet(parameters: LocalNetParameters(pytorchDefault: LocalNetShape(dimension: 10, hidden1: 8, hidden2: 4), seed: 1))
        let b = LocalNet(parameters: LocalNetParameters(pytorchDefault: LocalNetShape(dimension: 12, hidden1: 8, hidden2: 4), seed: 1))
        do {
            _ = try LocalNetEnsemble(members: [a, b])
            Issue.record("a 12-d member beside a 10-d one was accepted")
        } catch let error as LocalNetError {
            #expect(error.description.contains("member 2 takes 12-d"), "\(error)")
        }
        let ensemble = try LocalNetEnsemble(members: [a, a])
        var out = [Float](repeating: 0, count: 4)
        #expect(throws: LocalNetError.self) { try ensemble.scoreImages([Float](repeating: 0, count: 40), images: 1, patchesPerImage: 0, into: &out) }
    }
}
