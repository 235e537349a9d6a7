import Foundation

/// Reads PyTorch checkpoints (`torch.save` of a state dict) without Python.
///
/// Two container formats:
/// - zip (the default since PyTorch 1.6): `<root>/data.pkl` holds the pickled state dict,
///   each storage's raw little-endian bytes are the member `<root>/data/<key>`;
/// - legacy (`_use_new_zipfile_serialization=False`, and the EfficientNet-Lite0 .pth on
///   PyPI): five things back to back — a pickled magic number, a pickled protocol version
///   (1001), pickled system info, the pickled state dict, the pickled list of storage keys —
///   then per key an 8-byte little-endian element count and the storage's bytes.
///
/// The pickles go through `RestrictedUnpickler`, which builds only dicts, tensors and plain
/// values and refuses any other global. Nested dicts (checkpoints that wrap the weights
/// under 'model', 'state_dict', 'teacher', …) are flattened with '.' between levels;
/// `prefix` selects one sub-tree and strips it (DINO training checkpoints:
/// "teacher.backbone."). Float32/float16/bfloat16/float64 storages become Float;
/// integer tensors (BatchNorm's num_batches_tracked) are skipped with a note.
public enum PyTorchCheckpoint {
    /// The float tensors of a checkpoint plus what was left out and why.
    public struct Contents: Sendable {
        public var tensors: [String: WeightTensor]
        /// Human-readable notes about skipped entries (integer tensors, non-tensor values).
        public var notes: [String]
    }

    /// Nesting deeper than this is refused (state dicts are 1–3 levels deep).
    static let maxNesting = 32

    /// Float32 bytes all tensors of a file may take once read, per byte of the file (plus
    /// `tensorBytesAllowance`). Storages hold ≥ 2 bytes per float element, so honest
    /// tensors take at most 2× the file; tied weights (one storage viewed twice) double
    /// that. Without this bound, many zero-stride views of one storage (each allowed up to
    /// 16× its storage) could turn a small file into gigabytes of floats.
    static let maxTensorBytesPerFileByte = 4
    /// Room for the tiny files of tests and toy models, whose few tensors may view a small
    /// storage several times.
    static let tensorBytesAllowance = 1 << 20

    /// The float tensors of the checkpoint at `url`, keyed by their (flattened) names;
    /// with `prefix`, only names that start with it, with the prefix removed.
    public static func read(_ url: URL, prefix: String? = nil) throws -> [String: WeightTensor] {
        try load(url, prefix: prefix).tensors
    }

    public static func load(_ url: URL, prefix: String? = nil) throws -> Contents {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw WeightsError("\(url.path): cannot read (\(error.localizedDescription))")
        }
        return try decode(data, name: url.path, prefix: prefix)
    }

    public static func decode(_ data: Data, name: String = "<memory>", prefix: String? = nil) throws -> Contents {
        if StoredZipArchive.looksLikeZip(data) {
            return try decodeZip(data, name: name, prefix: prefix)
        }
        guard data.count >= 2, data[data.startIndex] == 0x80 else {
            throw WeightsError("\(name): not a PyTorch checkpoint (neither a zip archive nor a pickle)")
        }
        return try decodeLegacy(data, name: name, prefix: prefix)
    }

    // MARK: - Containers

    private static func decodeZip(_ data: Data, name: String, prefix: String?) throws -> Contents {
        let zip = try StoredZipArchive(data, name: name)
        let pkls = zip.entries.keys.filter { $0.hasSuffix("/data.pkl") && $0.split(separator: "/").count == 2 }.sorted()
        guard let pkl = pkls.first else {
            throw WeightsError("\(name): zip archive has no '<root>/data.pkl'; not a PyTorch checkpoint")
        }
        let root = String(pkl.dropLast("data.pkl".count))
        if let order = zip.entries[root + "byteorder"] {
            let text = String(decoding: data[data.startIndex + order.dataRange.lowerBound ..< data.startIndex + order.dataRange.upperBound], as: UTF8.self)
            guard text == "little" else { throw WeightsError("\(name): byteorder is '\(text)'; only little-endian checkpoints are supported") }
        }
        let range = zip.entries[pkl]!.dataRange
        return try data.withUnsafeBytes { raw in
            let pickle = UnsafeRawBufferPointer(rebasing: raw[range])
            var unpickler = RestrictedUnpickler(name: "\(name) [\(pkl)]", bytes: pickle, fileSize: data.count)
            let top = try unpickler.load()
            return try collect(top, arena: unpickler.arena, name: name, prefix: prefix, fileSize: data.count) { key in
                guard let entry = zip.entries[root + "data/" + key] else {
                    throw WeightsError("\(name): storage '\(key)' is missing from the archive (expected member '\(root)data/\(key)')")
                }
                return UnsafeRawBufferPointer(rebasing: raw[entry.dataRange])
            }
        }
    }

    private static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19] // 0x1950a86a20f9469cfc6c LE

    private static func decodeLegacy(_ data: Data, name: String, prefix: String?) throws -> Contents {
        try data.withUnsafeBytes { raw in
            var header = RestrictedUnpickler(name: name, bytes: raw)
            guard case .bytes(let magic) = try header.load(), Array(magic) == legacyMagic else {
                throw WeightsError("\(name): not a PyTorch checkpoint (legacy magic number missing)")
            }
            var p2 = RestrictedUnpickler(name: name, bytes: raw, start: header.position)
            guard case .int(1001) = try p2.load() else {
                throw WeightsError("\(name): unsupported legacy checkpoint protocol version (expected 1001)")
            }
            var sys = RestrictedUnpickler(name: name, bytes: raw, start: p2.position)
            let info = try sys.load()
            if case .dict(let d) = info {
                for (k, v) in sys.arena.dicts[d].entries {
                    if case .string("little_endian") = k, case .bool(false) = v {
                        throw WeightsError("\(name): checkpoint was written big-endian; only little-endian is supported")
                    }
                }
            }
            var main = RestrictedUnpickler(name: name, bytes: raw, start: sys.position)
            let top = try main.load()
            var keysPickle = RestrictedUnpickler(name: name, bytes: raw, start: main.position)
            let keysValue = try keysPickle.load()
            guard case .list(let li) = keysValue else {
                throw WeightsError("\(name): legacy checkpoint's storage key list is missing after the state dict (at byte \(main.position))")
            }
            var storageKeys: [String] = []
            for k in keysPickle.arena.lists[li] {
                guard case .string(let s) = k else { throw WeightsError("\(name): legacy storage key list holds a \(k.kindName), expected strings") }
                storageKeys.append(s)
            }
            // Element sizes come from the storages the state dict references.
            var elementSize: [String: Int] = [:]
            for s in storages(top, arena: main.arena) { elementSize[s.key] = s.type.elementSize }
            var ranges: [String: Range<Int>] = [:]
            var p = keysPickle.position
            for key in storageKeys {
                guard let size = elementSize[key] else {
                    throw WeightsError("\(name): storage '\(key)' is listed but never referenced; cannot size it")
                }
                guard raw.count - p >= 8 else {
                    throw WeightsError("\(name): truncated: storage '\(key)' element count missing at byte \(p)")
                }
                let n = raw.loadUnaligned(fromByteOffset: p, as: UInt64.self).littleEndian
                let available = raw.count - p - 8
                guard n <= UInt64(available / size) else {
                    throw WeightsError("\(name): truncated: storage '\(key)' declares \(n) elements of \(size) bytes at byte \(p), only \(available) bytes follow")
                }
                ranges[key] = (p + 8)..<(p + 8 + Int(n) * size)
                p += 8 + Int(n) * size
            }
            return try collect(top, arena: main.arena, name: name, prefix: prefix, fileSize: data.count) { key in
                guard let r = ranges[key] else { throw WeightsError("\(name): storage '\(key)' has no data in the file") }
                return UnsafeRawBufferPointer(rebasing: raw[r])
            }
        }
    }

    // MARK: - Walking the state dict

    /// All storages referenced anywhere under `value`.
    private static func storages(_ value: PickleValue, arena: PickleArena) -> [PickleStorageRef] {
        var out: [PickleStorageRef] = []
        var seen = Set<Int>()
        var work: [(PickleValue, Int)] = [(value, 0)]
        while let (v, depth) = work.popLast(), depth <= maxNesting {
            switch v {
            case .tensor(let t): out.append(t.storage)
            case .dict(let d) where seen.insert(d).inserted:
                for e in arena.dicts[d].entries { work.append((e.value, depth + 1)) }
            default: break
            }
        }
        return out
    }

    private static func collect(
        _ top: PickleValue, arena: PickleArena, name: String, prefix: String?, fileSize: Int,
        bytesOf: (String) throws -> UnsafeRawBufferPointer
    ) throws -> Contents {
        guard case .dict(let root) = top else {
            throw WeightsError("\(name): top-level object is a \(top.kindName); expected a state dict")
        }
        var found: [(String, PickleTensorRef)] = []
        var notes: [String] = []
        var ignored = 0
        var visiting = Set<Int>()
        func walk(_ d: Int, _ path: String, _ depth: Int) throws {
            guard depth < maxNesting else { throw WeightsError("\(name): refused: dicts nested deeper than \(maxNesting) levels at '\(path)'") }
            guard visiting.insert(d).inserted else { throw WeightsError("\(name): refused: dict at '\(path)' contains itself") }
            defer { visiting.remove(d) }
            for (k, v) in arena.dicts[d].entries {
                let key: String
                switch k {
                case .string(let s): key = s
                case .int(let i): key = String(i)
                default: ignored += 1; continue
                }
                let full = path.isEmpty ? key : path + "." + key
                switch v {
                case .tensor(let t): found.append((full, t))
                case .dict(let sub): try walk(sub, full, depth + 1)
                default: ignored += 1
                }
            }
        }
        try walk(root, "", 0)

        var selected = found
        if let prefix, !prefix.isEmpty {
            selected = found.filter { $0.0.hasPrefix(prefix) }.map { (String($0.0.dropFirst(prefix.count)), $0.1) }
            if selected.isEmpty {
                let tops = Set(found.map { $0.0.split(separator: ".").first.map(String.init) ?? "" }).sorted().prefix(12)
                throw WeightsError("\(name): no tensor name starts with prefix '\(prefix)'; top-level names: \(tops.joined(separator: ", "))")
            }
        }
        try checkTotalTensorBytes(selected.filter { $0.1.storage.type.isFloatingPoint }.map(\.1), name: name, fileSize: fileSize)
        var tensors: [String: WeightTensor] = [:]
        var skippedInts: [String] = []
        for (key, ref) in selected {
            guard ref.storage.type.isFloatingPoint else { skippedInts.append(key); continue }
            tensors[key] = try materialize(ref, key: key, bytes: try bytesOf(ref.storage.key), name: name)
        }
        if !skippedInts.isEmpty {
            let shown = skippedInts.sorted().prefix(3).joined(separator: ", ")
            notes.append("skipped \(skippedInts.count) integer tensor(s) (e.g. \(shown)): not weights")
        }
        if ignored > 0 { notes.append("ignored \(ignored) non-tensor value(s)") }
        return Contents(tensors: tensors, notes: notes)
    }

    /// Refuses a file whose tensors would take more float32 bytes than
    /// `maxTensorBytesPerFileByte` × its size + `tensorBytesAllowance`, before any is read.
    static func checkTotalTensorBytes(_ refs: [PickleTensorRef], name: String, fileSize: Int) throws {
        let (scaled, o1) = fileSize.multipliedReportingOverflow(by: maxTensorBytesPerFileByte)
        let limit = o1 ? Int.max : scaled.addingReportingOverflow(tensorBytesAllowance).partialValue
        var total = 0
        for ref in refs {
            var bytes = MemoryLayout<Float>.size
            for n in ref.shape where n >= 0 {
                let (b, o) = bytes.multipliedReportingOverflow(by: n)
                bytes = o ? Int.max : b
            }
            let (t, o) = total.addingReportingOverflow(bytes)
            total = o ? Int.max : t
            guard total <= limit else {
                throw WeightsError("\(name): refused: its tensors would take more than \(limit) bytes as float32 (the limit is \(maxTensorBytesPerFileByte) × the file's \(fileSize) bytes + \(tensorBytesAllowance))")
            }
        }
    }

    /// Gathers a (possibly strided) view of a storage into a contiguous row-major Float array.
    static func materialize(_ t: PickleTensorRef, key: String, bytes: UnsafeRawBufferPointer, name: String) throws -> WeightTensor {
        let type = t.storage.type
        let size = type.elementSize
        let storageCount = t.storage.count
        guard bytes.count / size >= storageCount else {
            throw WeightsError("\(name): tensor '\(key)': storage '\(t.storage.key)' declares \(storageCount) elements but holds \(bytes.count) bytes")
        }
        guard t.offset >= 0, t.shape.allSatisfy({ $0 >= 0 }), t.stride.allSatisfy({ $0 >= 0 }) else {
            throw WeightsError("\(name): tensor '\(key)' has a negative offset, size or stride")
        }
        var count = 1
        var last = t.offset
        for (n, s) in zip(t.shape, t.stride) {
            let (c, o1) = count.multipliedReportingOverflow(by: n)
            guard !o1 else { throw WeightsError("\(name): tensor '\(key)' shape \(t.shape) overflows") }
            count = c
            if n > 0 {
                let (span, o2) = (n - 1).multipliedReportingOverflow(by: s)
                let (l, o3) = last.addingReportingOverflow(span)
                guard !o2, !o3 else { throw WeightsError("\(name): tensor '\(key)' strides \(t.stride) overflow") }
                last = l
            }
        }
        if count == 0 { return WeightTensor(shape: t.shape, values: []) }
        // Zero strides let a tiny storage claim a huge tensor; weights are never such views.
        guard count <= storageCount * 16 + 1024 else {
            throw WeightsError("\(name): refused: tensor '\(key)' (shape \(t.shape), stride \(t.stride)) views \(count) elements of a storage of \(storageCount)")
        }
        guard last < storageCount else {
            throw WeightsError("\(name): tensor '\(key)' (shape \(t.shape), stride \(t.stride), offset \(t.offset)) reaches element \(last) of a storage with \(storageCount)")
        }
        var values = [Float](repeating: 0, count: count)
        let base = bytes.baseAddress!
        func load(_ i: Int) -> Float {
            switch type {
            case .float: Float(bitPattern: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
            case .half: Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian))
            case .bfloat16: Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16)
            case .double: Float(Double(bitPattern: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian))
            default: 0
            }
        }
        // Walk the index space in row-major order with an odometer over all dimensions
        // but the last, which is the inner loop.
        let rank = t.shape.count
        if rank == 0 { values[0] = load(t.offset); return WeightTensor(shape: [], values: values) }
        let inner = t.shape[rank - 1], innerStride = t.stride[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var start = t.offset
        var out = 0
        values.withUnsafeMutableBufferPointer { v in
            while out < count {
                var s = start
                for _ in 0..<inner { v[out] = load(s); out += 1; s += innerStride }
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1
                    start += t.stride[d]
                    if index[d] < t.shape[d] { break }
                    start -= t.stride[d] * t.shape[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
        return WeightTensor(shape: t.shape, values: values)
    }
}
