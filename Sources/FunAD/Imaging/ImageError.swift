/// Why an image file could not be turned into pixels. Every case names the file, so a
/// dataset load can list all bad files at once (`on_bad_image`), and the message says what
/// was expected. Errors are data here; `description` is the words.
public struct ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The file could not be read from disk (missing, permissions, a directory).
        case unreadable(String)
        /// Zero bytes.
        case empty
        /// Neither PNG nor JPEG magic bytes; carries the first bytes in hex.
        case unknownFormat(String)
        /// The decoder (libpng / libjpeg-turbo) rejected the data; carries its message.
        case corrupt(format: String, message: String)
        /// Declared size over the pixel limit: refused before allocating (decompression bomb).
        case tooLarge(width: Int, height: Int, limit: Int)
        /// A valid file of a kind funad does not handle (e.g. CMYK JPEG).
        case unsupported(String)
    }

    public let path: String
    public let reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .unreadable(let why):
            return "\(path): cannot read file (\(why))"
        case .empty:
            return "\(path): empty file (0 bytes), expected a PNG or JPEG image"
        case .unknownFormat(let head):
            return "\(path): not a PNG or JPEG image (starts with bytes \(head))"
        case .corrupt(let format, let message):
            return "\(path): corrupt \(format) image: \(message)"
        case .tooLarge(let width, let height, let limit):
            return "\(path): image declares \(width)×\(height) = \(width * height) pixels, "
                + "over the limit of \(limit) pixels (refused before decoding)"
        case .unsupported(let what):
            return "\(path): unsupported image: \(what)"
        }
    }
}
