import Foundation
import Testing
@testable import FunAD

/// The reduced fixture model: DINO architecture, patch 8, dim 128, depth 2, 2 heads,
/// position embeddings trained at 64 px (8×8 grid).
let tinyConfig = ViTConfig(name: "vit-tiny", patchSize: 8, dim: 128, depth: 2, heads: 2, trainedInputSize: 64)

@Suite struct ViTTests {
    /// Swift's forward pass against PyTorch's (DINO's code) on the same weights and inputs:
    /// at the trained side (no interpolation), and at 100 px (grid 12, bicubic upsampling of
    /// the position embeddings, 4 px dropped by the stride-8 patch conv) and 40 px (grid 5,
    /// downsampling). Tolerance 1e-3 of the output scale (the parity bound).
    @Test(arguments: [64, 100, 40])
    func matchesPyTorch(side: Int) throws {
        let weights = try ViTWeights(config: tinyConfig, tensors: vitFixture("tiny.weights.safetensors"))
        let io = try vitFixture("tiny.io.safetensors")
        let input = io["side\(side).input"]!
        let batch = input.shape[0]
        for threading in [ViTThreading.batchParallel(), .blasParallel(imagesPerChunk: 2)] {
            let vit = ViT(weights: weights, threading: threading)
            let out = try vit.forward(input.values, batch: batch, side: side)
            let g = side / 8
            #expect(out.gridHeight == g && out.gridWidth == g && out.batch == batch)
            let cls = io["side\(side).cls"]!.values, patches = io["side\(side).patches"]!.values
            let scale = max(cls.map(abs).max()!, patches.map(abs).max()!)
            let errCls = maxAbsDifference(out.global, cls), errPatches = maxAbsDifference(out.local, patches)
            print("ViT tiny side \(side) \(threading): max abs error cls \(errCls), patches \(errPatches), scale \(scale)")
            #expect(errCls <= 1e-3 * scale)
            #expect(errPatches <= 1e-3 * scale)
        }
    }

    /// Three images on two workers: two run in parallel (BLAS 1 thread each), the third
    /// alone afterwards (BLAS 2 threads). Each image's features must not depend on which
    /// path or workspace it went through: compare with PyTorch's per-image outputs.
    @Test func oddBatchUsesBothPathsAndKeepsImagesApart() throws {
        let weights = try ViTWeights(config: tinyConfig, tensors: vitFixture("tiny.weights.safetensors"))
        let io = try vitFixture("tiny.io.safetensors")
        let x = io["side64.input"]!.values, cls = io["side64.cls"]!.values, patches = io["side64.patches"]!.values
        let n = 3 * 64 * 64, p = 64 * 128
        // Images: #1, #0, #1.
        let input = Array(x[n..<2 * n]) + Array(x[0..<n]) + Array(x[n..<2 * n])
        let out = try ViT(weights: weights, threading: .batchParallel()).forward(input, batch: 3, side: 64)
        let expectedCls = Array(cls[128..<256]) + Array(cls[0..<128]) + Array(cls[128..<256])
        let expectedPatches = Array(patches[p..<2 * p]) + Array(patches[0..<p]) + Array(patches[p..<2 * p])
        #expect(maxAbsDifference(out.global, expectedCls) < 1e-4)
        #expect(maxAbsDifference(out.local, expectedPatches) < 1e-4)
    }

    /// Position-embedding interpolation at the real grids (28×28 from 224/8; 14×14 from
    /// 224/16) against DINO's `interpolate_pos_encoding` in PyTorch. Only float rounding
    /// separates the two (≤ 16-term sums): 1e-5.
    @Test(arguments: [(28, 8, 320), (28, 8, 96), (14, 16, 100)])
    func positionEmbeddingsResizeLikeDINO(trainedGrid: Int, patch: Int, side: Int) throws {
        let t = try vitFixture("pos_embed.safetensors")
        let pos = t["pos\(trainedGrid).pos"]!
        let dim = pos.shape[2]
        let resized = pos.values.withUnsafeBufferPointer {
            ViTPositionEmbedding.resized($0.baseAddress!, trainedGrid: trainedGrid, grid: side / patch, dim: dim)
        }
        #expect(maxAbsDifference(resized, t["pos\(trainedGrid).side\(side)"]!.values) < 1e-5)
    }

    @Test func unchangedGridKeepsTrainedEmbeddingsExactly() {
        let pos: [Float] = (0..<(5 * 5 + 1) * 3).map { Float($0) * 0.01 }
        let same = pos.withUnsafeBufferPointer { ViTPositionEmbedding.resized($0.baseAddress!, trainedGrid: 5, grid: 5, dim: 3) }
        #expect(same == pos)
    }

    @Test func loaderNamesEveryMissingKeyAndWrongShape() throws {
        var tensors = try vitFixture("tiny.weights.safetensors")
        tensors["blocks.1.mlp.fc1.bias"] = nil
        tensors["pos_embed"] = WeightTensor(shape: [1, 2, 128], values: [Float](repeating: 0, count: 256))
        tensors["head.weight"] = WeightTensor(shape: [1], values: [0])  // extra keys are ignored
        #expect {
            _ = try ViTWeights(config: tinyConfig, tensors: tensors, source: "tiny.safetensors")
        } throws: { error in
            "\(error)" == "tiny.safetensors: not a vit-tiny checkpoint: tensor 'pos_embed' has shape [1, 2, 128], expected [1, 65, 128]; missing tensor 'blocks.1.mlp.fc1.bias' (shape [512])"
        }
    }

    @Test func loaderAcceptsAKeyPrefix() throws {
        let plain = try vitFixture("tiny.weights.safetensors")
        let prefixed = Dictionary(uniqueKeysWithValues: plain.map { ("teacher.backbone." + $0.key, $0.value) })
        let a = try ViTWeights(config: tinyConfig, tensors: plain)
        let b = try ViTWeights(config: tinyConfig, tensors: prefixed, keyPrefix: "teacher.backbone.")
        #expect(a.storage == b.storage)
        #expect(throws: WeightsError.self) { _ = try ViTWeights(config: tinyConfig, tensors: prefixed) }
    }

    @Test func expectedShapesAreDINOsStateDict() {
        let s = ViTConfig.vitB8.expectedShapes
        #expect(s.count == 4 + 12 * 12 + 2)
        #expect(s["pos_embed"] == [1, 785, 768])
        #expect(s["patch_embed.proj.weight"] == [768, 3, 8, 8])
        #expect(s["blocks.11.attn.qkv.weight"] == [2304, 768])
        #expect(s["blocks.0.mlp.fc1.weight"] == [3072, 768])
        #expect(ViTConfig.vitS16.expectedShapes["pos_embed"] == [1, 197, 384])
        // ViT-B/8 has 85.8 M parameters (DINO's model card: 85M).
        let params = ViTConfig.vitB8.parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) }
        #expect(params == 85_807_872)
        #expect(ViTConfig.named("dino_vitb8") == .vitB8 && ViTConfig.named("ViT-S/16") == .vitS16)
    }

    @Test func seededInitIsReproducibleAndRoundTripsThroughSafeTensors() throws {
        let a = ViTWeights(config: tinyConfig, seed: 7), b = ViTWeights(config: tinyConfig, seed: 7)
        let c = ViTWeights(config: tinyConfig, seed: 8)
        #expect(a.storage == b.storage && a.storage != c.storage)
        let back = try ViTWeights(config: tinyConfig, tensors: SafeTensors.decode(SafeTensors.encode(a.tensors)))
        #expect(back.storage == a.storage)
        // fc1 weight: U(±√(3/128)), so its variance is 1/128.
        let w = a.tensors["blocks.0.mlp.fc1.weight"]!.values
        let variance = w.reduce(0) { $0 + Double($1 * $1) } / Double(w.count)
        #expect(abs(variance * 128 - 1) < 0.05)
    }

    @Test func badInputIsAnErrorNamingTheExpectedShape() {
        let vit = ViT(weights: ViTWeights(config: tinyConfig, seed: 1))
        #expect {
            _ = try vit.forward([Float](repeating: 0, count: 10), batch: 1, side: 64)
        } throws: { error in
            "\(error)" == "vit-tiny: images hold 10 values, expected batch 1 × 3 × 64 × 64 = 12288"
        }
        #expect(throws: BackboneError.self) { _ = try vit.forward([Float](repeating: 0, count: 48), batch: 1, side: 4) }
    }
}
