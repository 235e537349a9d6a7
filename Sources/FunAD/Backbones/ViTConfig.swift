/// Architecture of a DINO Vision Transformer (Caron et al. 2021; DINO's
/// `vision_transformer.py`, equal to timm's `VisionTransformer` with qkv_bias=True):
/// non-overlapping patch embedding, a learnable class token, learned position embeddings,
/// `depth` pre-norm blocks (x += attn(norm1(x)); x += mlp(norm2(x))), a final LayerNorm,
/// all LayerNorms with eps 1e-6, exact GELU in the MLP.
public struct ViTConfig: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var patchSize: Int
    public var dim: Int
    public var depth: Int
    public var heads: Int
    public var mlpRatio: Int
    /// Input side the position embeddings were trained at (224 for DINO): they cover a
    /// (trainedInputSize / patchSize)² grid and are interpolated for other sides.
    public var trainedInputSize: Int
    public var layerNormEps: Float

    public init(name: String, patchSize: Int, dim: Int, depth: Int, heads: Int,
                mlpRatio: Int = 4, trainedInputSize: Int = 224, layerNormEps: Float = 1e-6) {
        precondition(patchSize > 0 && dim > 0 && depth > 0 && heads > 0 && dim % heads == 0 && mlpRatio > 0,
                     "ViTConfig \(name): dim \(dim) must split into \(heads) heads")
        self.name = name
        self.patchSize = patchSize
        self.dim = dim
        self.depth = depth
        self.heads = heads
        self.mlpRatio = mlpRatio
        self.trainedInputSize = trainedInputSize
        self.layerNormEps = layerNormEps
    }

    /// DINO ViT-S/8 (`dino_vits8`): the paper's lighter option, 384 + 384 = 768-d patch features.
    public static let vitS8 = ViTConfig(name: "vit-s8", patchSize: 8, dim: 384, depth: 12, heads: 6)
    /// DINO ViT-B/8 (`dino_vitb8`): the paper's backbone (METHOD.md step 2), 1536-d patch features.
    public static let vitB8 = ViTConfig(name: "vit-b8", patchSize: 8, dim: 768, depth: 12, heads: 12)
    public static let vitS16 = ViTConfig(name: "vit-s16", patchSize: 16, dim: 384, depth: 12, heads: 6)
    public static let vitB16 = ViTConfig(name: "vit-b16", patchSize: 16, dim: 768, depth: 12, heads: 12)
    public static let presets: [ViTConfig] = [.vitS8, .vitB8, .vitS16, .vitB16]

    /// A preset by name: "vit-b8", also "dino_vitb8" / "vitb8" / "ViT-B/8" spellings.
    public static func named(_ name: String) -> ViTConfig? {
        let key = name.lowercased().filter { $0.isLetter || $0.isNumber }
            .replacingOccurrences(of: "dino", with: "")
        return presets.first { $0.name.filter { $0.isLetter || $0.isNumber } == key }
    }

    public var description: String {
        "\(name) (patch \(patchSize), dim \(dim), depth \(depth), heads \(heads), mlp ×\(mlpRatio))"
    }

    public var headDim: Int { dim / heads }
    public var hiddenDim: Int { dim * mlpRatio }
    /// Side of the square patch grid the position embeddings were trained for.
    public var trainedGrid: Int { trainedInputSize / patchSize }

    /// Every parameter with its shape, in the DINO checkpoint's state-dict names and order.
    public var parameterShapes: [(name: String, shape: [Int])] {
        var list: [(name: String, shape: [Int])] = [
            ("cls_token", [1, 1, dim]),
            ("pos_embed", [1, trainedGrid * trainedGrid + 1, dim]),
            ("patch_embed.proj.weight", [dim, 3, patchSize, patchSize]),
            ("patch_embed.proj.bias", [dim]),
        ]
        for b in 0..<depth {
            let p = "blocks.\(b)."
            list += [
                (p + "norm1.weight", [dim]), (p + "norm1.bias", [dim]),
                (p + "attn.qkv.weight", [3 * dim, dim]), (p + "attn.qkv.bias", [3 * dim]),
                (p + "attn.proj.weight", [dim, dim]), (p + "attn.proj.bias", [dim]),
                (p + "norm2.weight", [dim]), (p + "norm2.bias", [dim]),
                (p + "mlp.fc1.weight", [hiddenDim, dim]), (p + "mlp.fc1.bias", [hiddenDim]),
                (p + "mlp.fc2.weight", [dim, hiddenDim]), (p + "mlp.fc2.bias", [dim]),
            ]
        }
        list += [("norm.weight", [dim]), ("norm.bias", [dim])]
        return list
    }

    /// Name → shape of every tensor a converted checkpoint must hold (importer/CLI validation).
    public var expectedShapes: [String: [Int]] {
        Dictionary(uniqueKeysWithValues: parameterShapes.map { ($0.name, $0.shape) })
    }

    /// Multiply-adds ×2 of one forward pass at input `side` (for GFLOP/s figures).
    public func flops(forInput side: Int) -> Double {
        let g = side / patchSize
        let n = Double(g * g + 1), d = Double(dim), h = Double(hiddenDim)
        let patch = Double(g * g) * d * Double(3 * patchSize * patchSize)
        let linear = n * d * (3 * d + d + 2 * h)
        let attention = 2 * n * n * d
        return 2 * (patch + Double(depth) * (linear + attention))
    }
}
