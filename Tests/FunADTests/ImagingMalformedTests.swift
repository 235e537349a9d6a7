import Foundation
import Testing
@testable import FunAD

/// A corpus of malformed files, made here from the good fixtures: each must give an
/// `ImageError` naming the file (never a crash, never a silent success).
@Suite struct ImagingMalformedTests {
    /// Recomputes a PNG chunk's CRC after editing it (so the edit, not the CRC, is the fault).
    static func fixCRC(_ bytes: inout [UInt8], chunkAt offset: Int) {
        let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
        let crc = crc32(bytes[(offset + 4)..<(offset + 8 + length)])
        for i in 0..<4 { bytes[offset + 8 + length + i] = UInt8((crc >> (24 - 8 * UInt32(i))) & 0xff) }
    }

    static func crc32(_ data: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for b in data {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    static func setBigEndian32(_ bytes: inout [UInt8], at offset: Int, _ value: UInt32) {
        for i in 0..<4 { bytes[offset + i] = UInt8((value >> (24 - 8 * UInt32(i))) & 0xff) }
    }

    /// Offset of the first JPEG SOFn marker segment (FFC0/FFC2).
    static func sofOffset(_ jpeg: [UInt8]) -> Int {
        var i = 2
        while i + 4 < jpeg.count {
            precondition(jpeg[i] == 0xFF)
            let marker = jpeg[i + 1]
            if marker == 0xC0 || marker == 0xC2 { return i }
            i += 2 + (Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3]))
        }
        fatalError("fixture JPEG without SOF")
    }

    /// (name, bytes, expected reason kind) for every malformed case.
    static func corpus() throws -> [(String, [UInt8], String)] {
        let png = try ImagingFixtures.bytes("rgb8.png")
        let jpg = try ImagingFixtures.bytes("jpeg_rgb_420_baseline.jpg")
        let prog = try ImagingFixtures.bytes("jpeg_rgb_420_progressive.jpg")
        var cases: [(String, [UInt8], String)] = []
        cases.append(("zero-byte.png", [], "empty"))
        cases.append(("text.jpg", Array("this is not an image\n".utf8), "unknownFormat"))
        var rng = SplitMix64(seed: 7)
        cases.append(("random.png", (0..<500).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, "unknownFormat"))
        var wrongMagic = png; wrongMagic[1] = 0x51
        cases.append(("wrong-magic.png", wrongMagic, "unknownFormat"))
        cases.append(("png-signature-only.png", Array(png.prefix(8)), "corrupt"))
        for cut in [20, 33, 45, png.count / 2, png.count - 20] {
            cases.append(("png-truncated-at-\(cut).png", Array(png.prefix(cut)), "corrupt"))
        }
        var badIHDRCRC = png; badIHDRCRC[29] ^= 0xff
        cases.append(("png-bad-ihdr-crc.png", badIHDRCRC, "corrupt"))
        var badIDATCRC = png; badIDATCRC[png.count - 13] ^= 0xff   // last byte of IDAT's CRC
        cases.append(("png-bad-idat-crc.png", badIDATCRC, "corrupt"))
        var huge = png
        setBigEndian32(&huge, at: 16, 50_000); setBigEndian32(&huge, at: 20, 50_000); fixCRC(&huge, chunkAt: 8)
        cases.append(("png-huge-dimensions.png", huge, "tooLarge"))
        var zeroWidth = png
        setBigEndian32(&zeroWidth, at: 16, 0); fixCRC(&zeroWidth, chunkAt: 8)
        cases.append(("png-zero-width.png", zeroWidth, "corrupt"))
        var badDepth = png; badDepth[24] = 3; fixCRC(&badDepth, chunkAt: 8)
        cases.append(("png-bit-depth-3.png", badDepth, "corrupt"))
        var badZlib = png
        for i in 41..<min(61, png.count - 16) { badZlib[i] = 0xAA }   // inside IDAT's zlib stream
        fixCRC(&badZlib, chunkAt: 33)
        cases.append(("png-bad-zlib.png", badZlib, "corrupt"))
        cases.append(("jpeg-soi-only.jpg", Array(jpg.prefix(3)), "corrupt"))
        for cut in [10, 150, jpg.count / 2, jpg.count - 2] {
            cases.append(("jpeg-truncated-at-\(cut).jpg", Array(jpg.prefix(cut)), "corrupt"))
        }
        cases.append(("jpeg-progressive-truncated.jpg", Array(prog.prefix(prog.count * 2 / 3)), "corrupt"))
        let sof = sofOffset(jpg)
        var hugeJPEG = jpg
        hugeJPEG[sof + 5] = 0xFD; hugeJPEG[sof + 6] = 0xE8; hugeJPEG[sof + 7] = 0xFD; hugeJPEG[sof + 8] = 0xE8
        cases.append(("jpeg-huge-dimensions.jpg", hugeJPEG, "tooLarge"))
        var zeroHeight = jpg; zeroHeight[sof + 5] = 0; zeroHeight[sof + 6] = 0
        cases.append(("jpeg-zero-height.jpg", zeroHeight, "corrupt"))
        cases.append(("jpeg-header-then-eoi.jpg", Array(jpg.prefix(sof)) + [0xFF, 0xD9], "corrupt"))
        return cases
    }

    static func kind(_ reason: ImageError.Reason) -> String {
        switch reason {
        case .unreadable: return "unreadable"
        case .empty: return "empty"
        case .unknownFormat: return "unknownFormat"
        case .corrupt: return "corrupt"
        case .tooLarge: return "tooLarge"
        case .unsupported: return "unsupported"
        }
    }

    @Test func everyMalformedFileGivesAClearError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-malformed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases = try Self.corpus()
        #expect(cases.count >= 20)
        for (name, bytes, expectedKind) in cases {
            let url = dir.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            do {
                _ = try ImageDecoder().decodePixels(at: url)
                Issue.record("\(name): decoded without error")
            } catch let error as ImageError {
                #expect(error.path == url.path)
                #expect(Self.kind(error.reason) == expectedKind, "\(name): \(error)")
                #expect(error.description.hasPrefix(url.path + ": "))
                print("malformed \(name): \(error.reason)")
            }
        }
    }

    @Test func missingFileAndDirectoryAreUnreadable() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/funad/image.png")
        do {
            _ = try ImageDecoder().decodePixels(at: missing)
            Issue.record("missing file decoded")
        } catch let error as ImageError {
            #expect(Self.kind(error.reason) == "unreadable")
            #expect(error.description.contains("/nonexistent/funad/image.png"))
        }
        let dir = FileManager.default.temporaryDirectory
        #expect(throws: ImageError.self) { try ImageDecoder().decodePixels(at: dir) }
    }

    /// libjpeg warns about junk bytes before a marker but decodes the whole image; Pillow
    /// accepts such files, so funad does too, with the same pixels.
    @Test func benignJPEGWarningIsAccepted() throws {
        let jpg = try ImagingFixtures.bytes("jpeg_rgb_420_baseline.jpg")
        #expect(Array(jpg.suffix(2)) == [0xFF, 0xD9])
        let junk = Array(jpg.dropLast(2)) + [0x12, 0x34, 0xFF, 0xD9]
        let decoded = try ImageDecoder().decodePixels(Data(junk), path: "junk.jpg")
        #expect(decoded == (try ImageDecoder().decodePixels(Data(jpg), path: "clean.jpg")))
    }

    @Test func pixelLimitIsConfigurable() throws {
        let small = ImageDecoder(maxPixels: 50)
        #expect(throws: ImageError(path: ImagingFixtures.url("rgb8.png").path,
                                   reason: .tooLarge(width: 13, height: 7, limit: 50))) {
            try small.decodePixels(at: ImagingFixtures.url("rgb8.png"))
        }
        #expect(throws: ImageError.self) { try small.header(at: ImagingFixtures.url("jpeg_gray_baseline.jpg")) }
    }

    @Test func messagesAreWordedForUsers() {
        #expect(ImageError(path: "/d/a.png", reason: .empty).description
                == "/d/a.png: empty file (0 bytes), expected a PNG or JPEG image")
        #expect(ImageError(path: "/d/b.png", reason: .tooLarge(width: 20000, height: 10000, limit: 100_000_000)).description
                == "/d/b.png: image declares 20000×10000 = 200000000 pixels, over the limit of 100000000 pixels (refused before decoding)")
    }
}
