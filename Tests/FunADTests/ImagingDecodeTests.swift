import Foundation
import Testing
@testable import FunAD

/// Decoding every PNG/JPEG variant against pixels made by scripts/fixtures/imaging.py.
/// Tolerances: 8-bit PNG exact (1e-6, float rounding of v/255); 16-bit PNG 0.5/255 (funad
/// rounds v·255/65535 to 8 bits; the expectation is v/65535 at full precision); JPEG 1/255
/// against Pillow's decode of the same file (same IDCT, exact in practice).
@Suite struct ImagingDecodeTests {
    static let cases = ImagingFixtures.names("png", "jpeg")

    @Test func manifestListsAllVariants() throws {
        #expect(ImagingFixtures.names("png").count == 14)
        #expect(ImagingFixtures.names("jpeg").count == 6)
    }

    @Test(arguments: cases)
    func decodesVariantToExpectedPixels(_ name: String) throws {
        let entry = try ImagingFixtures.entry(name)
        let planes = try ImageDecoder().decode(at: ImagingFixtures.url(entry["file"] as! String))
        #expect(planes.channels == 3)
        #expect(planes.width == entry["width"] as! Int)
        #expect(planes.height == entry["height"] as! Int)
        let expected = try ImagingFixtures.expectedRGB(name)
        let diff = maxAbsDifference(planes.interleaved, expected)
        let tolerance = Float(entry["tolerance"] as! Double)
        #expect(diff <= tolerance, "\(name): max abs error \(diff) > \(tolerance)")
        print("decode \(name): max abs error \(diff * 255)/255")
    }

    @Test func headerReportsSizeWithoutDecoding() throws {
        let png = try ImageDecoder().header(at: ImagingFixtures.url("rgb16.png"))
        #expect(png == ImageHeader(format: .png, width: 13, height: 7))
        let jpg = try ImageDecoder().header(at: ImagingFixtures.url("jpeg_rgb_420_progressive.jpg"))
        #expect(jpg == ImageHeader(format: .jpeg, width: 37, height: 29))
    }

    @Test func pngRoundTripIsLossless() throws {
        let rgb = try ImageDecoder().decodePixels(at: ImagingFixtures.url("rgb8.png"))
        #expect(try ImageDecoder().decodePixels(PNGWriter.encode(rgb), path: "mem") == rgb)
        let gray = try ImageDecoder().decodePixels(at: ImagingFixtures.url("gray8.png"))
        #expect(gray.channels == 1)
        #expect(try ImageDecoder().decodePixels(PNGWriter.encode(gray), path: "mem") == gray)
    }

    @Test func planesRoundTripToBytes() throws {
        let rgb = try ImageDecoder().decodePixels(at: ImagingFixtures.url("rgb8.png"))
        #expect(rgb.rgbPlanes().pixelBuffer() == rgb)
    }
}

@Suite struct ImagingUnsupportedTests {
    @Test func cmykJPEGIsReportedAsUnsupported() throws {
        let url = ImagingFixtures.url("jpeg_cmyk.jpg")
        #expect(throws: ImageError(path: url.path, reason: .unsupported("CMYK/YCCK JPEG (only gray and RGB JPEGs are read)"))) {
            try ImageDecoder().decodePixels(at: url)
        }
    }
}
