import Foundation

/// Reads a whole small file (a record, a memo) after checking its size, so a damaged or
/// hostile file of gigabytes is refused with its size named instead of being allocated.
public enum BoundedRead {
    public struct TooLarge: Error, CustomStringConvertible {
        public var size: UInt64
        public var limit: Int
        public var description: String { "it is \(size) bytes, more than the \(limit / (1 << 20)) MiB such a file can hold" }
    }

    /// The file's bytes, or `TooLarge` when it holds more than `limit` bytes (`limit` a
    /// whole number of MiB, as the message says).
    public static func data(_ url: URL, limit: Int) throws -> Data {
        var st = stat()
        guard stat(url.path, &st) == 0 else {
            // Missing or unreadable: Foundation's own read error (what callers already explain).
            let data = try Data(contentsOf: url)
            if data.count > limit { throw TooLarge(size: UInt64(data.count), limit: limit) }
            return data
        }
        if st.st_size > limit { throw TooLarge(size: UInt64(st.st_size), limit: limit) }
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        // Read at most limit + 1 bytes: a file that grew after the stat is refused too.
        let data = try handle.read(upToCount: limit + 1) ?? Data()
        if data.count > limit { throw TooLarge(size: UInt64(data.count), limit: limit) }
        return data
    }
}
