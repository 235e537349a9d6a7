import Foundation

/// Reads PNG and JPEG files into 8-bit pixels or float RGB planes. Every failure is an
/// `ImageError` naming the file; nothing here traps on user data.
public struct ImageDecoder: Sendable {
    /// Images declaring more pixels than this are refused from their header, before any
    /// pixel buffer is allocated (decompression-bomb guard). 100 megapixels by default.
    public var maxPixels: Int

    public init(maxPixels: Int = 100_000_000) {
        self.maxPixels = maxPixels
    }

    /// Decodes a file to 8-bit gray or RGB pixels.
    public func decodePixels(at url: URL) throws -> PixelBuffer {
        let data = try Self.read(url)
        return try decodePixels(data, path: url.path)
    }

    /// Decodes in-memory file bytes; `path` is only used in error messages.
    public func decodePixels(_ data: Data, path: String) throws -> PixelBuffer {
        try data.withUnsafeBytes { raw in
            switch try ImageFormat.sniff(raw, path: path) {
            case .png: return try PNGCodec.decode(raw, path: path, maxPixels: maxPixels)
            case .jpeg: return try JPEGCodec.decode(raw, path: path, maxPixels: maxPixels)
            }
        }
    }

    /// Decodes a file to 3-channel float planes in [0, 1] (gray replicated).
    public func decode(at url: URL) throws -> ImagePlanes {
        try decodePixels(at: url).rgbPlanes()
    }

    /// Reads only the header: format and declared size, with the pixel limit applied.
    public func header(at url: URL) throws -> ImageHeader {
        let data = try Self.read(url)
        let path = url.path
        let head: ImageHeader = try data.withUnsafeBytes { raw in
            switch try ImageFormat.sniff(raw, path: path) {
            case .png: return try PNGCodec.header(raw, path: path)
            case .jpeg: return try JPEGCodec.header(raw, path: path).0
            }
        }
        if head.width * head.height > maxPixels {
            throw ImageError(path: path, reason: .tooLarge(width: head.width, height: head.height, limit: maxPixels))
        }
        return head
    }

    static func read(_ url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            let why = (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
            throw ImageError(path: url.path, reason: .unreadable(why))
        }
    }
}

/// Writes 8-bit PNG outputs (synthesised anomalies, masks, the demo dataset).
public enum PNGWriter {
    /// PNG bytes of a gray or RGB pixel buffer.
    public static func encode(_ pixels: PixelBuffer, fast: Bool = false) throws -> Data {
        try PNGCodec.encode(pixels, fast: fast)
    }

    /// Writes 1- or 3-channel planes in [0, 1] as an 8-bit PNG file (atomically).
    /// `fast`: quicker, larger files (libpng's PNG_IMAGE_FLAG_FAST).
    public static func write(_ planes: ImagePlanes, to url: URL, fast: Bool = false) throws {
        try write(planes.pixelBuffer(), to: url, fast: fast)
    }

    /// Writes a pixel buffer as a PNG file (atomically).
    public static func write(_ pixels: PixelBuffer, to url: URL, fast: Bool = false) throws {
        let data = try PNGCodec.encode(pixels, fast: fast)
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw ImageWriteError(message: "\(url.path): cannot write PNG (\(error.localizedDescription))")
        }
    }
}
