import Foundation

/// All parameters of a ViT in one contiguous buffer, in `ViTConfig.parameterShapes` order
/// (llm.c style): one allocation, loaded once, read through offsets by the forward pass.
public struct ViTWeights: Sendable {
    public let config: ViTConfig
    /// Concatenation of every parameter tensor, row-major, in `config.parameterShapes` order.
    public let storage: [Float]
    let layout: ViTParameterLayout

    /// Copies the weights from a DINO state dict (e.g. `SafeTensors.read` of a converted
    /// `dino_vitb8_pretrain.pth`). Names are DINO's (`config.parameterShapes`), each looked
    /// up as `keyPrefix + name` (e.g. "teacher.backbone." for a full training checkpoint).
    /// Extra keys (a classifier head, say) are ignored. Every missing key and every wrong
    /// shape is reported together in one error that names `source`.
    public init(config: ViTConfig, tensors: [String: WeightTensor], source: String = "weights",
                keyPrefix: String = "") throws {
        var problems: [String] = []
        for (name, shape) in config.parameterShapes {
            guard let t = tensors[keyPrefix + name] else {
                problems.append("missing tensor '\(keyPrefix + name)' (shape \(shape))")
                continue
            }
            if t.shape != shape { problems.append("tensor '\(keyPrefix + name)' has shape \(t.shape), expected \(shape)") }
        }
        if !problems.isEmpty {
            throw WeightsError("\(source): not a \(config.name) checkpoint: " + problems.joined(separator: "; "))
        }
        var storage: [Float] = []
        storage.reserveCapacity(config.parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) })
        for (name, _) in config.parameterShapes { storage += tensors[keyPrefix + name]!.values }
        self.init(config: config, storage: storage)
    }

    /// Reads a safetensors file (F32/F16/BF16) holding a DINO state dict.
    public init(config: ViTConfig, contentsOf url: URL, keyPrefix: String = "") throws {
        try self.init(config: config, tensors: SafeTensors.read(url), source: url.path, keyPrefix: keyPrefix)
    }

    /// Seeded random weights for tests and benchmarks (not a trained model): linear and
    /// patch-embedding weights U(±√(3/fan_in)) (unit-variance activations, so attention
    /// is not uniform and every layer matters), LayerNorm weights 1 ± 0.1, biases ±0.1,
    /// class token and position embeddings ±0.5. Same seed, same weights, on any machine.
    public init(config: ViTConfig, seed: UInt64) {
        var storage = [Float](repeating: 0, count: config.parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) })
        var offset = 0
        var stream = SplitMix64(seed: seed)
        for (name, shape) in config.parameterShapes {
            let count = shape.reduce(1, *)
            let (center, halfWidth): (Float, Float)
            if name.hasSuffix(".weight") && shape.count >= 2 {
                (center, halfWidth) = (0, (3 / Float(count / shape[0])).squareRoot())
            } else if name.hasSuffix(".weight") {
                (center, halfWidth) = (1, 0.1)
            } else if name.hasSuffix(".bias") {
                (center, halfWidth) = (0, 0.1)
            } else {
                (center, halfWidth) = (0, 0.5)
            }
            for i in 0..<count { storage[offset + i] = center + halfWidth * (2 * stream.nextFloat() - 1) }
            offset += count
        }
        self.init(config: config, storage: storage)
    }

    init(config: ViTConfig, storage: [Float]) {
        self.config = config
        self.storage = storage
        self.layout = ViTParameterLayout(config)
    }

    /// The weights back as a state dict (names and shapes as DINO's), e.g. to write with SafeTensors.
    public var tensors: [String: WeightTensor] {
        var out: [String: WeightTensor] = [:]
        var offset = 0
        for (name, shape) in config.parameterShapes {
            let count = shape.reduce(1, *)
            out[name] = WeightTensor(shape: shape, values: Array(storage[offset..<offset + count]))
            offset += count
        }
        return out
    }
}

/// Offsets of each parameter inside `ViTWeights.storage`.
struct ViTParameterLayout: Sendable {
    struct Block: Sendable {
        var norm1Weight = 0, norm1Bias = 0, qkvWeight = 0, qkvBias = 0, projWeight = 0, projBias = 0
        var norm2Weight = 0, norm2Bias = 0, fc1Weight = 0, fc1Bias = 0, fc2Weight = 0, fc2Bias = 0
    }
    var clsToken = 0, posEmbed = 0, patchWeight = 0, patchBias = 0, normWeight = 0, normBias = 0
    var blocks: [Block]

    init(_ config: ViTConfig) {
        var offsets: [String: Int] = [:]
        var offset = 0
        for (name, shape) in config.parameterShapes {
            offsets[name] = offset
            offset += shape.reduce(1, *)
        }
        clsToken = offsets["cls_token"]!
        posEmbed = offsets["pos_embed"]!
        patchWeight = offsets["patch_embed.proj.weight"]!
        patchBias = offsets["patch_embed.proj.bias"]!
        normWeight = offsets["norm.weight"]!
        normBias = offsets["norm.bias"]!
        blocks = (0..<config.depth).map { b in
            let p = "blocks.\(b)."
            var o = Block()
            o.norm1Weight = offsets[p + "norm1.weight"]!
            o.norm1Bias = offsets[p + "norm1.bias"]!
            o.qkvWeight = offsets[p + "attn.qkv.weight"]!
            o.qkvBias = offsets[p + "attn.qkv.bias"]!
            o.projWeight = offsets[p + "attn.proj.weight"]!
            o.projBias = offsets[p + "attn.proj.bias"]!
            o.norm2Weight = offsets[p + "norm2.weight"]!
            o.norm2Bias = offsets[p + "norm2.bias"]!
            o.fc1Weight = offsets[p + "mlp.fc1.weight"]!
            o.fc1Bias = offsets[p + "mlp.fc1.bias"]!
            o.fc2Weight = offsets[p + "mlp.fc2.weight"]!
            o.fc2Bias = offsets[p + "mlp.fc2.bias"]!
            return o
        }
    }
}

