import Foundation

/// Errors of the inference and map-file layer; each names the file or input and what was
/// expected.
public struct InferenceError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Precision of the stored anomaly maps. Float16 halves the file (maps are smooth and,
/// for Local-Net, in (0,1)), but rounds scores to ~3 significant digits and so adds ties
/// to the pixel metrics: Float32 is the default.
public enum MapPrecision: String, Sendable, CaseIterable {
    case float32
    case float16

    var code: UInt32 { self == .float32 ? 0 : 1 }
    var bytesPerValue: Int { self == .float32 ? 4 : 2 }
}

/// The anomaly-map file: a 64-byte little-endian header, then N × H × W values, image-major,
/// row-major, so that a reader can memory-map it and view image i's map without copying.
///
/// Header layout (all little-endian):
/// | offset | size | field |
/// | 0  | 8 | magic `FUNADMAP` |
/// | 8  | 4 | format version (1) |
/// | 12 | 4 | precision: 0 = Float32, 1 = Float16 |
/// | 16 | 8 | N, number of maps |
/// | 24 | 4 | H |
/// | 28 | 4 | W |
/// | 32 | 8 | FNV-1a 64 checksum of the payload bytes |
/// | 40 | 24 | zero |
public enum AnomalyMapFile {
    static let magic: [UInt8] = Array("FUNADMAP".utf8)
    static let version: UInt32 = 1
    static let headerSize = 64

    /// FNV-1a over bytes, 64-bit: cheap (~1 GB/s) and enough to catch truncation,
    /// overwrites and partial copies (not an adversarial hash).
    struct Checksum {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        mutating func add(_ bytes: UnsafeRawBufferPointer) {
            var h = value
            for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            value = h
        }
    }

    static func header(precision: MapPrecision, count: Int, height: Int, width: Int, checksum: UInt64) -> Data {
        var d = Data(magic)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        put(version); put(precision.code); put(UInt64(count)); put(UInt32(height)); put(UInt32(width)); put(checksum)
        d.append(Data(count: headerSize - d.count))
        return d
    }
}

/// Streams maps into an anomaly-map file: `append` one map at a time (the payload is
/// written as it comes), `finish` writes the header with the count and checksum.
/// A file without a finished header is refused by the reader.
public final class AnomalyMapWriter {
    public let url: URL
    public let height: Int
    public let width: Int
    public let precision: MapPrecision
    public private(set) var count = 0
    private let handle: FileHandle
    private var checksum = AnomalyMapFile.Checksum()
    private var finished = false

    public init(url: URL, height: Int, width: Int, precision: MapPrecision = .float32) throws {
        guard height > 0, width > 0 else { throw InferenceError("\(url.path): map size \(height)×\(width) must be positive") }
        self.url = url; self.height = height; self.width = width; self.precision = precision
        let fm = FileManager.default
        try? fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard fm.createFile(atPath: url.path, contents: nil) else {
            throw InferenceError("\(url.path): cannot create the anomaly-map file")
        }
        do { handle = try FileHandle(forWritingTo: url) } catch {
            throw InferenceError("\(url.path): cannot open for writing (\(error.localizedDescription))")
        }
        // Zero header now (magic absent ⇒ an interrupted write is never read as valid).
        try write(Data(count: AnomalyMapFile.headerSize))
    }

    deinit { try? handle.close() }

    /// Appends one H×W map.
    public func append(_ map: UnsafeBufferPointer<Float>) throws {
        guard !finished else { throw InferenceError("\(url.path): append after finish") }
        guard map.count == height * width else {
            throw InferenceError("\(url.path): map \(count) has \(map.count) values; expected \(height)×\(width)")
        }
        var bytes: Data
        switch precision {
        case .float32:
            bytes = Data(count: map.count * 4)
            bytes.withUnsafeMutableBytes { raw in
                let out = raw.bindMemory(to: UInt32.self)
                for i in 0..<map.count { out[i] = map[i].bitPattern.littleEndian }
            }
        case .float16:
            bytes = Data(count: map.count * 2)
            bytes.withUnsafeMutableBytes { raw in
                let out = raw.bindMemory(to: UInt16.self)
                for i in 0..<map.count { out[i] = Float16(map[i]).bitPattern.littleEndian }
            }
        }
        bytes.withUnsafeBytes { checksum.add($0) }
        try write(bytes)
        count += 1
    }

    public func append(_ map: [Float]) throws {
        try map.withUnsafeBufferPointer { try append($0) }
    }

    /// Writes the header; the file is valid from here on.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        do {
            try handle.seek(toOffset: 0)
            try handle.write(contentsOf: AnomalyMapFile.header(precision: precision, count: count, height: height,
                                                               width: width, checksum: checksum.value))
            try handle.synchronize()
            try handle.close()
        } catch {
            throw InferenceError("\(url.path): cannot write the map header (\(error.localizedDescription))")
        }
    }

    private func write(_ data: Data) throws {
        do { try handle.write(contentsOf: data) } catch {
            throw InferenceError("\(url.path): write failed (\(error.localizedDescription))")
        }
    }
}

/// Reads an anomaly-map file through a memory map, after checking magic, version, sizes
/// against the file length and (unless disabled) the payload checksum.
public struct AnomalyMapReader: Sendable {
    public let url: URL
    public let count: Int
    public let height: Int
    public let width: Int
    public let precision: MapPrecision
    private let data: Data

    public init(url: URL, verifyChecksum: Bool = true) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw InferenceError("\(url.path): cannot read the anomaly-map file (\(error.localizedDescription))")
        }
        let path = url.path
        guard data.count >= AnomalyMapFile.headerSize else {
            throw InferenceError("\(path): \(data.count) bytes, shorter than the \(AnomalyMapFile.headerSize)-byte anomaly-map header")
        }
        func u32(_ o: Int) -> UInt32 { data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt32.self)) } }
        func u64(_ o: Int) -> UInt64 { data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt64.self)) } }
        guard Array(data.prefix(8)) == AnomalyMapFile.magic else {
            throw InferenceError("\(path): not a finished anomaly-map file (magic 'FUNADMAP' missing)")
        }
        guard u32(8) == AnomalyMapFile.version else {
            throw InferenceError("\(path): anomaly-map format version \(u32(8)); expected \(AnomalyMapFile.version)")
        }
        switch u32(12) {
        case 0: precision = .float32
        case 1: precision = .float16
        default: throw InferenceError("\(path): unknown map precision code \(u32(12)); expected 0 (float32) or 1 (float16)")
        }
        let n = u64(16), h = u32(24), w = u32(28)
        guard n < 1 << 40, h > 0, w > 0 else { throw InferenceError("\(path): implausible header (N=\(n), H=\(h), W=\(w))") }
        count = Int(n); height = Int(h); width = Int(w)
        let expected = AnomalyMapFile.headerSize + count * height * width * precision.bytesPerValue
        guard data.count == expected else {
            throw InferenceError("\(path): \(data.count) bytes; the header (\(count) maps of \(height)×\(width) \(precision.rawValue)) needs \(expected) — truncated or damaged")
        }
        if verifyChecksum {
            var sum = AnomalyMapFile.Checksum()
            data.withUnsafeBytes { sum.add(UnsafeRawBufferPointer(rebasing: $0[AnomalyMapFile.headerSize...])) }
            guard sum.value == u64(32) else {
                throw InferenceError("\(path): payload checksum mismatch — the maps were modified or damaged")
            }
        }
        self.url = url
        self.data = data
    }

    /// Copies map `index` (H×W floats) into `buffer`.
    public func map(_ index: Int, into buffer: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < count, "AnomalyMapReader: map index \(index) out of 0..<\(count)")
        let n = height * width
        let offset = AnomalyMapFile.headerSize + index * n * precision.bytesPerValue
        data.withUnsafeBytes { raw in
            switch precision {
            case .float32:
                for i in 0..<n {
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)))
                }
            case .float16:
                for i in 0..<n {
                    buffer[i] = Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 2 * i, as: UInt16.self))))
                }
            }
        }
    }

    /// Map `index` as a new array.
    public func map(_ index: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: height * width) { buf, n in
            map(index, into: buf.baseAddress!)
            n = height * width
        }
    }
}
