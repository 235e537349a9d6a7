import Foundation

/// The two container formats funad reads, told apart by their magic bytes (never by the
/// file extension, which users get wrong).
public enum ImageFormat: String, Sendable {
    case png = "PNG"
    case jpeg = "JPEG"

    static let pngMagic: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Sniffs the format from the first bytes.
    static func sniff(_ bytes: UnsafeRawBufferPointer, path: String) throws -> ImageFormat {
        if bytes.count == 0 { throw ImageError(path: path, reason: .empty) }
        if bytes.count >= 8 && zip(bytes.prefix(8), pngMagic).allSatisfy({ $0 == $1 }) { return .png }
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        throw ImageError(path: path, reason: .unknownFormat(head))
    }
}

/// Width, height and format read from a file's header only (no pixel allocation).
public struct ImageHeader: Sendable, Equatable {
    public var format: ImageFormat
    public var width: Int
    public var height: Int
}
