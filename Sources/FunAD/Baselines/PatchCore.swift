import Foundation

/// A one-class baseline on the same features (PatchCore, Roth et al. 2022): a memory
/// bank of training patches (all, or a greedy coreset), and patch score = Euclidean
/// distance to the nearest bank patch. Image score = max patch score by default, as in
/// the authors' released code and as for FUN-AD (`Inference.run`); the paper's Eq. 7
/// reweighting is available as `reweightedImageScore` (anomalib's `num_neighbors` form).
///
/// On contaminated training sets the bank holds the training anomalies too, which is
/// why FUN-AD's paper compares against it (METHOD.md "The problem").
public struct PatchCore: PatchScorer {
    public let dimension: Int
    public let bankSize: Int
    /// bankSize × dimension, row-major.
    public var bank: [Float] { search.bank }
    let search: NearestNeighbourSearch

    /// How `scorePatches` searches the bank, for run records: always exact; over the
    /// local parts when the bank rows share a per-image prefix (`PrefixGroupedBank`).
    public var bankSearchSummary: String {
        guard let g = search.grouped else { return "exact, full rows of \(dimension) values" }
        return "exact, grouped: \(g.prefixLength) values shared by each of \(g.groupCount) row groups + \(g.localLength) local values per row (queries that come in runs of a shared prefix)"
    }

    public init(bank: [Float], dimension: Int) throws {
        guard dimension > 0, !bank.isEmpty, bank.count % dimension == 0 else {
            throw InferenceError("patchcore: a bank of \(bank.count) values is not a non-empty multiple of dimension \(dimension)")
        }
        guard bank.allSatisfy(\.isFinite) else { throw InferenceError("patchcore: the bank holds non-finite values") }
        self.dimension = dimension
        bankSize = bank.count / dimension
        search = NearestNeighbourSearch(bank: bank, count: bankSize, dimension: dimension)
    }

    /// Builds the bank from every training patch, or from a coreset of them when
    /// `coreset` is given (its fraction < 1).
    /// `progress(picked, target)` is called during the coreset selection (the long part)
    /// and may throw to stop it.
    public static func fit(features: some PatchFeatureSource, coreset: CoresetSampler?,
                           progress: (_ picked: Int, _ target: Int) throws -> Void = { _, _ in }) throws -> PatchCore {
        let p = features.patchesPerImage, d = features.dimension
        var bank = [Float]()
        var buf = [Float](repeating: 0, count: p * d)
        if let coreset, coreset.fraction < 1 {
            let picks = try coreset.select(from: features, progress: progress)
            // Gather the picked patches image by image (bank order = pick order).
            var byImage = [Int: [(slot: Int, patch: Int)]]()
            for (slot, flat) in picks.enumerated() { byImage[flat / p, default: []].append((slot, flat % p)) }
            bank = [Float](repeating: 0, count: picks.count * d)
            for img in byImage.keys.sorted() {
                try buf.withUnsafeMutableBufferPointer { try features.patchFeatures(ofImage: img, into: $0.baseAddress!) }
                for (slot, patch) in byImage[img]! {
                    bank.replaceSubrange((slot * d)..<((slot + 1) * d), with: buf[(patch * d)..<((patch + 1) * d)])
                }
            }
        } else {
            bank.reserveCapacity(features.imageCount * p * d)
            for img in 0..<features.imageCount {
                try buf.withUnsafeMutableBufferPointer { try features.patchFeatures(ofImage: img, into: $0.baseAddress!) }
                bank += buf
            }
        }
        return try PatchCore(bank: bank, dimension: d)
    }

    public func scorePatches(_ features: UnsafePointer<Float>, count: Int, into scores: UnsafeMutablePointer<Float>) throws {
        search.nearest(features, count: count, minDistance2: scores)
        for i in 0..<count { scores[i] = scores[i].squareRoot() }
    }

    /// PatchCore's image-score reweighting (paper Eq. 7, as anomalib's
    /// `PatchcoreModel.compute_anomaly_score`): with m_test* the image's highest-scoring
    /// patch (score s*), m* its nearest bank patch and N_b(m*) the b nearest bank patches
    /// of m* (m* itself first), score = (1 − softmax_j(‖m_test* − m_j‖)[m*]) · s*,
    /// j ∈ N_b(m*). Down-weights a maximum that sits in a dense bank region.
    /// - features: the image's P × D patch features; patchScores: their P scores.
    public func reweightedImageScore(features: UnsafePointer<Float>, patchScores: UnsafeBufferPointer<Float>,
                                     neighbours b: Int = 9) throws -> Float {
        guard let top = patchScores.indices.max(by: { patchScores[$0] < patchScores[$1] || (patchScores[$0] == patchScores[$1] && $0 > $1) }) else {
            throw InferenceError("patchcore: no patch scores to reweight")
        }
        guard b >= 1 else { throw InferenceError("patchcore: neighbours must be ≥ 1, got \(b)") }
        let d = dimension
        let q = features + top * d
        // m*: nearest bank patch of the top patch.
        let toQuery = search.distances2(to: q)
        let mStar = toQuery.indices.min { toQuery[$0] < toQuery[$1] }!
        // N_b(m*): the b bank patches nearest to m*, ascending (m* itself, at 0, first).
        let fromStar = bank.withUnsafeBufferPointer { search.distances2(to: $0.baseAddress! + mStar * d) }
        var support = Array(fromStar.indices.sorted { (fromStar[$0], $0 == mStar ? 0 : 1, $0) < (fromStar[$1], $1 == mStar ? 0 : 1, $1) }.prefix(min(b, bankSize)))
        if support.first != mStar, let i = support.firstIndex(of: mStar) { support.swapAt(0, i) }
        // 1 − exp(d_0) / Σ_j exp(d_j) with d_j = ‖q − m_j‖, computed as 1 − 1/Σ exp(d_j − d_0).
        let dist = support.map { Double(toQuery[$0]).squareRoot() }
        let denom = dist.reduce(0) { $0 + exp($1 - dist[0]) }
        return Float((1 - 1 / denom) * Double(patchScores[top]))
    }

    /// Saved as safetensors: tensor "bank" [M, D], metadata {"model": "patchcore"}.
    public func save(to url: URL) throws {
        try SafeTensors.write(["bank": WeightTensor(shape: [bankSize, dimension], values: bank)],
                              metadata: ["model": "patchcore", "format": "funad-patchcore/1"], to: url)
    }

    public static func load(from url: URL) throws -> PatchCore {
        let tensors = try SafeTensors.read(url)
        guard let b = tensors["bank"], b.shape.count == 2 else {
            throw InferenceError("\(url.path): expected a 2-d tensor 'bank' [M, D] in a PatchCore file")
        }
        do { return try PatchCore(bank: b.values, dimension: b.shape[1]) } catch let e as InferenceError {
            throw InferenceError("\(url.path): \(e.description)")
        }
    }
}
