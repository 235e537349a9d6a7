import CTurboJPEG
import Foundation

/// JPEG through TurboJPEG 2.1 (`tj*`; classic jpeglib's default error handler exits the
/// process). Default flags = accurate integer IDCT and fancy upsampling, which is what
/// Pillow's libjpeg(-turbo) decoder uses, so pixels agree with Pillow.
/// Decoder warnings (e.g. "Premature end of JPEG file", which libjpeg fills with gray)
/// are treated as errors: a truncated training image is a bad file, as Pillow says too
/// ("image file is truncated").
enum JPEGCodec {
    static func errorText(_ handle: tjhandle?) -> String {
        guard let cString = tjGetErrorStr2(handle) else { return "unknown TurboJPEG error" }
        return String(cString: cString)
    }

    static func header(_ bytes: UnsafeRawBufferPointer, path: String) throws -> (ImageHeader, colorspace: Int32) {
        guard let handle = tjInitDecompress() else {
            throw ImageError(path: path, reason: .corrupt(format: "JPEG", message: errorText(nil)))
        }
        defer { tjDestroy(handle) }
        return try header(handle, bytes, path: path)
    }

    private static func header(_ handle: tjhandle, _ bytes: UnsafeRawBufferPointer,
                               path: String) throws -> (ImageHeader, colorspace: Int32) {
        var width: Int32 = 0, height: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard tjDecompressHeader3(handle, base, UInt(bytes.count), &width, &height, &subsamp, &colorspace) == 0 else {
            throw ImageError(path: path, reason: .corrupt(format: "JPEG", message: errorText(handle)))
        }
        guard width > 0, height > 0 else {
            throw ImageError(path: path, reason: .corrupt(format: "JPEG", message: "declares \(width)×\(height) pixels"))
        }
        return (ImageHeader(format: .jpeg, width: Int(width), height: Int(height)), colorspace)
    }

    /// Decodes to 8-bit gray (grayscale JPEGs) or RGB.
    static func decode(_ bytes: UnsafeRawBufferPointer, path: String, maxPixels: Int) throws -> PixelBuffer {
        guard let handle = tjInitDecompress() else {
            throw ImageError(path: path, reason: .corrupt(format: "JPEG", message: errorText(nil)))
        }
        defer { tjDestroy(handle) }
        let (head, colorspace) = try header(handle, bytes, path: path)
        if head.width * head.height > maxPixels {
            throw ImageError(path: path, reason: .tooLarge(width: head.width, height: head.height, limit: maxPixels))
        }
        let channels: Int
        let pixelFormat: Int32
        switch colorspace {
        case Int32(TJCS_GRAY.rawValue):
            channels = 1; pixelFormat = Int32(TJPF_GRAY.rawValue)
        case Int32(TJCS_RGB.rawValue), Int32(TJCS_YCbCr.rawValue):
            channels = 3; pixelFormat = Int32(TJPF_RGB.rawValue)
        default:
            throw ImageError(path: path, reason: .unsupported("CMYK/YCCK JPEG (only gray and RGB JPEGs are read)"))
        }
        var out = [UInt8](repeating: 0, count: head.width * head.height * channels)
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let rc = out.withUnsafeMutableBufferPointer { dst in
            tjDecompress2(handle, base, UInt(bytes.count), dst.baseAddress, Int32(head.width), 0,
                          Int32(head.height), pixelFormat, 0)
        }
        if rc != 0 {
            throw ImageError(path: path, reason: .corrupt(format: "JPEG", message: errorText(handle)))
        }
        return PixelBuffer(width: head.width, height: head.height, channels: channels, bytes: out)
    }
}
