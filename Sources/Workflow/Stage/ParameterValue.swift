import Foundation

/// A stage parameter after validation: typed, with defaults filled in. Paths are
/// resolved against the workflow file's folder. The canonical JSON of these values is
/// what the cache key hashes, so equal settings always hash equal.
public indirect enum ParameterValue: Sendable, Hashable {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)
    /// A path resolved to an absolute path; `isInput` marks a file or folder whose content
    /// the stage reads (and so the cache key covers).
    case path(String)
    case list([ParameterValue])
    case object([String: ParameterValue])
    case null

    /// Deterministic JSON: sorted keys, no whitespace, integers without a fraction,
    /// doubles in their shortest round-trip form.
    public var canonicalJSON: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v):
            if v.isNaN || v.isInfinite { return "\"\(v)\"" }
            return "\(v)"
        case .bool(let v): return v ? "true" : "false"
        case .string(let v), .path(let v): return Self.quote(v)
        case .null: return "null"
        case .list(let items): return "[" + items.map(\.canonicalJSON).joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { "\(Self.quote($0)):\(fields[$0]!.canonicalJSON)" }.joined(separator: ",") + "}"
        }
    }

    /// The value as Foundation JSON objects, for run records and stage code.
    public var jsonObject: Any {
        switch self {
        case .int(let v): return v
        case .double(let v): return v
        case .bool(let v): return v
        case .string(let v), .path(let v): return v
        case .null: return NSNull()
        case .list(let items): return items.map(\.jsonObject)
        case .object(let fields): return fields.mapValues(\.jsonObject)
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    // Typed accessors for stage code; validation guarantees the type.
    public var intValue: Int? { if case .int(let v) = self { return v }; return nil }
    public var doubleValue: Double? {
        switch self { case .double(let v): return v; case .int(let v): return Double(v); default: return nil }
    }
    public var boolValue: Bool? { if case .bool(let v) = self { return v }; return nil }
    public var stringValue: String? {
        switch self { case .string(let v), .path(let v): return v; default: return nil }
    }
    public var listValue: [ParameterValue]? { if case .list(let v) = self { return v }; return nil }
    public var objectValue: [String: ParameterValue]? { if case .object(let v) = self { return v }; return nil }
}

/// A stage's validated parameters, read by name.
public struct Parameters: Sendable, Hashable {
    public var values: [String: ParameterValue]
    public init(_ values: [String: ParameterValue]) { self.values = values }

    public subscript(name: String) -> ParameterValue? { values[name] }

    /// Looks up a dotted path such as `contamination.seed`.
    public func value(at path: String) -> ParameterValue? {
        var current: ParameterValue = .object(values)
        for part in path.split(separator: ".") {
            guard case .object(let fields) = current, let next = fields[String(part)] else { return nil }
            current = next
        }
        return current
    }

    public func int(_ path: String) -> Int { value(at: path)?.intValue ?? 0 }
    public func double(_ path: String) -> Double { value(at: path)?.doubleValue ?? 0 }
    public func bool(_ path: String) -> Bool { value(at: path)?.boolValue ?? false }
    public func string(_ path: String) -> String { value(at: path)?.stringValue ?? "" }
    public func optionalString(_ path: String) -> String? { value(at: path)?.stringValue }
    public func optionalInt(_ path: String) -> Int? { value(at: path)?.intValue }
    public func optionalDouble(_ path: String) -> Double? { value(at: path)?.doubleValue }

    public var canonicalJSON: String { ParameterValue.object(values).canonicalJSON }
}
