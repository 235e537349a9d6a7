/// What one script may spend per call. Both limits exist so that a user's hook can never
/// hang or exhaust the machine: the host always gets control back with a message that
/// names the script and tells which workflow setting raises the limit.
public struct LuaLimits: Sendable, Hashable {
    /// Bytes the Lua state may hold (vector copies included); enforced by the state's allocator.
    public var memoryBytes: Int
    /// Lua VM instructions one call (or the script's top level) may execute; enforced by a
    /// count hook, with the counter reset at the start of each call.
    public var instructionsPerCall: Int

    public init(memoryBytes: Int = 64 << 20, instructionsPerCall: Int = 100_000_000) {
        self.memoryBytes = memoryBytes
        self.instructionsPerCall = instructionsPerCall
    }

    public static let `default` = LuaLimits()

    /// "64 MiB" when a whole number of MiB, else the byte count (for limit messages).
    var memoryDescription: String {
        memoryBytes % (1 << 20) == 0 ? "\(memoryBytes >> 20) MiB" : "\(memoryBytes) bytes"
    }
}

/// Where a script runs, so that an error says which hook of which stage failed.
/// Renders as "[hook pseudo_labels, stage model]".
public struct LuaCallSite: Sendable, Hashable, CustomStringConvertible {
    public var role: String
    public var stage: String

    public init(role: String, stage: String) {
        self.role = role
        self.stage = stage
    }

    public var description: String { "[\(role), stage \(stage)]" }
}
