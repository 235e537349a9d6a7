import Foundation

/// The entries of a zip archive whose members are *stored* (not compressed), as PyTorch
/// writes them (torch.save since 1.6). Reads the central directory, including ZIP64
/// records, and locates each member's bytes through its local header. Every offset and
/// size is checked against the file length before use.
struct StoredZipArchive {
    struct Entry {
        var name: String
        /// Byte range of the member's data in the archive.
        var dataRange: Range<Int>
    }

    let entries: [String: Entry]

    /// Members in one archive. A checkpoint has one member per storage plus a few
    /// (`data.pkl`, `version`, `byteorder`): ~10³ for the largest backbones. The central
    /// directory's size bounds the count too (46 bytes per entry); this bounds the work
    /// of a directory that claims millions of tiny entries.
    static let maxEntries = 100_000

    /// True when `data` starts with a zip local-file or end-of-directory signature.
    static func looksLikeZip(_ data: Data) -> Bool {
        guard data.count >= 4 else { return false }
        let sig = data.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian }
        return sig == 0x0403_4b50 || sig == 0x0605_4b50
    }

    init(_ data: Data, name: String) throws {
        entries = try data.withUnsafeBytes { raw in try Self.parse(raw, name: name) }
    }

    private static func parse(_ b: UnsafeRawBufferPointer, name: String) throws -> [String: Entry] {
        let size = b.count
        func u16(_ p: Int) -> Int { Int(b.loadUnaligned(fromByteOffset: p, as: UInt16.self).littleEndian) }
        func u32(_ p: Int) -> Int { Int(b.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian) }
        func u64(_ p: Int) throws -> Int {
            let v = b.loadUnaligned(fromByteOffset: p, as: UInt64.self).littleEndian
            guard v <= UInt64(Int.max) else { throw WeightsError("\(name): zip field at byte \(p) is out of range") }
            return Int(v)
        }

        // End of central directory: 22 bytes plus a comment of up to 65535 bytes, at the end.
        guard size >= 22 else { throw WeightsError("\(name): not a zip archive (\(size) bytes)") }
        var eocd = -1
        var p = size - 22
        let lowest = max(0, size - 22 - 65535)
        while p >= lowest {
            if u32(p) == 0x0605_4b50 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw WeightsError("\(name): zip end-of-central-directory record not found (truncated file?)") }
        var count = u16(eocd + 10)
        var cdSize = u32(eocd + 12)
        var cdOffset = u32(eocd + 16)
        // ZIP64: a locator sits just before the EOCD and points at the ZIP64 EOCD record.
        if eocd >= 20, u32(eocd - 20) == 0x0706_4b50 {
            let z = try u64(eocd - 20 + 8)
            guard z <= size - 56, u32(z) == 0x0606_4b50 else {
                throw WeightsError("\(name): ZIP64 end-of-central-directory record missing at byte \(z)")
            }
            count = try u64(z + 32)
            cdSize = try u64(z + 40)
            cdOffset = try u64(z + 48)
        }
        guard cdOffset <= size, cdSize <= size - cdOffset else {
            throw WeightsError("\(name): zip central directory (\(cdSize) bytes at \(cdOffset)) lies beyond the file's \(size) bytes")
        }
        guard count <= cdSize / 46 else {
            throw WeightsError("\(name): zip declares \(count) entries, more than its central directory can hold")
        }
        guard count <= maxEntries else {
            throw WeightsError("\(name): zip declares \(count) entries; a checkpoint may have at most \(maxEntries)")
        }

        var result: [String: Entry] = [:]
        var q = cdOffset
        let cdEnd = cdOffset + cdSize
        for i in 0..<count {
            guard q + 46 <= cdEnd, u32(q) == 0x0201_4b50 else {
                throw WeightsError("\(name): zip central directory entry \(i) is malformed at byte \(q)")
            }
            let flags = u16(q + 8)
            let method = u16(q + 10)
            var compressed = u32(q + 20)
            var uncompressed = u32(q + 24)
            let nameLength = u16(q + 28), extraLength = u16(q + 30), commentLength = u16(q + 32)
            var localOffset = u32(q + 42)
            let next = q + 46 + nameLength + extraLength + commentLength
            guard next <= cdEnd else { throw WeightsError("\(name): zip central directory entry \(i) overruns the directory") }
            let nameBytes = UnsafeRawBufferPointer(rebasing: b[(q + 46)..<(q + 46 + nameLength)])
            let entryName = String(decoding: nameBytes, as: UTF8.self)
            // ZIP64 extended information: 8-byte values for the fields that hold 0xFFFFFFFF, in order.
            var e = q + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let tag = u16(e), len = u16(e + 2)
                guard e + 4 + len <= extraEnd else { break }
                if tag == 0x0001 {
                    var f = e + 4
                    if uncompressed == 0xFFFF_FFFF, f + 8 <= e + 4 + len { uncompressed = try u64(f); f += 8 }
                    if compressed == 0xFFFF_FFFF, f + 8 <= e + 4 + len { compressed = try u64(f); f += 8 }
                    if localOffset == 0xFFFF_FFFF, f + 8 <= e + 4 + len { localOffset = try u64(f); f += 8 }
                }
                e += 4 + len
            }
            // Member names are looked up, never written to disk; still, a name that would
            // escape a folder when extracted marks a crafted archive, not a checkpoint.
            let parts = entryName.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "/" || $0 == "\\" })
            let absolute = entryName.hasPrefix("/") || entryName.hasPrefix("\\") || entryName.dropFirst().hasPrefix(":")
            guard !absolute, !parts.contains("..") else {
                throw WeightsError("\(name): zip entry name '\(entryName)' is absolute or contains '..'; refused")
            }
            guard result[entryName] == nil else {
                throw WeightsError("\(name): zip entry '\(entryName)' appears twice; refused")
            }
            guard method == 0 else {
                throw WeightsError("\(name): zip entry '\(entryName)' uses compression method \(method); PyTorch checkpoints store entries uncompressed (method 0)")
            }
            guard compressed == uncompressed else {
                throw WeightsError("\(name): zip entry '\(entryName)' is stored but its sizes differ (\(compressed) vs \(uncompressed))")
            }
            guard localOffset <= size - 30, u32(localOffset) == 0x0403_4b50 else {
                throw WeightsError("\(name): zip entry '\(entryName)' has no local header at byte \(localOffset)")
            }
            // Declared sizes must agree: the local header's (unless deferred to a data
            // descriptor, flag bit 3, or moved to ZIP64 fields) with the directory's.
            if flags & 0x8 == 0 {
                let localCompressed = u32(localOffset + 18), localUncompressed = u32(localOffset + 22)
                for (local, central) in [(localCompressed, compressed), (localUncompressed, uncompressed)] where local != 0xFFFF_FFFF && local != central {
                    throw WeightsError("\(name): zip entry '\(entryName)' declares \(local) bytes in its local header but \(central) in the central directory")
                }
            }
            let dataStart = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28)
            guard dataStart <= size, compressed <= size - dataStart else {
                throw WeightsError("\(name): zip entry '\(entryName)' (\(compressed) bytes at \(dataStart)) extends beyond the file's \(size) bytes")
            }
            result[entryName] = Entry(name: entryName, dataRange: dataStart..<(dataStart + compressed))
            q = next
        }
        return result
    }
}
