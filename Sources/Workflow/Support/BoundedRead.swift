import Foundation

/// Reads a whole small file (a record, a memo) after checking its size, so a damaged or
/// hostile file of gigabytes is refused with its size named instead of being allocated.
enum BoundedRead {
    struct TooLarge: Error, CustomStringConvertible {
        var size: UInt64
        var limit: Int
        var description: String { "it is \(size) bytes, more than the \(limit / (1 << 20)) MiB such a file can hold" }
    }

    static func data(_ url: URL, limit: Int) throws -> Data {
        var st = stat()
        if stat(url.path, &st) == 0, st.st_size > limit { throw TooLarge(size: UInt64(st.st_size), limit: limit) }
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        // Read at most limit + 1 bytes: a file that grew after the stat is refused too.
        let data = try handle.read(upToCount: limit + 1) ?? Data()
        if data.count > limit { throw TooLarge(size: UInt64(data.count), limit: limit) }
        return data
    }
}
