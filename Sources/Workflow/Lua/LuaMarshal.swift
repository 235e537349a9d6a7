import CLua
import CLuaSandbox

/// Why a Lua value cannot become a `LuaValue` (e.g. "a function"), or a push failed.
struct LuaMarshalProblem: Error {
    var text: String
}

/// Copies values between Swift and a Lua stack. Callers hold the sandbox's marshalling
/// flag, so allocations here cannot hit the script's memory limit, and every access is
/// raw (no metamethod can run): none of these Lua API calls can raise a Lua error.
enum LuaMarshal {
    /// Deeper tables are refused rather than followed: a table that contains itself
    /// would otherwise recurse forever.
    static let maxDepth = 64

    static func push(_ value: LuaValue, _ L: OpaquePointer) throws(LuaMarshalProblem) {
        guard lua_checkstack(L, 4) != 0 else { throw LuaMarshalProblem(text: "values nested too deeply for the Lua stack") }
        switch value {
        case .nil: lua_pushnil(L)
        case .boolean(let b): lua_pushboolean(L, b ? 1 : 0)
        case .integer(let i): lua_pushinteger(L, i)
        case .number(let d): lua_pushnumber(L, d)
        case .string(let s): pushString(s, L)
        case .table(let t):
            lua_createtable(L, Int32(clamping: t.array.count), Int32(clamping: t.fields.count))
            for (i, element) in t.array.enumerated() {
                try push(element, L)
                lua_rawseti(L, -2, Int64(i + 1))
            }
            for (key, element) in t.fields {
                pushString(key, L)
                try push(element, L)
                lua_rawset(L, -3)
            }
        case .vector(let floats):
            let pushed = floats.withUnsafeBufferPointer { lsb_push_vector(L, $0.baseAddress, Int64($0.count), 1) }
            guard pushed != 0 else { throw LuaMarshalProblem(text: "no memory to copy a vector of \(floats.count) floats") }
        }
    }

    static func pushString(_ s: String, _ L: OpaquePointer) {
        var s = s
        s.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }

    /// The value at `index` (vectors become tables of numbers).
    static func read(_ L: OpaquePointer, _ index: Int32, depth: Int = 0) throws(LuaMarshalProblem) -> LuaValue {
        let index = lua_absindex(L, index)
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE: return .nil
        case LUA_TBOOLEAN: return .boolean(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            return lua_isinteger(L, index) != 0 ? .integer(lua_tointegerx(L, index, nil)) : .number(lua_tonumberx(L, index, nil))
        case LUA_TSTRING: return .string(string(L, index))
        case LUA_TTABLE: return .table(try readTable(L, index, depth: depth))
        case LUA_TUSERDATA:
            var count: Int64 = 0
            var valid: Int32 = 0
            let data = lsb_vector_data(L, index, &count, &valid)
            guard count >= 0 else { throw LuaMarshalProblem(text: "a userdata") }
            guard valid != 0 else { throw LuaMarshalProblem(text: "a vector from a call that has returned") }
            let floats = UnsafeBufferPointer(start: data, count: Int(count))
            return .table(LuaTable(array: floats.map { .number(Double($0)) }))
        default:
            throw LuaMarshalProblem(text: "a \(String(cString: lua_typename(L, lua_type(L, index))))")
        }
    }

    /// Only call on a string slot: lua_tolstring would convert a number in place.
    static func string(_ L: OpaquePointer, _ index: Int32) -> String {
        var length = 0
        guard let p = lua_tolstring(L, index, &length) else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self)
    }

    private static func readTable(_ L: OpaquePointer, _ index: Int32, depth: Int) throws(LuaMarshalProblem) -> LuaTable {
        guard depth < maxDepth else { throw LuaMarshalProblem(text: "a table nested more than \(maxDepth) levels deep (does it contain itself?)") }
        guard lua_checkstack(L, 4) != 0 else { throw LuaMarshalProblem(text: "a table nested too deeply for the Lua stack") }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        var fields: [String: LuaValue] = [:]
        var indexed: [Int64: LuaValue] = [:]
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            switch lua_type(L, -2) {
            case LUA_TSTRING:
                fields[string(L, -2)] = try read(L, -1, depth: depth + 1)
            case LUA_TNUMBER where lua_isinteger(L, -2) != 0:
                indexed[lua_tointegerx(L, -2, nil)] = try read(L, -1, depth: depth + 1)
            default:
                let keyType = String(cString: lua_typename(L, lua_type(L, -2)))
                throw LuaMarshalProblem(text: "a table with a \(lua_type(L, -2) == LUA_TNUMBER ? "non-integer number" : keyType) key")
            }
            lua_settop(L, -2)
        }
        var array: [LuaValue] = []
        array.reserveCapacity(indexed.count)
        for i in 1...Int64(indexed.count + 1) {
            guard let element = indexed[i] else { break }
            array.append(element)
        }
        if array.count != indexed.count {
            let stray = indexed.keys.filter { $0 < 1 || $0 > Int64(array.count) }.min() ?? 0
            throw LuaMarshalProblem(text: "a table whose integer keys are not a sequence 1..n (key \(stray))")
        }
        return LuaTable(array: array, fields: fields)
    }
}
