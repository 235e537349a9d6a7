import CTurboJPEG
import Foundation

/// JPEG through TurboJPEG 2.1 (`tj*`; classic jpeglib's default error handler exits the
/// process). Default flags = accurate integer IDCT and fancy upsampling, which is what
/// Pillow's libjpeg(-turbo) decoder uses, so pixels agree with Pillow.
/// A truncated file ("Premature end of JPEG file", which libjpeg fills with gray) is an
/// error: a truncated training image is a bad file, as Pillow says too ("image file is
/// truncated"). Other libjpeg warnings leave the image whole and are accepted, as Pillow
/// accepts them.
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
            let message = errorText(handle)
            // Warnings that leave the image complete (e.g. "extraneous bytes before
            // marker") are accepted, as Pillow accepts them; a premature end (truncated
            // file, filled with gray by libjpeg) and all errors are not.
            let isWarning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
            if !isWarning || message.contains("Premature end") || !endsWithEOI(bytes) {
                throw ImageError(path: path, reason: .corrupt(format: "JPEG", message: message))
            }
        }
        return PixelBuffer(width: head.width, height: head.height, channels: channels, bytes: out)
    }

    /// True when an EOI marker (FF D9) follows the last start-of-scan marker (FF DA), i.e.
    /// the last scan was not cut off. (Inside entropy-coded data 0xFF is always stuffed
    /// or a restart marker, so these two byte pairs are real markers there.)
    static func endsWithEOI(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var lastSOS = -1
        var i = 0
        while i + 1 < bytes.count {
            if bytes[i] == 0xFF && bytes[i + 1] == 0xDA { lastSOS = i }
            i += 1
        }
        guard lastSOS >= 0 else { return false }
        i = lastSOS + 2
        while i + 1 < bytes.count {
            if bytes[i] == 0xFF && bytes[i + 1] == 0xD9 { return true }
            i += 1
        }
        return false
    }
}
