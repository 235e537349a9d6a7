import Foundation

/// One synthetic anomaly: the blended image, its mask, and how it was made (for the
/// stage's record; the mask is not used for training — METHOD.md step 3).
public struct SyntheticAnomaly: Sendable, Equatable {
    /// 3 × size × size, values in [0, 1] (not normalised).
    public var image: ImagePlanes
    /// 1 × size × size, exactly 0 or 1, never all 0.
    public var mask: ImagePlanes
    /// Training-set index of the image the anomaly was pasted on.
    public var baseIndex: Int
    /// Training-set index of the image the texture came from.
    public var textureIndex: Int
    /// Blend factor β ~ U(0, 0.8).
    public var beta: Float
    /// Perlin lattice resolution (2^a, 2^b) of the mask's noise.
    public var perlinResolution: (y: Int, x: Int)
    /// Rotation applied to the noise, degrees in [−90, 90].
    public var rotation: Double
    /// The three texture augmentations, in the order applied.
    public var augmentations: [String]

    /// How the sample was made, for the stage's JSON record.
    public struct Record: Sendable, Equatable, Codable {
        public var baseIndex: Int
        public var textureIndex: Int
        public var beta: Float
        public var perlinResolution: [Int]
        public var rotationDegrees: Double
        public var augmentations: [String]
        public var maskPixels: Int
    }

    public var record: Record {
        Record(baseIndex: baseIndex, textureIndex: textureIndex, beta: beta,
               perlinResolution: [perlinResolution.y, perlinResolution.x], rotationDegrees: rotation,
               augmentations: augmentations, maskPixels: mask.data.reduce(0) { $0 + ($1 != 0 ? 1 : 0) })
    }

    public static func == (l: SyntheticAnomaly, r: SyntheticAnomaly) -> Bool {
        l.image == r.image && l.mask == r.mask && l.baseIndex == r.baseIndex && l.textureIndex == r.textureIndex
            && l.beta == r.beta && l.perlinResolution == r.perlinResolution && l.rotation == r.rotation
            && l.augmentations == r.augmentations
    }
}

/// FUN-AD*'s synthetic anomalies, DRAEM style (METHOD.md Pipeline step 3):
/// mask = rotate(Perlin noise at lattice 2^a × 2^b, a, b ∈ {0…5}; angle ∈ [−90°, 90°]) > 0.5,
/// redrawn until non-empty; texture = another training image, augmented (3 ops);
/// result = img·(1−m) + (1−β)·tex·m + β·img·m with β ~ U(0, 0.8).
/// Works on preprocessed images (after Resize 256 → CenterCrop 224), at their size, which
/// must be a multiple of 32 (the largest lattice); 224 = 7 · 32. Count = ⌊ratio · N_train⌋.
/// Each sample draws from its own seeded stream, so results do not depend on threading.
public struct PerlinAnomalySynthesizer: Sendable {
    public var ratio: Double
    public var seed: UInt64
    public var threads: Int
    /// Redraws allowed for an empty mask before giving up (an empty draw has probability
    /// well under 1/2, so 1000 failures in a row do not happen with a working generator).
    static let maxMaskDraws = 1000

    public init(ratio: Double = 0.05, seed: UInt64, threads: Int = 2) throws {
        guard ratio >= 0, ratio <= 1 else {
            throw SynthesisError("synthesize: ratio must be in [0, 1], got \(ratio)")
        }
        self.ratio = ratio
        self.seed = seed
        self.threads = max(1, threads)
    }

    /// ⌊ratio · N_train⌋.
    public func count(trainingSize n: Int) -> Int {
        Int((ratio * Double(n)).rounded(.down))
    }

    /// A non-empty Perlin mask (`size × size`, values 0/1) and how it was drawn.
    static func mask(size: Int, rng: inout SplitMix64) throws -> (mask: [Float], res: (Int, Int), angle: Double) {
        for _ in 0..<maxMaskDraws {
            let ry = 1 << rng.nextInt(below: 6), rx = 1 << rng.nextInt(below: 6)
            let noise = PerlinNoise.noise(height: size, width: size, resY: ry, resX: rx, rng: &rng)
            let angle = -90 + 180 * rng.nextDouble()
            let rotated = PlaneWarp.rotate(noise, height: size, width: size, degrees: angle)
            let mask = rotated.map { $0 > 0.5 ? Float(1) : 0 }
            if mask.contains(1) { return (mask, (ry, rx), angle) }
        }
        throw SynthesisError("synthesize: \(maxMaskDraws) Perlin masks in a row were empty")
    }

    /// Makes ⌊ratio · trainingCount⌋ anomalies. `image(i)` returns preprocessed training
    /// image i (3 × S × S in [0, 1]); it is called for base and texture images only.
    public func synthesize(trainingCount: Int,
                           image: @escaping @Sendable (Int) throws -> ImagePlanes) throws -> [SyntheticAnomaly] {
        let n = count(trainingSize: trainingCount)
        if n == 0 { return [] }
        // Distinct base images, drawn once from the main stream.
        var rng = SplitMix64(seed: seed)
        var order = Array(0..<trainingCount)
        rng.shuffle(&order)
        let bases = Array(order.prefix(n))
        let seed = self.seed
        let results = parallelMap(n, threads: threads) { k in
            Result { try Self.sample(k, base: bases[k], trainingCount: trainingCount, seed: seed, image: image) }
        }
        return try results.map { try $0.get() }
    }

    static func sample(_ k: Int, base: Int, trainingCount: Int, seed: UInt64,
                       image: (Int) throws -> ImagePlanes) throws -> SyntheticAnomaly {
        var rng = SplitMix64.derived(seed: seed, stream: UInt64(k) + 1)
        var textureIndex = base
        if trainingCount > 1 {
            textureIndex = rng.nextInt(below: trainingCount - 1)
            if textureIndex >= base { textureIndex += 1 }
        }
        let img = try image(base)
        var tex = try image(textureIndex)
        guard img.channels == 3, img.width == img.height, img.width % 32 == 0,
              tex.width == img.width, tex.height == img.height, tex.channels == 3 else {
            throw SynthesisError("synthesize: training images must be 3×S×S with S a multiple of 32 "
                                 + "(got \(img.channels)×\(img.height)×\(img.width) and \(tex.channels)×\(tex.height)×\(tex.width))")
        }
        var ops = TextureAugmentation.allCases
        rng.shuffle(&ops)
        for op in ops.prefix(3) { tex = op.apply(tex, rng: &rng) }
        let (mask, res, angle) = try mask(size: img.width, rng: &rng)
        let beta = Float(0.8 * rng.nextDouble())
        let plane = img.width * img.height
        var out = img
        for c in 0..<3 {
            for i in 0..<plane where mask[i] != 0 {
                let x = img.data[c * plane + i], t = tex.data[c * plane + i]
                // img·(1−m) + (1−β)·tex·m + β·img·m with m = 1 here (m = 0 keeps img).
                out.data[c * plane + i] = (1 - beta) * t + beta * x
            }
        }
        return SyntheticAnomaly(image: out, mask: ImagePlanes(width: img.width, height: img.height, channels: 1, data: mask),
                                baseIndex: base, textureIndex: textureIndex, beta: beta,
                                perlinResolution: (res.0, res.1), rotation: angle,
                                augmentations: ops.prefix(3).map(\.rawValue))
    }
}

public struct SynthesisError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
