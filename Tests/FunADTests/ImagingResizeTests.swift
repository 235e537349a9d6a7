import Foundation
import Testing
@testable import FunAD

/// Resize / crop / normalise against Pillow 13 (scripts/fixtures/imaging.py). Pillow's
/// fixed-point arithmetic and pass order are reproduced, so the expectation is identical
/// uint8 outputs (stricter than the brief's 1/255).
@Suite struct ImagingResizeTests {
    static let bilinearCases = ImagingFixtures.names("resize")
    static let nearestCases = ImagingFixtures.names("nearest")
    static let pipelineCases = ImagingFixtures.names("pipeline")

    static func compare(_ name: String, nearest: Bool) throws -> Int {
        let entry = try ImagingFixtures.entry(name)
        let src = try ImageDecoder().decodePixels(at: ImagingFixtures.url(entry["source"] as! String))
        #expect(src.channels == entry["channels"] as! Int)
        let w = entry["out_width"] as! Int, h = entry["out_height"] as! Int
        let out = nearest ? src.resizedNearest(width: w, height: h) : src.resizedBilinear(width: w, height: h)
        let expected = try ImagingFixtures.bytes(entry["file"] as! String)
        #expect(out.width == w && out.height == h)
        #expect(out.bytes.count == expected.count)
        var worst = 0
        for i in 0..<min(out.bytes.count, expected.count) {
            worst = max(worst, abs(Int(out.bytes[i]) - Int(expected[i])))
        }
        return worst
    }

    @Test func fixturesArePresent() {
        #expect(Self.bilinearCases.count == 8)
        #expect(Self.nearestCases.count == 3)
        #expect(Self.pipelineCases.count == 3)
    }

    @Test(arguments: bilinearCases)
    func bilinearMatchesPillow(_ name: String) throws {
        let worst = try Self.compare(name, nearest: false)
        print("bilinear \(name): max |Δ| = \(worst)/255")
        #expect(worst == 0)
    }

    /// The fixture case where Pillow 13 runs the vertical pass first (height shrinks by 36
    /// rows, width by 16): the legacy horizontal-first order differs there by one level.
    @Test func passOrderFollowsPillow13() throws {
        #expect(!PillowResize.horizontalFirst(inW: 23, inH: 41, outW: 7, outH: 5))
        #expect(PillowResize.horizontalFirst(inW: 300, inH: 211, outW: 256, outH: 256))
        #expect(PillowResize.horizontalFirst(inW: 60, inH: 60, outW: 32, outH: 4))    // 56 > 56 is false
        #expect(!PillowResize.horizontalFirst(inW: 60, inH: 60, outW: 36, outH: 4))
        let entry = try ImagingFixtures.entry("bilinear_gray_down_23x41_to_7x5")
        let src = try ImageDecoder().decodePixels(at: ImagingFixtures.url(entry["source"] as! String))
        let expected = try ImagingFixtures.bytes(entry["file"] as! String)
        let legacy = src.resizedBilinear(width: 7, height: 5, legacyPassOrder: true)
        let diffs = zip(legacy.bytes, expected).map { abs(Int($0) - Int($1)) }
        #expect(diffs.max() == 1)
        #expect(src.resizedBilinear(width: 7, height: 5).bytes == expected)
    }

    @Test(arguments: nearestCases)
    func nearestMatchesPillow(_ name: String) throws {
        #expect(try Self.compare(name, nearest: true) == 0)
    }

    @Test(arguments: pipelineCases)
    func resizeThenCropMatchesTorchvisionOnPIL(_ name: String) throws {
        let entry = try ImagingFixtures.entry(name)
        let pre = try Preprocessor(resize: entry["resize"] as! Int, crop: entry["crop"] as! Int)
        let planes = try pre.image(at: ImagingFixtures.url(entry["source"] as! String))
        let crop = entry["crop"] as! Int
        #expect(planes.width == crop && planes.height == crop && planes.channels == 3)
        let expected = try ImagingFixtures.bytes(entry["file"] as! String).map { Float($0) / 255 }
        let diff = maxAbsDifference(planes.interleaved, expected)
        print("pipeline \(name): max abs error \(diff * 255)/255")
        #expect(diff <= 1e-6)
    }

    @Test func cropOffsetsUsePythonRounding() throws {
        let entries = try ImagingFixtures.cases("crop_offsets")
        #expect(entries.count == 7)
        for e in entries {
            let c = e["crop"] as! Int
            let o = try CenterCrop.offsets(width: e["width"] as! Int, height: e["height"] as! Int,
                                           cropWidth: c, cropHeight: c)
            #expect(o.top == e["top"] as! Int && o.left == e["left"] as! Int, "\(e)")
        }
    }

    @Test func cropLargerThanImageThrows() {
        #expect(throws: PreprocessingError.self) {
            try CenterCrop.offsets(width: 100, height: 300, cropWidth: 224, cropHeight: 224)
        }
        #expect(throws: PreprocessingError.self) { try Preprocessor(resize: 200, crop: 224) }
    }

    /// Hand-computed: (0.5 − 0.485) / 0.229 etc.
    @Test func normalisationUsesGivenConstants() throws {
        var planes = ImagePlanes(width: 2, height: 1, channels: 3, data: [0.5, 1, 0.5, 0, 0.5, 0.25])
        try Normalization.imageNet.apply(to: &planes)
        let expected: [Float] = [(0.5 - 0.485) / 0.229, (1 - 0.485) / 0.229,
                                 (0.5 - 0.456) / 0.224, (0 - 0.456) / 0.224,
                                 (0.5 - 0.406) / 0.225, (0.25 - 0.406) / 0.225]
        #expect(maxAbsDifference(planes.data, expected) < 1e-6)
        let lite = try Normalization(mean: [0.498, 0.498, 0.498], std: [0.502, 0.502, 0.502])
        let one = try lite.applied(to: ImagePlanes(width: 1, height: 1, channels: 3, fill: 1))
        #expect(abs(one.data[0] - (1 - 0.498) / 0.502) < 1e-6)
        #expect(throws: PreprocessingError.self) { try Normalization(mean: [0, 0], std: [1, 1, 1]) }
        #expect(throws: PreprocessingError.self) { try Normalization(mean: [0], std: [0]) }
        var gray = ImagePlanes(width: 1, height: 1, channels: 1)
        #expect(throws: PreprocessingError.self) { try Normalization.imageNet.apply(to: &gray) }
    }

    @Test func maskPreprocessingIsBinary() throws {
        let entry = try ImagingFixtures.entry(Self.nearestCases[1])
        let pre = try Preprocessor(maskThreshold: 0)
        let mask = try pre.mask(at: ImagingFixtures.url(entry["source"] as! String))
        #expect(mask.channels == 1 && mask.width == 224 && mask.height == 224)
        #expect(mask.data.allSatisfy { $0 == 0 || $0 == 1 })
        // Same pixels as Pillow's NEAREST 256×256 fixture, cropped by 16 on each side.
        let full = try ImagingFixtures.bytes(entry["file"] as! String)
        var expected = [Float]()
        for y in 16..<240 { for x in 16..<240 { expected.append(full[y * 256 + x] > 0 ? 1 : 0) } }
        #expect(mask.data == expected)
    }
}
