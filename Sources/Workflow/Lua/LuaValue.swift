/// A value crossing the Swift/Lua boundary, copied (except vectors passed as
/// `LuaArgument.vector`, which Lua sees without a copy).
public indirect enum LuaValue: Sendable, Equatable {
    case `nil`
    case boolean(Bool)
    /// Lua 5.4 keeps integers and floats apart; so does the host (3 and 3.0 differ).
    case integer(Int64)
    case number(Double)
    case string(String)
    case table(LuaTable)
    /// Swift → Lua only: a float array shown to Lua as a read-only vector (copied once,
    /// counted against the memory limit, invalidated when the call returns).
    case vector([Float])

    /// The numeric value of an integer or a number.
    public var numberValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }

    /// An integer, or a number with an integral value that fits an Int.
    public var intValue: Int? {
        switch self {
        case .integer(let i): Int(exactly: i)
        case .number(let d): Int(exactly: d)
        default: nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { s } else { nil }
    }

    public var boolValue: Bool? {
        if case .boolean(let b) = self { b } else { nil }
    }

    public var tableValue: LuaTable? {
        if case .table(let t) = self { t } else { nil }
    }
}

/// A Lua table limited to what the host exchanges: a sequence and string-keyed fields.
public struct LuaTable: Sendable, Equatable {
    /// Keys 1...n (the sequence part).
    public var array: [LuaValue]
    /// String keys.
    public var fields: [String: LuaValue]

    public init(array: [LuaValue] = [], fields: [String: LuaValue] = [:]) {
        self.array = array
        self.fields = fields
    }
}

/// An argument of `LuaScript.call`. `.vector` shows host memory to Lua without copying;
/// the pointer must stay valid for the duration of the call only (Lua cannot keep it:
/// the vector is invalidated when the call returns).
public enum LuaArgument {
    case vector(UnsafeBufferPointer<Float>)
    case value(LuaValue)
}
