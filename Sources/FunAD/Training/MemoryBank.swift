/// The IRMB memory bank M (METHOD.md step 1, paper Eq. 26): adapted features φ_a(f) of
/// the images that the bank policy selected, with the identity (image, patch) of every
/// row so that a query's own copy can be excluded by identity.
public struct MemoryBank: Sendable, Equatable {
    /// Bank images, in draw order.
    public var imageIndices: [Int]
    /// (rows, D) adapted features.
    public var features: [Float]
    /// Image and patch position of each row.
    public var rowImage: [Int32]
    public var rowPatch: [Int32]
    public let dimension: Int

    public var rowCount: Int { rowImage.count }

    /// Bank row of (image, patch), for self-exclusion; built on demand by the trainer.
    func rowLookup(patchesPerImage p: Int) -> [Int: Int32] {
        var map: [Int: Int32] = [:]
        map.reserveCapacity(rowCount)
        for r in 0..<rowCount { map[Int(rowImage[r]) * p + Int(rowPatch[r])] = Int32(r) }
        return map
    }
}

/// One bank refresh, for the run record (METHOD.md "What to watch"). The image indices
/// let the caller, who alone knows which training images are defective, report the
/// bank's purity.
public struct BankRefreshRecord: Sendable, Equatable, Codable {
    /// Global iteration (0-based) before which the bank was rebuilt, and its epoch.
    public var iteration: Int
    public var epoch: Int
    public var imageCount: Int
    public var patchCount: Int
    public var imageIndices: [Int]
}

/// Builds the bank: scores every training image with the current φ (image score = max
/// patch score) in one forward GEMM chain that also yields φ_a, lets the policy pick
/// the bank images, and gathers their adapted features.
struct MemoryBankBuilder {
    let source: any PatchFeatureSource
    let policy: any BankSelectionPolicy
    let bankPatches: Int?
    /// Images scored per forward chunk (rows = imagesPerChunk × P).
    let imagesPerChunk: Int

    init(source: any PatchFeatureSource, policy: any BankSelectionPolicy, bankPatches: Int?) {
        self.source = source
        self.policy = policy
        self.bankPatches = bankPatches
        self.imagesPerChunk = max(1, 4096 / max(1, source.patchesPerImage))
    }

    /// Image scores (max patch score) of every image, with every image's adapted
    /// features written to `adaptedStore` (N, P, D) when one is given.
    func scoreAll(parameters: LocalNetParameters, adaptedStore: UnsafeMutablePointer<Float>?) throws -> [Float] {
        let n = source.imageCount, p = source.patchesPerImage, d = source.dimension
        let chunk = min(imagesPerChunk, n)
        let ws = LocalNetWorkspace(shape: parameters.shape, capacity: chunk * p, withBackward: false)
        let x = UnsafeMutablePointer<Float>.allocate(capacity: chunk * p * d)
        defer { x.deallocate() }
        var scores = [Float](repeating: 0, count: n)
        try parameters.values.withUnsafeBufferPointer { w in
            var i0 = 0
            while i0 < n {
                let m = min(chunk, n - i0)
                for k in 0..<m { try source.patchFeatures(ofImage: i0 + k, into: x + k * p * d) }
                let prefix = SharedPrefix.detect(x, images: m, imageRows: p, dimension: d)
                LocalNetPass.forward(parameters: w.baseAddress!, shape: parameters.shape, x: x, rows: m * p, into: ws, prefix: prefix)
                adaptedStore.map { ($0 + i0 * p * d).update(from: ws.adapted, count: m * p * d) }
                for k in 0..<m {
                    var best = -Float.infinity
                    for j in 0..<p { best = max(best, ws.scores[k * p + j]) }
                    scores[i0 + k] = best
                }
                i0 += m
            }
        }
        return scores
    }

    /// A new bank from the current parameters. Draws (policy, bank-patch subsets) come
    /// from `rng` in a fixed order. With `adaptedStore` (N·P·D floats) the scoring pass
    /// keeps every image's φ_a and the bank is gathered from it; without, the bank
    /// images are forwarded a second time (less memory, ≈ bank/N more adaptor work).
    func build(parameters: LocalNetParameters, adaptedStore: UnsafeMutablePointer<Float>?, moment: TrainingMoment,
               rng: inout Xoshiro256StarStar) throws -> MemoryBank {
        let p = source.patchesPerImage, d = source.dimension
        let scores = try scoreAll(parameters: parameters, adaptedStore: adaptedStore)
        let images = try policy.selectBankImages(imageScores: scores, moment: moment, rng: &rng)
        for i in images where !(0..<source.imageCount).contains(i) {
            throw TrainingError("bank selection policy '\(policy.summary)' returned image index \(i); expected 0..<\(source.imageCount)")
        }
        guard Set(images).count == images.count else {
            throw TrainingError("bank selection policy '\(policy.summary)' returned an image more than once; expected distinct indices")
        }
        var rowImage: [Int32] = [], rowPatch: [Int32] = []
        for i in images {
            let patches: [Int]
            if let k = bankPatches, k < p { patches = rng.sample(Array(0..<p), count: k).sorted() } else { patches = Array(0..<p) }
            for j in patches { rowImage.append(Int32(i)); rowPatch.append(Int32(j)) }
        }
        var features = [Float](repeating: 0, count: rowImage.count * d)
        if let adaptedStore {
            features.withUnsafeMutableBufferPointer { f in
                for r in 0..<rowImage.count {
                    (f.baseAddress! + r * d).update(from: adaptedStore + (Int(rowImage[r]) * p + Int(rowPatch[r])) * d, count: d)
                }
            }
        } else {
            try recomputeAdapted(parameters: parameters, images: images, rowImage: rowImage, rowPatch: rowPatch, into: &features)
        }
        return MemoryBank(imageIndices: images, features: features, rowImage: rowImage, rowPatch: rowPatch, dimension: d)
    }

    /// φ_a of the bank rows by forwarding the bank images again, a chunk of images at a
    /// time; rows (image, patch) are filled in bank order.
    private func recomputeAdapted(parameters: LocalNetParameters, images: [Int], rowImage: [Int32], rowPatch: [Int32],
                                  into features: inout [Float]) throws {
        let p = source.patchesPerImage, d = source.dimension
        let chunk = max(1, min(imagesPerChunk, images.count))
        let ws = LocalNetWorkspace(shape: parameters.shape, capacity: chunk * p, withBackward: false)
        let x = UnsafeMutablePointer<Float>.allocate(capacity: chunk * p * d)
        defer { x.deallocate() }
        var row = 0
        try parameters.values.withUnsafeBufferPointer { w in
            try features.withUnsafeMutableBufferPointer { f in
                var i0 = 0
                while i0 < images.count {
                    let m = min(chunk, images.count - i0)
                    for k in 0..<m { try source.patchFeatures(ofImage: images[i0 + k], into: x + k * p * d) }
                    let prefix = SharedPrefix.detect(x, images: m, imageRows: p, dimension: d)
                    LocalNetPass.forward(parameters: w.baseAddress!, shape: parameters.shape, x: x, rows: m * p, into: ws, prefix: prefix)
                    for k in 0..<m {
                        while row < rowImage.count && Int(rowImage[row]) == images[i0 + k] {
                            (f.baseAddress! + row * d).update(from: ws.adapted + (k * p + Int(rowPatch[row])) * d, count: d)
                            row += 1
                        }
                    }
                    i0 += m
                }
            }
        }
    }
}
