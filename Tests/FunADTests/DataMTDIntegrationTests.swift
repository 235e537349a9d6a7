import Foundation
import Testing
@testable import FunAD

/// The real MTD copy (../shared/data/MTD relative to the package root, or $FUNAD_MTD_ROOT):
/// counts must equal its SOURCE.md table. Skipped, with a printed note, when absent.
enum MTDLocation {
    static let root: URL? = {
        if let env = ProcessInfo.processInfo.environment["FUNAD_MTD_ROOT"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        // This file is <package>/Tests/FunADTests/…; the package root is two levels up.
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let candidate = package.deletingLastPathComponent().appendingPathComponent("shared/data/MTD")
        return candidate
    }()

    static var available: Bool {
        guard let root else { return false }
        let ok = FileManager.default.fileExists(atPath: root.appendingPathComponent("MT_Free/Imgs").path)
        if !ok { print("note: MTD not found at \(root.path) (set FUNAD_MTD_ROOT); skipping the MTD integration test") }
        return ok
    }
}

@Suite struct DataMTDIntegrationTests {
    @Test(.enabled(if: MTDLocation.available, "MTD dataset not present"))
    func countsMatchSourceMD() throws {
        let d = try DatasetLoader.mtd(root: MTDLocation.root!, split: SeededSplit(trainFraction: 0.8, seed: 0))
        #expect(d.items.count == 1344)
        let byClass = Dictionary(grouping: d.items, by: \.defectType).mapValues(\.count)
        #expect(byClass == ["blowhole": 115, "break": 85, "crack": 57, "fray": 32, "uneven": 103, "good": 952])
        #expect(d.items.filter { $0.maskPath != nil }.count == 1344)
        #expect(d.count(split: .train) == 761)          // ⌊0.8 · 952⌋
        #expect(d.count(split: .test, label: .normal) == 191)
        #expect(d.count(split: .test, label: .anomalous) == 392)
        print(d.countsDescription)
    }

    /// Full decode of every image and mask (2 lanes): MTD has no bad files.
    @Test(.enabled(if: MTDLocation.available, "MTD dataset not present"))
    func everyFileDecodes() throws {
        let d = try DatasetLoader.mtd(root: MTDLocation.root!, split: SeededSplit())
        let report = try DatasetValidation(depth: .decode, policy: .fail).run(d)
        #expect(report.checkedFiles == 2688)
        #expect(report.skipped.isEmpty)
    }
}

/// Real MTD JPEGs through decode + Resize(256) + CenterCrop(224), against Pillow's output
/// for the same files (scripts/fixtures/imaging.py): identical bytes expected.
@Suite struct DataMTDPipelineTests {
    @Test(.enabled(if: MTDLocation.available, "MTD dataset not present"),
          arguments: ImagingFixtures.names("mtd_pipeline"))
    func preprocessingMatchesPillowOnRealImages(_ name: String) throws {
        let e = try ImagingFixtures.entry(name)
        let url = MTDLocation.root!.appendingPathComponent(e["image"] as! String)
        let decoded = try ImageDecoder().decodePixels(at: url)
        #expect(decoded.channels == 1)
        #expect([decoded.width, decoded.height] == e["source_size"] as! [Int])
        let out = try Preprocessor().pixels(decoded)
        let expected = try ImagingFixtures.bytes(e["file"] as! String)
        let worst = zip(out.bytes, expected).map { abs(Int($0) - Int($1)) }.max() ?? -1
        print("MTD \(e["image"]!): max |Δ| vs Pillow = \(worst)/255")
        #expect(out.bytes.count == expected.count)
        #expect(worst == 0)
    }
}
