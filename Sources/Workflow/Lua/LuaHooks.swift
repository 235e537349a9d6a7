import Foundation

/// Stage parameters for Lua hooks, declared the same way by every stage that offers
/// hooks: `hooks:` (which script runs as which hook) and `lua:` (the sandbox limits).
public enum LuaHookParameters {
    /// `limitDefaultsInKey: false` leaves the limits' defaults undeclared (`limits` applies
    /// the same values): a stage that gains hooks after it shipped then keeps the cache keys
    /// of workflows that set no hook, instead of recomputing every stored result once.
    public static func declarations(hooks: [String], limitDefaultsInKey: Bool = true) -> [ParameterDeclaration] {
        [
            .init("hooks", .luaHooks(hooks), help: "Lua hooks: \(hooks.joined(separator: ", ")); each a script path or {script, with} (see plugins/README.md)"),
            .init("lua", .object([
                .init("memory_mb", .int(range: 1...65536), default: limitDefaultsInKey ? .int(defaultMemoryMB) : nil,
                      help: "memory limit per hook script, MiB (default \(defaultMemoryMB))"),
                .init("instructions", .int(range: 1000...1_000_000_000_000), default: limitDefaultsInKey ? .int(defaultInstructions) : nil,
                      help: "instruction limit per hook call (default \(defaultInstructions))"),
            ]), help: "limits of the Lua sandbox the hooks run in"),
        ]
    }

    static let defaultMemoryMB = 64
    static let defaultInstructions = 100_000_000

    /// The limits set by a stage's `lua:` parameter.
    public static func limits(_ p: Parameters) -> LuaLimits {
        LuaLimits(memoryBytes: max(1, p.value(at: "lua.memory_mb")?.intValue ?? defaultMemoryMB) << 20,
                  instructionsPerCall: p.value(at: "lua.instructions")?.intValue ?? defaultInstructions)
    }

    /// Every hook a stage's `hooks:` parameter names, by hook name.
    public static func references(_ p: Parameters) -> [String: LuaHookReference] {
        guard let hooks = p["hooks"]?.objectValue else { return [:] }
        var out: [String: LuaHookReference] = [:]
        for (name, value) in hooks {
            guard let script = value.objectValue?["script"]?.stringValue else { continue }
            out[name] = LuaHookReference(hook: name, scriptPath: script, parameters: value.objectValue?["with"] ?? .object([:]))
        }
        return out
    }
}

/// One hook as a stage's parameters name it: the hook, the script's absolute path and the
/// script's own `with:` (handed to the script as `ctx.params`).
public struct LuaHookReference: Sendable, Hashable {
    public var hook: String
    public var scriptPath: String
    public var parameters: ParameterValue

    public init(hook: String, scriptPath: String, parameters: ParameterValue = .object([:])) {
        self.hook = hook
        self.scriptPath = scriptPath
        self.parameters = parameters
    }

    /// The name errors show: the path relative to the current folder when it lies below
    /// it (`plugins/otsu.lua`), else the absolute path.
    public var displayName: String { LuaHookCheck.displayName(scriptPath) }
}

/// The checks made before anything runs: the script is a readable text file of sane size
/// that compiles, runs its top level within the default limits, and defines the hook.
enum LuaHookCheck {
    /// Scripts are small programs; a larger file is almost certainly the wrong file.
    static let maximumScriptBytes = 1 << 20

    static func problem(scriptAt path: String, hook: String, stage: String) -> String? {
        let name = displayName(path)
        let source: String
        do { source = try readScript(path) } catch { return "\(error)" }
        do {
            let script = try LuaScript(source: source, chunkName: name, limits: .default,
                                       site: LuaCallSite(role: "hook \(hook)", stage: stage))
            guard script.hasFunction(hook) else {
                let defined = script.globalFunctionNames
                let hint = NameSuggestion.hint(for: hook, among: defined)
                let listing = defined.isEmpty ? "it defines no global function" : "it defines \(defined.sorted().joined(separator: ", "))"
                return "\(name) does not define a global function '\(hook)'\(hint); \(listing)"
            }
        } catch {
            return "\(error)"
        }
        return nil
    }

    /// The script's text, refusing files that are too large or not UTF-8 text.
    static func readScript(_ path: String) throws -> String {
        let name = displayName(path)
        let data: Data
        do {
            data = try BoundedRead.data(URL(fileURLWithPath: path), limit: maximumScriptBytes)
        } catch let tooLarge as BoundedRead.TooLarge {
            throw LuaError("\(name): \(tooLarge.size) bytes; a Lua script may have at most \(maximumScriptBytes) bytes")
        } catch {
            throw LuaError("\(name): cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw LuaError("\(name): not UTF-8 text (Lua scripts are loaded as text only)")
        }
        return text
    }

    static func displayName(_ path: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath + "/"
        return path.hasPrefix(cwd) ? String(path.dropFirst(cwd.count)) : path
    }
}

/// A hook ready to call: its own sandboxed Lua state (one per hook instance), the script's
/// parameters, and what the script logged. Calls are serialised by a lock, so the stage
/// may hand it to the policy objects the trainer holds; the state is never used by two
/// threads at once.
public final class LuaHook: @unchecked Sendable {
    public let reference: LuaHookReference
    private let script: LuaScript
    private let lock = NSLock()
    private let parameters: LuaValue
    private var logs: [LoggedValue] = []
    private var calls = 0

    /// One `funad.log(name, value)` of a call: the call's number (1-based, per hook) and
    /// the caller's label for it (e.g. "epoch 3, iteration 41").
    public struct LoggedValue: Sendable, Equatable {
        public var call: Int
        public var label: String
        public var name: String
        public var value: Double
    }

    public init(_ reference: LuaHookReference, limits: LuaLimits, stage: String, print: @escaping (String) -> Void) throws {
        self.reference = reference
        let source = try LuaHookCheck.readScript(reference.scriptPath)
        script = try LuaScript(source: source, chunkName: reference.displayName, limits: limits,
                               site: LuaCallSite(role: "hook \(reference.hook)", stage: stage), print: print)
        guard script.hasFunction(reference.hook) else {
            throw LuaError("\(reference.displayName) does not define a global function '\(reference.hook)'")
        }
        parameters = LuaValue(reference.parameters)
    }

    /// Calls the hook's function with `arguments` and a `ctx` table made of `context` plus
    /// `params` (the script's `with:`). `seed` reseeds `math.random` for this call.
    public func call(_ arguments: [LuaArgument], context: [String: LuaValue], seed: UInt64, label: String) throws -> LuaValue {
        lock.lock(); defer { lock.unlock() }
        var ctx = context
        ctx["params"] = parameters
        calls += 1
        let result = try script.call(reference.hook, arguments + [.value(.table(LuaTable(fields: ctx)))], seed: seed)
        for (name, value) in script.takeLoggedValues() {
            logs.append(LoggedValue(call: calls, label: label, name: name, value: value))
        }
        return result
    }

    /// A return-value problem, worded like every other hook error.
    public func badReturn(_ problem: String) -> LuaError {
        LuaError.returned(script: reference.displayName, function: reference.hook,
                          site: LuaCallSite(role: "hook \(reference.hook)", stage: script.site.stage), problem)
    }

    /// Everything the script logged so far, in call order.
    public var loggedValues: [LoggedValue] {
        lock.lock(); defer { lock.unlock() }
        return logs
    }

    public var callCount: Int {
        lock.lock(); defer { lock.unlock() }
        return calls
    }
}

extension LuaValue {
    /// A stage parameter as a Lua value (objects become tables with string keys, lists
    /// sequences, paths strings).
    public init(_ parameter: ParameterValue) {
        switch parameter {
        case .int(let v): self = .integer(Int64(v))
        case .double(let v): self = .number(v)
        case .bool(let v): self = .boolean(v)
        case .string(let v), .path(let v): self = .string(v)
        case .null: self = .nil
        case .list(let items): self = .table(LuaTable(array: items.map(LuaValue.init)))
        case .object(let fields): self = .table(LuaTable(fields: fields.mapValues(LuaValue.init)))
        }
    }
}
