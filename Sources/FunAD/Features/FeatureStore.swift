import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `extract` stage's output: per image the backbone's global vector and its grid of
/// local vectors, in one compact binary file that training reads memory-mapped, so that
/// thousands of images never have to sit in memory at once.
///
/// Layout (all integers little-endian):
/// - bytes 0..<64, the preamble: magic "FUNADFS\0", UInt32 version (1), UInt32 dtype
///   (0 float32, 1 float16), UInt32 globalDim, localDim, gridHeight, gridWidth, zero padding;
/// - from byte 64, one record per image: globalDim values, then gridHeight·gridWidth·localDim
///   values (patch-major), in the dtype;
/// - a JSON footer {"version", "count", "dtype", "globalDim", "localDim", "gridHeight",
///   "gridWidth", "imageIds", "metadata"};
/// - the trailer: UInt64 footer length, magic "FUNADFSE".
/// The footer sits at the end so that the writer can stream records without knowing the
/// count in advance. Float16 halves the size (784 × 1432 values per image: 2.2 MB) at a
/// relative rounding error ≤ 2⁻¹¹, far below the spread of backbone features.
public enum FeatureStore {
    public enum DType: String, Sendable, Codable {
        case float32, float16
        var code: UInt32 { self == .float32 ? 0 : 1 }
        var size: Int { self == .float32 ? 4 : 2 }
        init?(code: UInt32) {
            switch code { case 0: self = .float32; case 1: self = .float16; default: return nil }
        }
    }

    static let magic: [UInt8] = Array("FUNADFS\0".utf8)
    static let trailerMagic: [UInt8] = Array("FUNADFSE".utf8)
    static let version: UInt32 = 1
    static let preambleSize = 64
    static let trailerSize = 16

    struct Footer: Codable {
        var version: Int
        var count: Int
        var dtype: DType
        var globalDim: Int, localDim: Int, gridHeight: Int, gridWidth: Int
        var imageIds: [String]
        var metadata: [String: String]
    }
}

/// Errors reading or writing a feature store; each names the file.
public struct FeatureStoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Streams images into a feature store. Records go to a temporary file beside the
/// destination; `finish()` writes the footer, fsyncs and renames it into place, so a
/// reader never sees a half-written store. Dropping the writer unfinished removes the
/// temporary file.
public final class FeatureStoreWriter {
    public let url: URL
    public let globalDim: Int, localDim: Int, gridHeight: Int, gridWidth: Int
    public let dtype: FeatureStore.DType
    public let metadata: [String: String]
    private let tempURL: URL
    private var fd: Int32
    private var ids: [String] = []
    private var buffer: [UInt8] = []

    public var count: Int { ids.count }
    private var patches: Int { gridHeight * gridWidth }

    public init(url: URL, globalDim: Int, localDim: Int, gridHeight: Int, gridWidth: Int,
                dtype: FeatureStore.DType = .float16, metadata: [String: String] = [:]) throws {
        guard globalDim >= 0, localDim > 0, gridHeight > 0, gridWidth > 0 else {
            throw FeatureStoreError("\(url.path): feature store dimensions must be positive (global \(globalDim), local \(localDim), grid \(gridHeight)×\(gridWidth))")
        }
        self.url = url
        self.globalDim = globalDim; self.localDim = localDim
        self.gridHeight = gridHeight; self.gridWidth = gridWidth
        self.dtype = dtype
        self.metadata = metadata
        tempURL = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        fd = open(tempURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FeatureStoreError("\(url.path): cannot create \(tempURL.path) (\(String(cString: strerror(errno))))")
        }
        var pre = FeatureStore.magic
        for v in [FeatureStore.version, dtype.code, UInt32(globalDim), UInt32(localDim), UInt32(gridHeight), UInt32(gridWidth)] {
            pre += withUnsafeBytes(of: v.littleEndian, Array.init)
        }
        pre += [UInt8](repeating: 0, count: FeatureStore.preambleSize - pre.count)
        try write(pre)
    }

    deinit {
        if fd >= 0 { close(fd); unlink(tempURL.path) }
    }

    /// Appends one image: `global` (globalDim values) and `local` (gridHeight·gridWidth ×
    /// localDim values, patch-major).
    public func append(id: String, global: UnsafeBufferPointer<Float>, local: UnsafeBufferPointer<Float>) throws {
        guard fd >= 0 else { throw FeatureStoreError("\(url.path): writer already finished") }
        guard global.count == globalDim, local.count == patches * localDim else {
            throw FeatureStoreError("\(url.path): image '\(id)' has \(global.count) global and \(local.count) local values; expected \(globalDim) and \(patches)×\(localDim) = \(patches * localDim)")
        }
        let n = global.count + local.count
        if buffer.count != n * dtype.size { buffer = [UInt8](repeating: 0, count: n * dtype.size) }
        buffer.withUnsafeMutableBytes { raw in
            let out = raw.baseAddress!
            for (offset, x) in [(0, global), (global.count, local)] {
                switch dtype {
                case .float32:
                    for i in 0..<x.count { out.storeBytes(of: x[i].bitPattern.littleEndian, toByteOffset: 4 * (offset + i), as: UInt32.self) }
                case .float16:
                    for i in 0..<x.count { out.storeBytes(of: Float16(x[i]).bitPattern.littleEndian, toByteOffset: 2 * (offset + i), as: UInt16.self) }
                }
            }
        }
        try write(buffer)
        ids.append(id)
    }

    public func append(id: String, global: [Float], local: [Float]) throws {
        try global.withUnsafeBufferPointer { g in try local.withUnsafeBufferPointer { l in try append(id: id, global: g, local: l) } }
    }

    /// Appends every image of a backbone batch, with one id per image.
    public func append(_ features: BackboneFeatures, ids: [String]) throws {
        guard ids.count == features.batch, features.globalDim == globalDim, features.localDim == localDim,
              features.gridHeight == gridHeight, features.gridWidth == gridWidth else {
            throw FeatureStoreError("\(url.path): batch of \(features.batch) images (\(ids.count) ids), dims \(features.globalDim)/\(features.localDim), grid \(features.gridHeight)×\(features.gridWidth) does not match the store's \(globalDim)/\(localDim), \(gridHeight)×\(gridWidth)")
        }
        let l = patches * localDim
        try features.global.withUnsafeBufferPointer { g in try features.local.withUnsafeBufferPointer { lo in
            for b in 0..<features.batch {
                try append(id: ids[b], global: UnsafeBufferPointer(rebasing: g[(b * globalDim)..<((b + 1) * globalDim)]),
                           local: UnsafeBufferPointer(rebasing: lo[(b * l)..<((b + 1) * l)]))
            }
        } }
    }

    /// Writes the footer, flushes to disk and moves the file to `url`.
    public func finish() throws {
        guard fd >= 0 else { throw FeatureStoreError("\(url.path): writer already finished") }
        let footer = FeatureStore.Footer(version: Int(FeatureStore.version), count: ids.count, dtype: dtype,
                                         globalDim: globalDim, localDim: localDim, gridHeight: gridHeight, gridWidth: gridWidth,
                                         imageIds: ids, metadata: metadata)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try [UInt8](encoder.encode(footer))
        try write(json + withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + FeatureStore.trailerMagic)
        guard fsync(fd) == 0 else { throw FeatureStoreError("\(url.path): fsync failed (\(String(cString: strerror(errno))))") }
        close(fd)
        fd = -1
        guard rename(tempURL.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tempURL.path)
            throw FeatureStoreError("\(url.path): cannot move the finished store into place (\(reason))")
        }
        // Make the rename itself durable.
        let dir = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { _ = fsync(dir); close(dir) }
    }

    private func write(_ bytes: [UInt8]) throws {
        var done = 0
        try bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw FeatureStoreError("\(url.path): write failed (\(String(cString: strerror(errno))))") }
                done += n
            }
        }
    }
}

/// A finished feature store, memory-mapped. As a `PatchFeatureSource` it yields per patch
/// [global ‖ local_j] (global FIRST, METHOD.md step 2) as Float.
public struct FeatureStoreReader: PatchFeatureSource {
    public let url: URL
    public let dtype: FeatureStore.DType
    public let globalDim: Int, localDim: Int
    public let gridHeight: Int, gridWidth: Int
    public let imageIds: [String]
    public let metadata: [String: String]
    private let data: Data

    public var imageCount: Int { imageIds.count }
    public var patchesPerImage: Int { gridHeight * gridWidth }
    public var dimension: Int { globalDim + localDim }
    private var recordValues: Int { globalDim + patchesPerImage * localDim }

    public init(url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw FeatureStoreError("\(url.path): cannot read (\(error.localizedDescription))")
        }
        try self.init(data: data, url: url)
    }

    init(data: Data, url: URL) throws {
        let name = url.path
        let size = data.count
        guard size >= FeatureStore.preambleSize + FeatureStore.trailerSize,
              Array(data.prefix(8)) == FeatureStore.magic else {
            throw FeatureStoreError("\(name): not a funad feature store (magic 'FUNADFS' missing)")
        }
        func u32(_ p: Int) -> Int { data.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian) } }
        guard u32(8) == Int(FeatureStore.version) else {
            throw FeatureStoreError("\(name): feature store version \(u32(8)); this funad reads version \(FeatureStore.version)")
        }
        guard let dtype = FeatureStore.DType(code: UInt32(u32(12))) else {
            throw FeatureStoreError("\(name): unknown dtype code \(u32(12)) (expected 0 float32 or 1 float16)")
        }
        guard Array(data.suffix(8)) == FeatureStore.trailerMagic else {
            throw FeatureStoreError("\(name): feature store is truncated or unfinished (end marker 'FUNADFSE' missing)")
        }
        let footerLength = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: size - 16, as: UInt64.self).littleEndian }
        guard footerLength <= UInt64(size - FeatureStore.preambleSize - FeatureStore.trailerSize) else {
            throw FeatureStoreError("\(name): footer length \(footerLength) exceeds the file size \(size)")
        }
        let footerStart = size - FeatureStore.trailerSize - Int(footerLength)
        let footer: FeatureStore.Footer
        do { footer = try JSONDecoder().decode(FeatureStore.Footer.self, from: data[footerStart..<(size - FeatureStore.trailerSize)]) } catch {
            throw FeatureStoreError("\(name): footer is not valid feature-store JSON (\(error))")
        }
        let (g, l, gh, gw) = (u32(16), u32(20), u32(24), u32(28))
        guard footer.dtype == dtype, footer.globalDim == g, footer.localDim == l, footer.gridHeight == gh, footer.gridWidth == gw,
              footer.imageIds.count == footer.count, l > 0, gh > 0, gw > 0 else {
            throw FeatureStoreError("\(name): footer (\(footer.dtype), dims \(footer.globalDim)/\(footer.localDim), grid \(footer.gridHeight)×\(footer.gridWidth), \(footer.imageIds.count) ids for \(footer.count) images) disagrees with the preamble (\(dtype), \(g)/\(l), \(gh)×\(gw))")
        }
        let recordBytes = (g + gh * gw * l) * dtype.size
        guard footer.count >= 0, footer.count * recordBytes == footerStart - FeatureStore.preambleSize else {
            throw FeatureStoreError("\(name): \(footerStart - FeatureStore.preambleSize) record bytes for \(footer.count) images of \(recordBytes) bytes; file is truncated or corrupt")
        }
        self.url = url
        self.dtype = dtype
        self.globalDim = g; self.localDim = l; self.gridHeight = gh; self.gridWidth = gw
        self.imageIds = footer.imageIds
        self.metadata = footer.metadata
        self.data = data
    }

    private func check(_ index: Int) throws {
        guard index >= 0, index < imageCount else {
            throw FeatureStoreError("\(url.path): image index \(index) out of range 0..<\(imageCount)")
        }
    }

    /// Converts `count` stored values starting at value `offset` of image `index`'s record.
    private func load(image index: Int, offset: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let start = FeatureStore.preambleSize + (index * recordValues + offset) * dtype.size
        data.withUnsafeBytes { raw in
            let p = raw.baseAddress! + start
            switch dtype {
            case .float32:
                for i in 0..<count { out[i] = Float(bitPattern: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
            case .float16:
                for i in 0..<count { out[i] = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)) }
            }
        }
    }

    /// Image `index`'s global vector (globalDim values).
    public func global(ofImage index: Int) throws -> [Float] {
        try check(index)
        return [Float](unsafeUninitializedCapacity: globalDim) { buf, n in
            load(image: index, offset: 0, count: globalDim, into: buf.baseAddress!); n = globalDim
        }
    }

    /// Image `index`'s local vectors (gridHeight·gridWidth × localDim, patch-major).
    public func local(ofImage index: Int) throws -> [Float] {
        try check(index)
        let n = patchesPerImage * localDim
        return [Float](unsafeUninitializedCapacity: n) { buf, c in
            load(image: index, offset: globalDim, count: n, into: buf.baseAddress!); c = n
        }
    }

    /// Writes patchesPerImage rows of [global ‖ local_j] into `buffer`.
    public func patchFeatures(ofImage index: Int, into buffer: UnsafeMutablePointer<Float>) throws {
        try check(index)
        let d = dimension
        load(image: index, offset: 0, count: globalDim, into: buffer)
        for j in 0..<patchesPerImage {
            let row = buffer + j * d
            if j > 0 { row.update(from: buffer, count: globalDim) }
            load(image: index, offset: globalDim + j * localDim, count: localDim, into: row + globalDim)
        }
    }
}
