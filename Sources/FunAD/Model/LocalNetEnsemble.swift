/// Several Local-Nets trained on the same features (different seeds) scored as one:
/// each patch's score is σ(mean of the members' logits). Not in the paper.
///
/// Why: FUN-AD's training path turns tiny floating-point differences (another CPU's BLAS
/// summation order) and the seed into different models, and one model's figures move by
/// more than its seed spread (docs/FP-SPREAD.md). The mean of K independently trained
/// models' outputs varies less than any one of them, so an ensemble is one way to make
/// the result depend less on the path. Why logits and not scores: Local-Net's scores
/// crowd near 1 (σ of large logits), where float32 keeps few bits of 1 − s and an
/// average of scores would be decided by whichever member is least saturated; the mean
/// logit is the log of the geometric mean of the members' odds and keeps the ranking
/// information of each. With one member the scores are the member's own, bit for bit.
public struct LocalNetEnsemble: PatchScorer {
    public let members: [LocalNet]

    /// - Throws: `LocalNetError` when `members` is empty or their feature dimensions differ.
    public init(members: [LocalNet]) throws {
        guard let first = members.first else {
            throw LocalNetError("LocalNetEnsemble: no members; expected at least one Local-Net")
        }
        for (i, m) in members.enumerated() where m.dimension != first.dimension {
            throw LocalNetError("LocalNetEnsemble: member \(i + 1) takes \(m.dimension)-d features, member 1 takes \(first.dimension)-d; every member must be trained on the same features")
        }
        self.members = members
    }

    public var dimension: Int { members[0].dimension }

    /// The ensemble's score is σ(mean logit): calibration compares the mean logits.
    public var calibratesLogits: Bool { true }

    public func scorePatches(_ features: UnsafePointer<Float>, count: Int, into scores: UnsafeMutablePointer<Float>) throws {
        // One patch per "image": each member then takes its patch-by-patch path.
        try scoreImages(features, images: count, patchesPerImage: 1, into: scores)
    }

    public func scoreImages(_ features: UnsafePointer<Float>, images: Int, patchesPerImage: Int,
                            into scores: UnsafeMutablePointer<Float>) throws {
        let count = max(0, images) * max(1, patchesPerImage)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
        defer { logits.deallocate() }
        try scoreImages(features, images: images, patchesPerImage: patchesPerImage, into: scores, calibrationValues: logits)
    }

    /// Scores and mean logits in one pass. The members' logits are summed in member order
    /// (a fixed order, so the result does not depend on anything but the inputs), divided
    /// by K, and passed through the same σ as Local-Net's own scores.
    public func scoreImages(_ features: UnsafePointer<Float>, images: Int, patchesPerImage: Int,
                            into scores: UnsafeMutablePointer<Float>, calibrationValues logits: UnsafeMutablePointer<Float>) throws {
        guard images >= 0, patchesPerImage >= 1 else {
            throw LocalNetError("LocalNetEnsemble.scoreImages: \(images) images of \(patchesPerImage) patches; expected ≥ 0 images of ≥ 1 patches")
        }
        let count = images * patchesPerImage
        guard count > 0 else { return }
        if members.count == 1 {
            try members[0].scoreImages(features, images: images, patchesPerImage: patchesPerImage, into: scores, calibrationValues: logits)
            return
        }
        // `scores` doubles as the members' score scratch until the final σ overwrites it.
        let memberLogits = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { memberLogits.deallocate() }
        for (k, member) in members.enumerated() {
            try member.scoreImages(features, images: images, patchesPerImage: patchesPerImage,
                                   into: scores, calibrationValues: k == 0 ? logits : memberLogits)
            if k > 0 {
                for i in 0..<count { logits[i] += memberLogits[i] }
            }
        }
        let k = Float(members.count)
        for i in 0..<count { logits[i] /= k }
        LinearKernels.sigmoid(logits, scores, count: count)
    }
}
