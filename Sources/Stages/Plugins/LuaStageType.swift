import Foundation
import Workflow

/// The sandbox limits of a plugin stage: the `lua:` parameter every plugin stage gets,
/// shaped like the hooks' one. A stage's `run` is one call doing the whole stage's work
/// (reading every input, ranking thousands of scores), where a hook call handles one
/// batch; so the defaults are larger: 256 MiB and 10⁹ instructions (about a few
/// seconds of Lua).
enum PluginStageLimits {
    static let parameterName = "lua"
    static let defaultMemoryMiB = 256
    static let defaultInstructions = 1_000_000_000

    static let declaration = ParameterDeclaration(parameterName, .object([
        .init("memory_mb", .int(range: 1...65536), default: .int(defaultMemoryMiB), help: "memory limit of the plugin's Lua state, MiB"),
        .init("instructions", .int(range: 1000...Int(Int32.max) * 64), default: .int(defaultInstructions),
              help: "instruction limit of the plugin's run(ctx) call"),
    ]), help: "limits of the Lua sandbox the plugin stage runs in")

    static func limits(_ p: Parameters) -> LuaLimits {
        LuaLimits(memoryBytes: max(1, p.value(at: "\(parameterName).memory_mb")?.intValue ?? defaultMemoryMiB) << 20,
                  instructionsPerCall: p.value(at: "\(parameterName).instructions")?.intValue ?? defaultInstructions)
    }
}

/// A stage type defined by a Lua file in a plugin folder (plugins/stages/README.md).
/// Its declaration was read from the file's `stage` table at start-up; each run gets a
/// fresh sandboxed Lua state running the same source (the bytes whose digest is in the
/// cache key, not whatever the file holds by then), and calls `run(ctx)` with the
/// `funad` file API confined to the stage's input and output folders.
struct LuaStageType: StageType {
    let declaration: StageDeclaration
    /// The plugin's text as loaded at start-up.
    let source: String

    /// The name errors show (`plugins/stages/score-ensemble.lua`).
    var file: String { declaration.definitionFile ?? declaration.type }

    func run(_ context: StageContext) async throws {
        let site = LuaCallSite(role: "stage-plugin \(declaration.type)", stage: context.stageName)
        let script = try LuaScript(source: source, chunkName: file, limits: PluginStageLimits.limits(context.parameters), site: site,
                                   print: { [file] line in context.log("\(file): \(line)") })
        let api = PluginStageAPI(context: context)
        api.register(on: script)
        let seed = context.parameters["seed"]?.intValue ?? 0
        var params = LuaTable()
        for (name, value) in context.parameters.values where name != PluginStageLimits.parameterName {
            params.fields[name] = LuaValue(value)
        }
        let ctx = LuaTable(fields: ["params": .table(params), "stage": .string(context.stageName), "seed": .integer(Int64(seed))])
        _ = try script.call("run", [.value(.table(ctx))], seed: UInt64(bitPattern: Int64(seed)))
        if api.filesWritten == 0 {
            throw LuaError.returned(script: file, function: "run", site: site,
                                    "without writing a file; a stage must write its outputs with funad.write_json or funad.write_text")
        }
    }
}

/// The `funad.*` functions a plugin stage's `run` may call besides the numeric helpers
/// every script has: its inputs, confined file reads and writes, progress and the run
/// record. Each error names the function; Lua adds the caller's file and line.
final class PluginStageAPI {
    /// Reads stop here, checked before reading: a plugin asking for a larger file almost
    /// surely names the wrong one, and would exhaust the machine's memory first.
    static let maximumReadBytes = 256 << 20

    private let context: StageContext
    private let inputFolders: [ConfinedFolder]
    private let outputFolder: ConfinedFolder
    private(set) var filesWritten = 0

    init(context: StageContext) {
        self.context = context
        inputFolders = context.inputs.enumerated().map { ConfinedFolder($1.directory, label: "input \($0 + 1) (\($1.stage))") }
        outputFolder = ConfinedFolder(context.outputDirectory, label: "the output folder")
    }

    struct Misuse: Error, CustomStringConvertible {
        var description: String
    }

    func register(on script: LuaScript) {
        script.register("funad", "inputs") { [context] _ in
            .table(LuaTable(array: context.inputs.map { input in
                .table(LuaTable(fields: ["stage": .string(input.stage), "type": .string(input.stageType),
                                         "produces": .table(LuaTable(array: input.produces.map(LuaValue.string)))]))
            }))
        }
        script.register("funad", "list") { [unowned self] args in
            .table(LuaTable(array: try input(args, "funad.list").listing().map(LuaValue.string)))
        }
        script.register("funad", "read_text") { [unowned self] args in
            .string(try readText(args, "funad.read_text"))
        }
        script.register("funad", "read_json") { [unowned self] args in
            let function = "funad.read_json"
            let name = try string(args, 2, function, "a file name")
            let data = try read(try input(args, function), name, function)
            do { return try LuaJSON.value(fromJSON: data) } catch {
                throw Misuse(description: "\(function): '\(name)' is not valid JSON")
            }
        }
        script.register("funad", "write_text") { [unowned self] args in
            let function = "funad.write_text"
            let name = try string(args, 1, function, "a file name")
            try write(try string(args, 2, function, "the text (a string)"), to: name, function)
            return .nil
        }
        script.register("funad", "write_json") { [unowned self] args in
            let function = "funad.write_json"
            let name = try string(args, 1, function, "a file name")
            let text: String
            do throws(LuaJSON.Problem) { text = try LuaJSON.json(args.count > 1 ? args[1] : .nil) } catch {
                throw Misuse(description: "\(function): '\(name)': \(error.description)")
            }
            try write(text, to: name, function)
            return .nil
        }
        script.register("funad", "progress") { [context] args in
            guard args.count >= 2, let done = args[0].intValue, let total = args[1].intValue, done >= 0, total >= 0 else {
                throw Misuse(description: "funad.progress: expected (done, total) as non-negative integers")
            }
            if context.isCancelled { throw Misuse(description: "funad.progress: the run is being cancelled") }
            context.progress(done, of: total)
            return .nil
        }
        script.register("funad", "record") { [context] args in
            guard let key = args.first?.stringValue, !key.isEmpty else {
                throw Misuse(description: "funad.record: argument 1 must be the key (a non-empty string)")
            }
            do throws(LuaJSON.Problem) {
                context.record(key, try LuaJSON.parameterValue(args.count > 1 ? args[1] : .nil, path: key).jsonObject)
            } catch {
                throw Misuse(description: "funad.record: \(error.description)")
            }
            return .nil
        }
    }

    // MARK: - helpers

    private func input(_ args: [LuaValue], _ function: String) throws -> ConfinedFolder {
        let count = inputFolders.count
        guard let i = args.first?.intValue, (1...max(1, count)).contains(i), i <= count else {
            let got = PluginStageDeclarationReader.describe(args.first)
            throw Misuse(description: "\(function): argument 1 is \(got); expected an input number 1..\(count) (the stage has \(count) input\(count == 1 ? "" : "s"), in needs order)")
        }
        return inputFolders[i - 1]
    }

    private func string(_ args: [LuaValue], _ position: Int, _ function: String, _ what: String) throws -> String {
        guard position <= args.count, let s = args[position - 1].stringValue else {
            throw Misuse(description: "\(function): argument \(position) is \(PluginStageDeclarationReader.describe(position <= args.count ? args[position - 1] : nil)); expected \(what)")
        }
        return s
    }

    private func readText(_ args: [LuaValue], _ function: String) throws -> String {
        let name = try string(args, 2, function, "a file name")
        let data = try read(try input(args, function), name, function)
        guard let text = String(data: data, encoding: .utf8) else {
            throw Misuse(description: "\(function): '\(name)' is not UTF-8 text")
        }
        return text
    }

    private func read(_ folder: ConfinedFolder, _ name: String, _ function: String) throws -> Data {
        let path = try folder.existingFile(name, function: function)
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        guard size <= Self.maximumReadBytes else {
            throw Misuse(description: "\(function): '\(name)' in \(folder.label) has \(size) bytes; a plugin reads at most \(Self.maximumReadBytes) bytes (256 MiB) per file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Misuse(description: "\(function): cannot read '\(name)' in \(folder.label)")
        }
        return data
    }

    /// The engine writes the stage's summary (what `funad.record` collects) under this name.
    static let summaryFile = "summary.json"

    private func write(_ text: String, to name: String, _ function: String) throws {
        guard name != Self.summaryFile else {
            throw Misuse(description: "\(function): '\(name)' is written by funad (the values given to funad.record); choose another name")
        }
        let path = try outputFolder.writableFile(name, function: function)
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
            throw Misuse(description: "\(function): cannot write '\(name)': \(error.localizedDescription)")
        }
        filesWritten += 1
    }
}
