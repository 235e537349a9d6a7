import Foundation
import Testing
@testable import FunAD

/// `PNGCodec.encode` compresses once into a buffer of libpng's upper bound. The bound must
/// hold for the worst case (random bytes do not compress, so the stored size exceeds the
/// raw size) and the bytes must decode back exactly.
@Suite struct PNGEncodeOnePassTests {
    @Test func incompressibleImagesRoundTripInOnePass() throws {
        var rng = SplitMix64(seed: 42)
        for (w, h, c) in [(37, 23, 3), (1, 1, 1), (300, 2, 1), (2, 300, 3), (224 * 3, 224, 3)] {
            let pixels = PixelBuffer(width: w, height: h, channels: c, bytes: (0..<(w * h * c)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            for fast in [false, true] {
                let data = try PNGWriter.encode(pixels, fast: fast)
                #expect(data.count <= PNGCodec.sizeBound(rowBytes: w * c, height: h), "\(w)×\(h)×\(c)")
                #expect(data.count > w * h * c, "random bytes should not compress (\(w)×\(h)×\(c))")
                #expect(try ImageDecoder().decodePixels(data, path: "mem") == pixels, "\(w)×\(h)×\(c) fast \(fast)")
            }
        }
    }

    /// The bound is libpng's PNG_IMAGE_PNG_SIZE_MAX, worked by hand for a 2×1 RGB image:
    /// data 7 bytes, zlib bound 7 + 1 + 1 + 11 = 20, chunks 105 + 12 = 117.
    @Test func theBoundMatchesLibpngsMacroByHand() {
        #expect(PNGCodec.sizeBound(rowBytes: 6, height: 1) == 8 + 25 + 16 + 44 + 12 + 12 + 20)
    }
}
