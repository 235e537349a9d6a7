/// A script failure as one line that names the script, the line when Lua knows it, and
/// the call site: "plugins/otsu.lua:12: attempt to index a nil value (field 'x')
/// [hook pseudo_labels, stage model]". Limit errors say which setting raises the limit.
public struct LuaError: Error, Sendable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }

    /// A message from Lua (already "chunk:line: ..." when Lua knows the position), made one
    /// line so that it fits a diagnostic list.
    static func script(_ message: String, site: LuaCallSite) -> LuaError {
        let oneLine = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        return LuaError("\(oneLine) \(site)")
    }

    static func instructionLimit(script: String, limits: LuaLimits, site: LuaCallSite) -> LuaError {
        LuaError("\(script): instruction limit of \(limits.instructionsPerCall) per call exceeded (raise with lua.instructions) \(site)")
    }

    static func memoryLimit(script: String, limits: LuaLimits, site: LuaCallSite) -> LuaError {
        LuaError("\(script): memory limit of \(limits.memoryDescription) exceeded (raise with lua.memory_mb) \(site)")
    }

    /// A function ran but what it returned is unusable: "plugins/x.lua: pseudo_labels
    /// returned <problem> [hook pseudo_labels, stage model]".
    public static func returned(script: String, function: String, site: LuaCallSite, _ problem: String) -> LuaError {
        LuaError("\(script): \(function) returned \(problem) \(site)")
    }
}
