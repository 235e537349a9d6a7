import CPNG
import Foundation

/// PNG through libpng's simplified `png_image_*` API (the classic API needs setjmp; see
/// TOOLCHAIN.md). Decoding follows Pillow's `Image.open(p).convert("RGB")`:
/// - alpha is dropped, not composited (Pillow's RGBA→RGB conversion drops it);
/// - palettes are expanded, 1/2/4-bit gray is scaled to 0…255;
/// - 16-bit samples become 8-bit by rounding v·255/65535. libpng would otherwise treat
///   16-bit data as *linear* light and gamma-encode it on the way to 8 bits, which no
///   other image library does; `PNG_IMAGE_FLAG_16BIT_sRGB` switches that off. (Pillow
///   keeps the high byte instead; both are within 1/255 of v/65535.)
/// - a `gAMA` chunk is ignored, as Pillow ignores it for pixel values (libpng would
///   convert e.g. gAMA 1.0 data to sRGB, moving values by up to 72/255): the chunk is
///   renamed to an unknown ancillary type in a copy of the bytes before decoding.
enum PNGCodec {
    static func message(_ image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Reads the header (IHDR) only.
    static func header(_ bytes: UnsafeRawBufferPointer, path: String) throws -> ImageHeader {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
            throw ImageError(path: path, reason: .corrupt(format: "PNG", message: message(image)))
        }
        png_image_free(&image)
        return ImageHeader(format: .png, width: Int(image.width), height: Int(image.height))
    }

    /// Offsets of `gAMA` chunk types before the first IDAT (nil if none or if the chunk
    /// structure is broken, in which case libpng reports the damage itself).
    static func gammaChunkOffsets(_ bytes: UnsafeRawBufferPointer) -> [Int] {
        var offsets: [Int] = []
        var i = 8
        while i + 8 <= bytes.count {
            let length = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            let type = (bytes[i + 4], bytes[i + 5], bytes[i + 6], bytes[i + 7])
            if type == (0x49, 0x44, 0x41, 0x54) { break }                   // IDAT
            if type == (0x67, 0x41, 0x4D, 0x41) { offsets.append(i + 4) }   // gAMA
            let next = i + 12 + length
            if length < 0 || next <= i { break }
            i = next
        }
        return offsets.filter { $0 + 4 + 4 + 4 <= bytes.count }
    }

    /// A copy of the file with each `gAMA` chunk renamed to `fuNd` (ancillary, private,
    /// unknown to libpng, so skipped) and its CRC recomputed.
    static func withoutGamma(_ bytes: UnsafeRawBufferPointer, offsets: [Int]) -> [UInt8] {
        var copy = [UInt8](bytes)
        for o in offsets {
            let length = Int(copy[o - 4]) << 24 | Int(copy[o - 3]) << 16 | Int(copy[o - 2]) << 8 | Int(copy[o - 1])
            guard o + 4 + length + 4 <= copy.count else { continue }
            copy[o] = 0x66; copy[o + 1] = 0x75; copy[o + 2] = 0x4E; copy[o + 3] = 0x64   // "fuNd"
            let crc = CRC32.checksum(copy[o..<(o + 4 + length)])
            for k in 0..<4 { copy[o + 4 + length + k] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(k))) }
        }
        return copy
    }

    /// Decodes to 8-bit gray (1 channel) or RGB (3 channels), refusing images over
    /// `maxPixels` before allocating their buffer.
    static func decode(_ bytes: UnsafeRawBufferPointer, path: String, maxPixels: Int) throws -> PixelBuffer {
        let gamma = gammaChunkOffsets(bytes)
        if !gamma.isEmpty {
            let copy = withoutGamma(bytes, offsets: gamma)
            return try copy.withUnsafeBytes { try decodeAsIs($0, path: path, maxPixels: maxPixels) }
        }
        return try decodeAsIs(bytes, path: path, maxPixels: maxPixels)
    }

    private static func decodeAsIs(_ bytes: UnsafeRawBufferPointer, path: String, maxPixels: Int) throws -> PixelBuffer {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
            throw ImageError(path: path, reason: .corrupt(format: "PNG", message: message(image)))
        }
        let width = Int(image.width), height = Int(image.height)
        if width * height > maxPixels {
            png_image_free(&image)
            throw ImageError(path: path, reason: .tooLarge(width: width, height: height, limit: maxPixels))
        }
        let alphaFlag = UInt32(PNG_FORMAT_FLAG_ALPHA), colorFlag = UInt32(PNG_FORMAT_FLAG_COLOR)
        let isColor = image.format & colorFlag != 0
        let hasAlpha = image.format & alphaFlag != 0
        // Ask for the file's own channel layout at 8 bits (keeping alpha so that libpng
        // never composites), then drop alpha below.
        image.format = (isColor ? colorFlag : 0) | (hasAlpha ? alphaFlag : 0)
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        let decodedChannels = (isColor ? 3 : 1) + (hasAlpha ? 1 : 0)
        var decoded = [UInt8](repeating: 0, count: width * height * decodedChannels)
        let ok = decoded.withUnsafeMutableBytes { out in
            png_image_finish_read(&image, nil, out.baseAddress, Int32(width * decodedChannels), nil)
        }
        guard ok != 0 else {
            // finish_read frees the image's internal state on failure.
            throw ImageError(path: path, reason: .corrupt(format: "PNG", message: message(image)))
        }
        let channels = isColor ? 3 : 1
        if !hasAlpha {
            return PixelBuffer(width: width, height: height, channels: channels, bytes: decoded)
        }
        var out = [UInt8](repeating: 0, count: width * height * channels)
        for i in 0..<(width * height) {
            for c in 0..<channels { out[i * channels + c] = decoded[i * decodedChannels + c] }
        }
        return PixelBuffer(width: width, height: height, channels: channels, bytes: out)
    }

    /// Encodes an 8-bit gray or RGB buffer as PNG bytes. `fast` sets libpng's
    /// `PNG_IMAGE_FLAG_FAST` (cheaper filtering/compression, larger files: for
    /// intermediate files such as the demo dataset).
    static func encode(_ pixels: PixelBuffer, fast: Bool = false) throws -> Data {
        guard pixels.channels == 1 || pixels.channels == 3, pixels.width > 0, pixels.height > 0 else {
            throw ImageWriteError(message: "PNG output needs a non-empty 1- or 3-channel image, got "
                                  + "\(pixels.width)×\(pixels.height)×\(pixels.channels)")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(pixels.width)
        image.height = UInt32(pixels.height)
        image.format = pixels.channels == 3 ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0
        if fast { image.flags |= UInt32(PNG_IMAGE_FLAG_FAST) }
        let stride = Int32(pixels.width * pixels.channels)
        // One compression pass into a buffer of libpng's upper bound (PNG_IMAGE_PNG_SIZE_MAX,
        // a macro Swift cannot import); asking for the size first compressed every image
        // twice (half of `predict`'s overlay time). If libpng still reports the buffer too
        // small, the second pass uses the size it asked for.
        var capacity = Self.sizeBound(rowBytes: pixels.width * pixels.channels, height: pixels.height)
        for _ in 0..<2 {
            var out = Data(count: capacity)
            var size = capacity
            let written = out.withUnsafeMutableBytes { dst in
                pixels.bytes.withUnsafeBytes { buf in
                    png_image_write_to_memory(&image, dst.baseAddress, &size, 0, buf.baseAddress, stride, nil)
                }
            }
            if written != 0 { return out.prefix(size) }
            guard size > capacity else { break }
            capacity = size
            image.warning_or_error = 0
            image.message = png_image().message
        }
        throw ImageWriteError(message: "libpng: \(message(image))")
    }

    /// libpng's PNG_IMAGE_PNG_SIZE_MAX for a non-colour-mapped image: the zlib bound of
    /// the filtered rows (one filter byte per row), the IDAT chunk headers per 8 KiB
    /// zlib buffer, and the fixed chunks (signature, IHDR, gAMA, cHRM, IEND).
    static func sizeBound(rowBytes: Int, height: Int) -> Int {
        let data = (rowBytes + 1) * height
        let zlib = data + (data + 7) >> 3 + (data + 63) >> 6 + 11
        return 8 + 25 + 16 + 44 + 12 + 12 * (zlib / 8192 + 1) + zlib
    }
}

/// CRC-32 (ISO-HDLC, as PNG chunks use), table-driven.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

/// Writing an output image failed; the message says why.
public struct ImageWriteError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
