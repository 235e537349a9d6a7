import Foundation
import Workflow

/// JSON ↔ Lua values for plugin stages. Objects are tables with string keys, arrays are
/// sequences, null is nil (so a null inside an array ends the Lua sequence there, and an
/// object field holding null is simply absent). Integral numbers that fit 64 bits become
/// Lua integers, others floats.
///
/// Lua has one table type where JSON has two, so an empty table is ambiguous. Writing
/// chooses an array: `{}` is written as `[]`. A table holding the marker field
/// `__object = true` is written as an object, the marker left out, so `{__object = true}`
/// is `{}`. Reading an empty object gives an empty table (the marker is not added).
enum LuaJSON {
    /// The marker field that makes a table a JSON object even when it is otherwise empty.
    static let objectMarker = "__object"

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: reading

    static func value(fromJSON data: Data) throws -> LuaValue {
        try JSONDecoder().decode(Node.self, from: data).value
    }

    /// Decodes any JSON value, keeping integers apart from floats.
    private struct Node: Decodable {
        var value: LuaValue

        init(from decoder: Decoder) throws {
            if var array = try? decoder.unkeyedContainer() {
                var items: [LuaValue] = []
                var ended = false
                while !array.isAtEnd {
                    let item = try array.decode(Node.self).value
                    // nil cannot sit inside a Lua sequence: the sequence ends at the first null.
                    if item == .nil { ended = true }
                    if !ended { items.append(item) }
                }
                value = .table(LuaTable(array: items))
                return
            }
            if let object = try? decoder.container(keyedBy: Key.self) {
                var fields: [String: LuaValue] = [:]
                for key in object.allKeys {
                    let item = try object.decode(Node.self, forKey: key).value
                    if item != .nil { fields[key.stringValue] = item }
                }
                value = .table(LuaTable(fields: fields))
                return
            }
            let single = try decoder.singleValueContainer()
            if single.decodeNil() { value = .nil }
            else if let b = try? single.decode(Bool.self) { value = .boolean(b) }
            else if let i = try? single.decode(Int64.self) { value = .integer(i) }
            else if let d = try? single.decode(Double.self) { value = .number(d) }
            else { value = .string(try single.decode(String.self)) }
        }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }

    // MARK: writing

    /// Compact JSON with sorted keys (so equal values give equal bytes, which the cache
    /// and the tests rely on). `path` names the value in errors ("scores[3]").
    static func json(_ value: LuaValue, path: String = "value") throws(Problem) -> String {
        try parameterValue(value, path: path).canonicalJSON
    }

    /// The value as a JSON-shaped parameter value (also what `funad.record` stores).
    static func parameterValue(_ value: LuaValue, path: String) throws(Problem) -> ParameterValue {
        switch value {
        case .nil: return .null
        case .boolean(let b): return .bool(b)
        case .integer(let i): return .int(Int(i))
        case .number(let d):
            guard d.isFinite else { throw Problem(description: "\(path) is \(d); JSON has no NaN or infinity") }
            return .double(d)
        case .string(let s): return .string(s)
        case .vector(let floats):
            return try parameterValue(.table(LuaTable(array: floats.map { .number(Double($0)) })), path: path)
        case .table(let t):
            var fields = t.fields
            let marked = fields.removeValue(forKey: objectMarker) == .boolean(true)
            if fields.isEmpty && !marked {
                var items: [ParameterValue] = []
                for (i, item) in t.array.enumerated() { items.append(try parameterValue(item, path: "\(path)[\(i + 1)]")) }
                return .list(items)
            }
            guard t.array.isEmpty else {
                throw Problem(description: "\(path) has both a sequence part and string keys; JSON needs an array or an object")
            }
            var out: [String: ParameterValue] = [:]
            for (key, item) in fields { out[key] = try parameterValue(item, path: "\(path).\(key)") }
            return .object(out)
        }
    }
}
