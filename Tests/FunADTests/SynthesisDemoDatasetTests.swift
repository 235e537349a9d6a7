import Foundation
import Testing
@testable import FunAD

@Suite struct SynthesisDemoDatasetTests {
    @Test func writesAnMVTecLayoutThatTheLoaderReads() throws {
        let t = try TempTree("demo")
        let root = t.url("wood")
        let summary = try DemoDataset.generate(at: root, category: .wood, seed: 1)
        #expect(summary.defective == ["scratch": 8, "crack": 8, "blob": 7, "spot": 7])
        let d = try DatasetLoader.mvtec(category: root)
        #expect(d.items.count == 130)
        #expect(images(d, .train, "good") == 80)
        #expect(images(d, .test, "good") == 20)
        for type in ["scratch", "crack", "blob", "spot"] {
            #expect(masks(d, .test, type) == images(d, .test, type))
        }
        // Every image decodes at 256×256 RGB; every mask is binary and non-empty.
        let report = try DatasetValidation(policy: .fail).run(d)
        #expect(report.checkedFiles == 160)
        for item in d.items where item.label == .anomalous {
            let mask = try ImageDecoder().decodePixels(at: item.maskPath!)
            #expect(mask.channels == 1 && mask.width == 256)
            #expect(mask.bytes.allSatisfy { $0 == 0 || $0 == 255 })
            #expect(mask.bytes.contains(255), "\(item.id) has an empty mask")
        }
        let img = try ImageDecoder().decodePixels(at: d.items[0].path)
        #expect(img.channels == 3 && img.width == 256 && img.height == 256)
        #expect(Set(img.bytes).count > 20)   // textured, not flat
    }

    @Test func sameSeedSameFilesOtherSeedOtherFiles() throws {
        let t = try TempTree("demo2")
        let counts = DemoDataset.Counts(trainGood: 2, testGood: 1, defective: 4)
        try DemoDataset.generate(at: t.url("a"), category: .fabric, seed: 7, counts: counts, size: 128)
        try DemoDataset.generate(at: t.url("b"), category: .fabric, seed: 7, counts: counts, size: 128, threads: 1)
        try DemoDataset.generate(at: t.url("c"), category: .fabric, seed: 8, counts: counts, size: 128)
        for file in ["train/good/001.png", "test/crack/000.png", "ground_truth/spot/000_mask.png"] {
            let a = try Data(contentsOf: t.url("a/" + file)), b = try Data(contentsOf: t.url("b/" + file))
            let c = try Data(contentsOf: t.url("c/" + file))
            #expect(a == b, "\(file) differs for the same seed")
            #expect(a != c, "\(file) equal for different seeds")
        }
        #expect(throws: SynthesisError.self) {
            try DemoDataset.generate(at: t.url("a"), category: .fabric, seed: 7, counts: counts, size: 128)
        }
    }

    @Test(arguments: DemoCategory.allCases)
    func everyCategoryRendersEveryDefect(_ category: DemoCategory) throws {
        for defect in DemoDefect.allCases {
            var rng = SplitMix64(seed: 3)
            var image = DemoTextures.render(category, size: 128, rng: &rng)
            let before = image
            let mask = defect.paint(on: &image, rng: &rng)
            let n = 128 * 128
            let covered = (0..<n).filter { mask[$0] == 255 }
            #expect(!covered.isEmpty)
            // Pixels under the mask changed; pixels far from it did not.
            let changed = covered.filter { i in (0..<3).contains { abs(image.data[$0 * n + i] - before.data[$0 * n + i]) > 0.02 } }
            #expect(changed.count * 2 > covered.count, "\(category) \(defect): defect barely visible")
            #expect(image.data.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
    }
}
