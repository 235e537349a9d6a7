import CLua
import CLuaSandbox

/// One sandboxed `lua_State` running one script (a plain text file the user names).
///
/// The sandbox follows Redis's scripting: an allow-list of libraries (base, math, string,
/// table, utf8; no io, os, debug, package, coroutine, and no dofile, loadfile,
/// collectgarbage, require or string.dump), a count hook for the instruction limit, an
/// allocator for the memory limit, and `math.random` reseeded by the host before every
/// call so that a run replays identically (funad caches on it). `print` goes to the host.
///
/// State persists between calls of the same script (globals a script sets are there in the
/// next call); vectors do not: each is invalidated when the call that received it returns.
///
/// Not Sendable: a Lua state belongs to one task. Every Lua API call made from Swift is
/// raw and made under the sandbox's marshalling flag, or is a protected call, so no Lua
/// error can unwind through a Swift frame.
public final class LuaScript {
    public let chunkName: String
    /// Settable: the same script may be reused for another role.
    public var site: LuaCallSite
    private let limits: LuaLimits
    private let host: LuaHost
    private let sandbox: OpaquePointer
    /// Set while a call runs: a host function must not call back into its own script (the
    /// nested call would reset the outer call's counters and invalidate its vectors).
    private var running = false
    private var L: OpaquePointer { lsb_state(sandbox) }

    /// Compiles `source` as text only (a binary chunk is refused) under `chunkName` and runs
    /// its top level under the limits. Throws `LuaError` (syntax errors: "plugins/x.lua:3:
    /// '=' expected near 'end' [...]").
    public init(source: String, chunkName: String, limits: LuaLimits = .default, site: LuaCallSite,
                print: @escaping (String) -> Void = { _ in }) throws {
        self.chunkName = chunkName
        self.site = site
        self.limits = limits
        host = LuaHost(print: print)
        guard let sandbox = lsb_new(max(0, limits.memoryBytes), Int64(max(1, limits.instructionsPerCall)),
                                    Unmanaged.passUnretained(host).toOpaque(),
                                    LuaHost.printCallback, LuaHost.logCallback, LuaHost.hostCallback) else {
            throw LuaError("\(chunkName): could not create a Lua state (out of memory) \(site)")
        }
        self.sandbox = sandbox
        // From here on deinit runs if init throws, and closes the state.
        var prelude = LuaPrelude.source
        let preludeStatus = prelude.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { lsb_load(sandbox, $0.baseAddress, $0.count, LuaPrelude.chunkName) }
        }
        if preludeStatus != LUA_OK {
            let error = failure(preludeStatus)
            clearStack()
            throw error
        }
        _ = try finishCall(nargs: 0, nresults: 0, seed: 0, function: nil)
        var text = source
        let status = text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { lsb_load(sandbox, $0.baseAddress, $0.count, "@" + chunkName) }
        }
        if status != LUA_OK {
            let error = failure(status)
            clearStack()
            throw error
        }
        _ = try finishCall(nargs: 0, nresults: 0, seed: 0, function: nil)
    }

    deinit {
        lsb_free(sandbox)
    }

    /// Names of the global Lua functions the script defined (library functions excluded),
    /// sorted: for "did you mean" suggestions.
    public var globalFunctionNames: [String] {
        lsb_marshal_begin(sandbox)
        let top = lua_gettop(L)
        defer { lua_settop(L, top); lsb_marshal_end(sandbox) }
        var names: [String] = []
        guard lua_checkstack(L, 3) != 0 else { return names }
        lsb_push_globals(L)
        lua_pushnil(L)
        while lua_next(L, -2) != 0 {
            if lua_type(L, -2) == LUA_TSTRING, lua_type(L, -1) == LUA_TFUNCTION, lua_iscfunction(L, -1) == 0 {
                names.append(LuaMarshal.string(L, -2))
            }
            lua_settop(L, -2)
        }
        return names.sorted()
    }

    public func hasFunction(_ name: String) -> Bool {
        lsb_marshal_begin(sandbox)
        let top = lua_gettop(L)
        defer { lua_settop(L, top); lsb_marshal_end(sandbox) }
        guard lua_checkstack(L, 3) != 0 else { return false }
        return pushGlobal(name) == LUA_TFUNCTION
    }

    /// The value of global `name`, copied (.nil when unset): how a plugin stage's
    /// declaration table is read after its top level ran. Throws when the value cannot be
    /// copied (a function or userdata inside it).
    public func global(_ name: String) throws -> LuaValue {
        lsb_marshal_begin(sandbox)
        defer { clearStack(); lsb_marshal_end(sandbox) }
        guard lua_checkstack(L, 3) != 0 else { throw LuaError("\(chunkName): no stack space to read global '\(name)' \(site)") }
        _ = pushGlobal(name)
        do throws(LuaMarshalProblem) { return try LuaMarshal.read(L, -1) } catch {
            throw LuaError("\(chunkName): global '\(name)' holds \(error.text), which the host cannot read")
        }
    }

    /// Calls global function `name` and returns its first result (.nil if none).
    /// `math.random` is reseeded with `seed` first (through the original math.randomseed,
    /// so a script replacing it cannot break determinism): same seed and inputs, same
    /// result. The instruction counter restarts; every vector passed in or created during
    /// the call is invalidated when it returns.
    public func call(_ name: String, _ arguments: [LuaArgument], seed: UInt64) throws -> LuaValue {
        guard !running else { throw LuaError("\(chunkName): \(name) called while the script is already running a call \(site)") }
        running = true
        defer { running = false }
        lsb_marshal_begin(sandbox)
        var marshalling = true
        defer { if marshalling { clearStack(); lsb_marshal_end(sandbox) } }
        guard lua_checkstack(L, Int32(clamping: arguments.count + 8)) != 0 else {
            throw LuaError("\(chunkName): too many arguments for \(name) \(site)")
        }
        guard pushGlobal(name) == LUA_TFUNCTION else {
            throw LuaError("\(chunkName): no global function '\(name)' \(site)")
        }
        for argument in arguments {
            switch argument {
            case .vector(let buffer):
                guard lsb_push_vector(L, buffer.baseAddress, Int64(buffer.count), 0) != 0 else {
                    throw LuaError("\(chunkName): could not pass a vector to \(name) \(site)")
                }
            case .value(let value):
                do throws(LuaMarshalProblem) { try LuaMarshal.push(value, L) } catch {
                    throw LuaError("\(chunkName): could not pass an argument to \(name): \(error.text) \(site)")
                }
            }
        }
        marshalling = false
        lsb_marshal_end(sandbox)
        return try finishCall(nargs: Int32(arguments.count), nresults: 1, seed: seed, function: name)
    }

    /// Registers `body` as `<table>.<name>` (the global table is created if absent, and
    /// replaces a non-table global of that name). Arguments arrive converted (vectors as
    /// tables of numbers); an error `body` throws becomes a Lua error carrying its
    /// description, raised on the C side. Return .nil for no result.
    public func register(_ table: String, _ name: String, _ body: @escaping ([LuaValue]) throws -> LuaValue) {
        host.functions.append(body)
        let status = lsb_register(sandbox, table, name, Int32(host.functions.count - 1))
        // Registration allocates past the script's limit if it must; only a machine out of
        // memory can make it fail, and then nothing sensible can follow.
        precondition(status == LUA_OK, "funad: out of memory registering \(table).\(name) for \(chunkName)")
    }

    /// Values recorded by funad.log(name, number) since the last take, in call order.
    public func takeLoggedValues() -> [(name: String, value: Double)] {
        defer { host.logged.removeAll() }
        return host.logged
    }

    /// Bytes currently allocated by the state, vector copies included.
    public var memoryInUse: Int { lsb_memory_in_use(sandbox) }

    // MARK: - internals

    /// Runs the function under the stack's arguments, converts its result, invalidates the
    /// call's vectors and leaves the stack empty.
    private func finishCall(nargs: Int32, nresults: Int32, seed: UInt64, function: String?) throws -> LuaValue {
        let status = lsb_call(sandbox, nargs, nresults, seed)
        lsb_marshal_begin(sandbox)
        defer {
            lsb_invalidate_vectors(sandbox)
            clearStack()
            lsb_marshal_end(sandbox)
        }
        guard status == LUA_OK else { throw failure(status) }
        guard let function, nresults > 0 else { return .nil }
        do throws(LuaMarshalProblem) {
            return try LuaMarshal.read(L, -1)
        } catch {
            throw LuaError.returned(script: chunkName, function: function, site: site, error.text)
        }
    }

    /// The error for a failed load or call, from the abort flag or the error object on top.
    private func failure(_ status: Int32) -> LuaError {
        switch lsb_abort_kind(sandbox) {
        case Int32(LSB_ABORT_INSTRUCTIONS):
            return .instructionLimit(script: chunkName, limits: limits, site: site)
        case Int32(LSB_ABORT_MEMORY):
            return .memoryLimit(script: chunkName, limits: limits, site: site)
        default:
            if status == LUA_ERRMEM { return .memoryLimit(script: chunkName, limits: limits, site: site) }
        }
        let message: String
        switch lua_type(L, -1) {
        case LUA_TSTRING: message = LuaMarshal.string(L, -1)
        case LUA_TNUMBER: message = "\(lua_tonumberx(L, -1, nil))"
        default: message = "(error object is a \(String(cString: lua_typename(L, lua_type(L, -1)))) value)"
        }
        // Lua's binary-chunk refusal does not name the chunk; every other message does.
        let named = message.hasPrefix(chunkName + ":") ? message : "\(chunkName): \(message)"
        return .script(named, site: site)
    }

    /// Pushes the raw global `name` (no metamethod of the globals runs) and returns its type.
    private func pushGlobal(_ name: String) -> Int32 {
        lsb_push_globals(L)
        LuaMarshal.pushString(name, L)
        let type = lua_rawget(L, -2)
        lua_rotate(L, -2, 1)
        lua_settop(L, -2)
        return type
    }

    private func clearStack() { lua_settop(L, 0) }
}

/// What the C callbacks reach through their context pointer. Owned by the LuaScript,
/// whose state (and so every callback) does not outlive it.
final class LuaHost {
    let print: (String) -> Void
    var logged: [(name: String, value: Double)] = []
    var functions: [([LuaValue]) throws -> LuaValue] = []

    init(print: @escaping (String) -> Void) {
        self.print = print
    }

    private static func from(_ ctx: UnsafeMutableRawPointer?) -> LuaHost {
        Unmanaged<LuaHost>.fromOpaque(ctx!).takeUnretainedValue()
    }

    private static func text(_ p: UnsafePointer<CChar>?, _ length: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self)
    }

    static let printCallback: lsb_print_fn = { ctx, p, length in
        from(ctx).print(text(p, length))
    }

    static let logCallback: lsb_log_fn = { ctx, p, length, value in
        from(ctx).logged.append((name: text(p, length), value: value))
    }

    /// Runs host function `id` on the arguments in slots 1...top. Never raises: a problem is
    /// pushed as a message and reported with -1, and the C trampoline raises it.
    static let hostCallback: lsb_host_fn = { ctx, L, id in
        let host = from(ctx)
        guard let L else { return -1 }
        let top = lua_gettop(L)
        do {
            var arguments: [LuaValue] = []
            for i in 0..<top {
                do throws(LuaMarshalProblem) { arguments.append(try LuaMarshal.read(L, i + 1)) } catch {
                    throw LuaMarshalProblem(text: "argument \(i + 1) is \(error.text), which the host cannot take")
                }
            }
            let result = try host.functions[Int(id)](arguments)
            lua_settop(L, top)
            if result == .nil { return 0 }
            try LuaMarshal.push(result, L)
            return 1
        } catch {
            lua_settop(L, top)
            let message = (error as? LuaMarshalProblem)?.text ?? String(describing: error)
            if lua_checkstack(L, 1) == 0 { lua_settop(L, max(0, top - 1)) }
            LuaMarshal.pushString(message, L)
            return -1
        }
    }
}
