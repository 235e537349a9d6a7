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

    /// Decodes to 8-bit gray (1 channel) or RGB (3 channels), refusing images over
    /// `maxPixels` before allocating their buffer.
    static func decode(_ bytes: UnsafeRawBufferPointer, path: String, maxPixels: Int) throws -> PixelBuffer {
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
        var size: Int = 0
        let sized = pixels.bytes.withUnsafeBytes { buf in
            png_image_write_to_memory(&image, nil, &size, 0, buf.baseAddress, stride, nil)
        }
        guard sized != 0 else { throw ImageWriteError(message: "libpng: \(message(image))") }
        var out = Data(count: size)
        let written = out.withUnsafeMutableBytes { dst in
            pixels.bytes.withUnsafeBytes { buf in
                png_image_write_to_memory(&image, dst.baseAddress, &size, 0, buf.baseAddress, stride, nil)
            }
        }
        guard written != 0 else { throw ImageWriteError(message: "libpng: \(message(image))") }
        return out.prefix(size)
    }
}

/// Writing an output image failed; the message says why.
public struct ImageWriteError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
