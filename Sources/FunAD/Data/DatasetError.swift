/// A dataset that does not have the layout it was loaded as, or a bad labels file. The
/// message names the file or folder and says what was expected there.
public struct DatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Image files that failed validation, all reported at once (`on_bad_image: fail`).
public struct BadImagesError: Error, Sendable, Equatable, CustomStringConvertible {
    public let failures: [ImageError]

    public var description: String {
        var lines = ["\(failures.count) image file\(failures.count == 1 ? "" : "s") could not be read "
                     + "(set on_bad_image: skip to leave them out):"]
        lines += failures.map { "  " + $0.description }
        return lines.joined(separator: "\n")
    }
}
