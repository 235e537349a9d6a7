import Foundation

/// A named weight tensor: shape plus float32 values, row-major.
public struct WeightTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count,
                     "WeightTensor: shape \(shape) holds \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    public var count: Int { values.count }
}

/// Errors reading or writing a weights file; each names the file and what was expected.
public struct WeightsError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
/// little-endian header length, a JSON header mapping each name to dtype, shape and
/// byte offsets into the data section, then the raw little-endian data.
/// Reading accepts F32, F16 and BF16 (converted to Float); writing emits F32.
public enum SafeTensors {
    /// The JSON header's length. The reference implementation refuses headers over 100 MB
    /// (its `MAX_HEADER_SIZE`); real headers are ~100 bytes per tensor, so ~100 KB.
    static let maxHeaderBytes = 100_000_000

    public static func read(_ url: URL) throws -> [String: WeightTensor] {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw WeightsError("\(url.path): cannot read (\(error.localizedDescription))")
        }
        return try decode(data, name: url.path)
    }

    public static func decode(_ data: Data, name: String = "<memory>") throws -> [String: WeightTensor] {
        guard data.count >= 8 else { throw WeightsError("\(name): not a safetensors file (shorter than its 8-byte header length)") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw WeightsError("\(name): safetensors header length \(headerLength) exceeds the file size \(data.count)")
        }
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw WeightsError("\(name): safetensors header length \(headerLength) is over the limit of \(maxHeaderBytes) bytes")
        }
        let headerStart = data.startIndex + 8
        let dataStart = headerStart + Int(headerLength)
        let header = data[headerStart..<dataStart]
        guard let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw WeightsError("\(name): safetensors header is not a JSON object")
        }
        let payloadCount = data.count - 8 - Int(headerLength)
        // First every entry's place, checked; nothing is allocated until all fit.
        var spans: [(range: Range<Int>, key: String, dtype: String, shape: [Int], count: Int)] = []
        for (key, value) in json where key != "__metadata__" {
            guard let entry = value as? [String: Any],
                  let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int],
                  let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw WeightsError("\(name): tensor '\(key)' lacks dtype, shape or data_offsets")
            }
            let elementSize: Int
            switch dtype {
            case "F32": elementSize = 4
            case "F16", "BF16": elementSize = 2
            default: throw WeightsError("\(name): tensor '\(key)' has dtype \(dtype); expected F32, F16 or BF16")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw WeightsError("\(name): tensor '\(key)' has a negative dimension") }
            // dtype × shape, without overflow: a product past the data section cannot fit anyway.
            var byteCount = elementSize
            for n in shape {
                let (b, o) = byteCount.multipliedReportingOverflow(by: n)
                byteCount = o || b > payloadCount ? payloadCount + 1 : b
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= payloadCount, end - begin == byteCount else {
                throw WeightsError("\(name): tensor '\(key)' offsets \(begin)..<\(end) do not fit shape \(shape) of \(dtype) in \(payloadCount) data bytes")
            }
            spans.append((begin..<end, key, dtype, shape, byteCount / elementSize))
        }
        // Each tensor owns its bytes (the format's rule): overlapping ranges mean a
        // hand-made or corrupted file whose values would alias, and many tensors over
        // the same bytes could make a small file decode to any size.
        let placed = spans.filter { !$0.range.isEmpty }.sorted { ($0.range.lowerBound, $0.key) < ($1.range.lowerBound, $1.key) }
        for (a, b) in zip(placed, placed.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw WeightsError("\(name): tensors '\(a.key)' (bytes \(a.range.lowerBound)..<\(a.range.upperBound)) and '\(b.key)' (bytes \(b.range.lowerBound)..<\(b.range.upperBound)) overlap; each tensor must have its own bytes")
        }
        var result: [String: WeightTensor] = [:]
        for (range, key, dtype, shape, count) in spans {
            let begin = range.lowerBound
            var values = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + 8 + Int(headerLength) + begin
                switch dtype {
                case "F32":
                    for i in 0..<count { values[i] = Float(bitPattern: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
                case "F16":
                    for i in 0..<count { values[i] = Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)) }
                default: // BF16: the top half of a float32
                    for i in 0..<count { values[i] = Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16) }
                }
            }
            result[key] = WeightTensor(shape: shape, values: values)
        }
        return result
    }

    /// Writes tensors as F32, names sorted so that the same weights give the same bytes.
    public static func write(_ tensors: [String: WeightTensor], metadata: [String: String] = [:], to url: URL) throws {
        try encode(tensors, metadata: metadata).write(to: url, options: .atomic)
    }

    public static func encode(_ tensors: [String: WeightTensor], metadata: [String: String] = [:]) throws -> Data {
        var header = "{"
        var offset = 0
        var parts: [String] = []
        if !metadata.isEmpty {
            let meta = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            parts.append("\"__metadata__\":{\(meta)}")
        }
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            let bytes = t.count * 4
            parts.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += parts.joined(separator: ",") + "}"
        // Pad the header with spaces to a multiple of 8 bytes, as the reference writer does.
        while (header.utf8.count % 8) != 0 { header += " " }
        var out = Data(capacity: 8 + header.utf8.count + offset)
        var len = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        for name in names {
            tensors[name]!.values.withUnsafeBufferPointer { buf in
                if buf.isEmpty { return }
                if UInt32(1).littleEndian == 1 {
                    out.append(UnsafeBufferPointer(start: UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: UInt8.self), count: buf.count * 4))
                } else {
                    for v in buf { var le = v.bitPattern.littleEndian; withUnsafeBytes(of: &le) { out.append(contentsOf: $0) } }
                }
            }
        }
        return out
    }

    private static func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [])
        let text = String(decoding: data, as: UTF8.self)
        return String(text.dropFirst().dropLast())
    }
}
