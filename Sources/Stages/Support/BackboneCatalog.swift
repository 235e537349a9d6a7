import Foundation
import FunAD

/// The backbones a workflow can name, and how their weights are read.
enum BackboneCatalog {
    static let names = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2",
                        "dino_vits8", "dino_vitb8", "dino_vits16", "dino_vitb16"]

    static func vitConfig(_ name: String) -> ViTConfig? {
        switch name {
        case "dino_vits8": return .vitS8
        case "dino_vitb8": return .vitB8
        case "dino_vits16": return .vitS16
        case "dino_vitb16": return .vitB16
        default: return nil
        }
    }

    static func efficientNetVariant(_ name: String) -> EfficientNetLite.Variant? {
        guard name.hasPrefix("efficientnet_") else { return nil }
        return EfficientNetLite.Variant(rawValue: String(name.dropFirst("efficientnet_".count)))
    }

    /// Reads a weights file: safetensors, or a PyTorch checkpoint (.pth/.pt, zip or legacy
    /// format) through the restricted importer; `prefix` selects a sub-dictionary such as
    /// `teacher.backbone.` of a DINO training checkpoint.
    static func readWeights(_ url: URL, prefix: String?) throws -> [String: WeightTensor] {
        if url.pathExtension.lowercased() == "safetensors" {
            var t = try SafeTensors.read(url)
            if let prefix, !prefix.isEmpty {
                t = Dictionary(uniqueKeysWithValues: t.compactMap { k, v in k.hasPrefix(prefix) ? (String(k.dropFirst(prefix.count)), v) : nil })
            }
            return t
        }
        return try PyTorchCheckpoint.read(url, prefix: prefix)
    }

    /// Seeded random tensors of the expected shapes (for tests and benchmarks only:
    /// features from random weights are not meaningful). Variances are kept positive.
    static func randomWeights(_ shapes: [String: [Int]], seed: UInt64) -> [String: WeightTensor] {
        var rng = SplitMix64(seed: seed)
        var out: [String: WeightTensor] = [:]
        for name in shapes.keys.sorted() {
            let shape = shapes[name]!
            let n = shape.reduce(1, *)
            let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
            let scale = Float(1 / Double(fanIn).squareRoot())
            let values: [Float]
            if name.hasSuffix("running_var") { values = (0..<n).map { _ in 0.5 + rng.nextFloat() } }
            else if name.hasSuffix("bn0.weight") || name.hasSuffix("bn1.weight") || name.hasSuffix("bn2.weight") { values = (0..<n).map { _ in 0.5 + rng.nextFloat() } }
            else { values = (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale } }
            out[name] = WeightTensor(shape: shape, values: values)
        }
        return out
    }

    static func make(name: String, weights: URL?, prefix: String?, randomSeed: Int?,
                     localStages: [Int], global: String) throws -> any Backbone {
        if let config = vitConfig(name) {
            if let weights {
                return ViT(weights: try ViTWeights(config: config, tensors: try readWeights(weights, prefix: prefix), source: weights.path))
            }
            guard let seed = randomSeed else { throw missingWeights(name) }
            return ViT(weights: ViTWeights(config: config, seed: UInt64(seed)))
        }
        guard let variant = efficientNetVariant(name) else { throw StageError("unknown backbone '\(name)'") }
        let layers = EfficientNetLite.Layers(localStages: localStages, global: global == "last_block" ? .lastBlock : .head)
        if let weights {
            return try EfficientNetLite(variant, weights: try readWeights(weights, prefix: prefix), source: weights.path, layers: layers)
        }
        guard let seed = randomSeed else { throw missingWeights(name) }
        return try EfficientNetLite(variant, weights: randomWeights(EfficientNetLite.expectedShapes(variant), seed: UInt64(seed)),
                                    source: "random(seed \(seed))", layers: layers)
    }

    static func missingWeights(_ name: String) -> StageError {
        StageError("backbone \(name) needs 'weights' (a .safetensors or PyTorch .pth file; see `funad weights import`), or 'random_weights_seed' for a random-weight test run")
    }
}
