import Foundation
import Testing
@testable import Stages
import Workflow

/// The repository's plugin stage folder (the shipped score-ensemble lives there).
private let repoPluginStages = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../plugins/stages").standardizedFileURL

private func scratchFolder(_ prefix: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// The `stage = {...}` table: read strictly, each problem one line naming file and field.
@Suite struct PluginStageDeclarationTests {
    static let run = "function run(ctx) funad.write_text('x', 'y') end\n"

    /// The message loading `source` gives (as the file "x.lua"), or "loaded".
    func problem(_ source: String) throws -> String {
        let dir = try scratchFolder("funad-pdecl")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("x.lua")
        try source.write(to: url, atomically: true, encoding: .utf8)
        do {
            _ = try PluginStageLoader.loadFile(at: url.path, displayName: "x.lua", reserved: Set(FunADStages.registry.sortedNames))
            return "loaded"
        } catch let failure as PluginStageLoader.Failure {
            return failure.message
        }
    }

    /// `stage` with `params` (Lua text) and one field replaced or added (`extra`).
    func declaration(params: String = "{}", _ extra: String = "") -> String {
        "stage = {type = 'x-stage', version = 1, summary = 's', consumes = {'scores'}, produces = {'scores'}, params = \(params)\(extra)}\n" + Self.run
    }

    @Test func shippedScoreEnsembleDeclaration() throws {
        let registry = FunADStages.registry(pluginDirectories: [repoPluginStages]) { Issue.record("warning: \($0)") }
        let d = try #require(registry["score-ensemble"]).declaration
        #expect(d.version == 1 && d.consumes == ["scores"] && d.produces == ["scores"] && d.optionallyConsumes.isEmpty)
        #expect(d.parameters.map(\.name) == ["method", "weights", "lua"])
        #expect(d.parameters[0].type == .choice(["rank", "minmax"]) && d.parameters[0].defaultValue == .string("rank"))
        #expect(d.parameters[1].type == .list(.double()) && d.parameters[1].defaultValue == nil && !d.parameters[1].required)
        let bytes = try Data(contentsOf: repoPluginStages.appendingPathComponent("score-ensemble.lua"))
        #expect(d.implementationDigest == SHA256.hex(bytes))
        #expect(d.definitionFile?.hasSuffix("plugins/stages/score-ensemble.lua") == true)
    }

    @Test func everyParameterKindMaps() throws {
        let dir = try scratchFolder("funad-pdecl")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("x.lua")
        try declaration(params: """
        {k = {type = 'int', min = 1, max = 9, default = 3, help = 'h'},
         r = {type = 'number', min = 0, default = 1, help = 'h'},
         b = {type = 'bool', default = false, help = 'h'},
         s = {type = 'string', required = true, help = 'h'},
         c = {type = 'choice', values = {'a', 'b'}, default = 'b', help = 'h'},
         l = {type = 'list', of = 'int', default = {1, 2}, help = 'h'}}
        """).write(to: url, atomically: true, encoding: .utf8)
        let d = try PluginStageLoader.loadFile(at: url.path, displayName: "x.lua", reserved: []).declaration
        let byName = Dictionary(uniqueKeysWithValues: d.parameters.map { ($0.name, $0) })
        #expect(byName["k"]?.type == .int(range: 1...9) && byName["k"]?.defaultValue == .int(3))
        #expect(byName["r"]?.type == .double(range: 0...Double.infinity) && byName["r"]?.defaultValue == .double(1))
        #expect(byName["b"]?.type == .bool && byName["b"]?.defaultValue == .bool(false))
        #expect(byName["s"]?.type == .string && byName["s"]?.required == true)
        #expect(byName["c"]?.type == .choice(["a", "b"]) && byName["c"]?.defaultValue == .string("b"))
        #expect(byName["l"]?.type == .list(.int()) && byName["l"]?.defaultValue == .list([.int(1), .int(2)]))
        #expect(d.parameters.last?.name == "lua")
    }

    @Test func badDeclarationsNameTheFileAndTheField() throws {
        let cases: [(String, String)] = [
            (Self.run, "x.lua: stage is missing; expected a table {type = ..., version = ..., summary = ..., produces = {...}, params = {...}, ...} (and a global function run(ctx))"),
            (declaration(params: "{k = {type = 'flaot', help = 'h'}}"),
             "x.lua: stage.params.k.type is 'flaot'; expected one of int, number, bool, string, choice, list"),
            (declaration(", consume = {}"),
             "x.lua: stage.consume is not a declaration field (did you mean 'consumes'?); expected one of type, version, summary, consumes, optionally_consumes, produces, params"),
            (declaration().replacingOccurrences(of: "'x-stage'", with: "'X_Stage'"),
             "x.lua: stage.type is 'X_Stage'; expected a stage type name of lowercase letters, digits and '-', starting with a letter"),
            (declaration().replacingOccurrences(of: "'x-stage'", with: "'evaluate'"),
             "x.lua: stage.type is 'evaluate', the name of a built-in stage type; choose another name"),
            (declaration().replacingOccurrences(of: "version = 1", with: "version = 0"),
             "x.lua: stage.version is 0; expected an integer ≥ 1"),
            (declaration().replacingOccurrences(of: "version = 1", with: "version = '1'"),
             "x.lua: stage.version is '1'; expected an integer ≥ 1"),
            (declaration().replacingOccurrences(of: "produces = {'scores'}", with: "produces = {}"),
             "x.lua: stage.produces is a table; expected a non-empty list of artifact types, e.g. {\"scores\"}"),
            (declaration().replacingOccurrences(of: "consumes = {'scores'}", with: "consumes = {'scores', 3}"),
             "x.lua: stage.consumes[2] is 3; expected an artifact type name of lowercase letters, digits and '-', starting with a letter"),
            (declaration(params: "{k = {type = 'int', default = 2.5, help = 'h'}}"),
             "x.lua: stage.params.k.default is 2.5; expected integer"),
            (declaration(params: "{k = {type = 'int', min = 1, max = 5, default = 7, help = 'h'}}"),
             "x.lua: stage.params.k.default is 7; expected integer in 1...5"),
            (declaration(params: "{k = {type = 'choice', values = {'a', 'b'}, default = 'c', help = 'h'}}"),
             "x.lua: stage.params.k.default is 'c'; expected one of a|b"),
            (declaration(params: "{k = {type = 'list', of = 'number', default = {1, 'x'}, help = 'h'}}"),
             "x.lua: stage.params.k.default is a table; expected list of number"),
            (declaration(params: "{k = {type = 'int', deafult = 1, help = 'h'}}"),
             "x.lua: stage.params.k.deafult is not a parameter field (did you mean 'default'?); expected one of type, default, min, max, values, of, required, help"),
            (declaration(params: "{k = {type = 'string', min = 1, help = 'h'}}"),
             "x.lua: stage.params.k.min is set on a string parameter; only int and number parameters take min and max"),
            (declaration(params: "{k = {type = 'int', help = 'h', min = 5, max = 3}}"),
             "x.lua: stage.params.k.min is 5, above max 3"),
            (declaration(params: "{k = {type = 'int'}}"),
             "x.lua: stage.params.k.help is missing; expected a one-line description of the parameter"),
            (declaration(params: "{lua = {type = 'int', help = 'h'}}"),
             "x.lua: stage.params.lua is declared by funad for every plugin stage (the sandbox limits); choose another name"),
            (declaration().replacingOccurrences(of: "function run(ctx)", with: "function runn(ctx)"),
             "x.lua: no global function 'run' (did you mean 'runn'?); a plugin stage defines function run(ctx) (it defines runn)"),
            ("stage = {\n", "x.lua:2: unexpected symbol near <eof>"),
        ]
        for (source, expected) in cases {
            let message = try problem(source)
            #expect(message == expected)
        }
        #expect(try problem(declaration()) == "loaded")
    }

    /// A broken file is a warning, the others still load, and a workflow naming the
    /// broken type is told why it is unknown.
    @Test func brokenPluginIsAWarningAndExplainsTheUnknownType() throws {
        let dir = try scratchFolder("funad-pbroken")
        defer { try? FileManager.default.removeItem(at: dir) }
        let plugins = dir.appendingPathComponent("stages")
        try FileManager.default.createDirectory(at: plugins, withIntermediateDirectories: true)
        let broken = plugins.appendingPathComponent("bad-stage.lua")
        try declaration().replacingOccurrences(of: "'x-stage'", with: "'bad-stage'").replacingOccurrences(of: "version = 1", with: "version = 0")
            .write(to: broken, atomically: true, encoding: .utf8)
        var warnings: [String] = []
        let registry = FunADStages.registry(pluginDirectories: [repoPluginStages, plugins]) { warnings.append($0) }
        let problem = "\(broken.path): stage.version is 0; expected an integer ≥ 1"
        #expect(warnings == [problem])
        #expect(registry["score-ensemble"] != nil && registry["bad-stage"] == nil)
        try "stages:\n  a: {type: bad-stage}\n".write(to: dir.appendingPathComponent("w.yaml"), atomically: true, encoding: .utf8)
        let session = WorkflowSession(registry: registry, cacheDirectory: dir.appendingPathComponent("cache"), environment: [:])
        do {
            _ = try session.load(dir.appendingPathComponent("w.yaml").path)
            Issue.record("expected a diagnostic")
        } catch let list as DiagnosticList {
            #expect(list.diagnostics.map(\.description) == [
                "error: \(dir.appendingPathComponent("w.yaml").path):2:13: stage 'a', field 'type': unknown stage type 'bad-stage' (its plugin did not load: \(problem)); known types: demo-data, evaluate, extract, infer, load, patchcore, predict, score-ensemble, synthesize, train",
            ])
        }
    }
}

/// FUN-AD and PatchCore scored on a tiny generated set and combined by the shipped
/// score-ensemble plugin; validation, caching and the plan treat the plugin as a stage.
@Suite(.serialized) struct PluginStageWorkflowTests {
    static let workflow = """
    name: ensemble
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 4, test_defective: 4, size: 128}}
      data: {type: load, needs: [images], with: {format: mvtec}}
      features:
        type: extract
        needs: [data]
        with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 73, input_size: 64, batch_size: 4, dtype: float32}
      model: {type: train, needs: [features], with: {epochs: 2, batch_size: 4, hidden: [16, 8], bank: {refresh: epoch}}}
      funad-scores: {type: infer, needs: [model, features], with: {map_size: 64}}
      patchcore: {type: patchcore, needs: [features], with: {coreset: 0.5, seed: 0}}
      patchcore-scores: {type: infer, needs: [patchcore, features], with: {map_size: 64}}
      ensemble: {type: score-ensemble, needs: [funad-scores, patchcore-scores]}
      report: {type: evaluate, needs: [ensemble, data], with: {overlays: 0}}
    """

    /// A scratch folder with the workflow and a copy of the shipped plugin (so that the
    /// test may edit it).
    func scratch() throws -> URL {
        let dir = try scratchFolder("funad-pstage")
        try Self.workflow.write(to: dir.appendingPathComponent("ensemble.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("stages"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: repoPluginStages.appendingPathComponent("score-ensemble.lua"),
                                         to: dir.appendingPathComponent("stages/score-ensemble.lua"))
        return dir
    }

    func session(_ dir: URL) -> WorkflowSession {
        let registry = FunADStages.registry(pluginDirectories: [dir.appendingPathComponent("stages")]) { Issue.record("warning: \($0)") }
        return WorkflowSession(registry: registry, cacheDirectory: dir.appendingPathComponent("cache"), environment: [:])
    }

    func run(_ dir: URL, _ yaml: String = "ensemble.yaml") async throws -> (RunOutcome, [String: Any]) {
        let s = session(dir)
        let wf = try s.load(dir.appendingPathComponent(yaml).path)
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let outcome = try await s.run(wf, options: RunOptions(jobs: 1, runsDirectory: dir.appendingPathComponent("runs")), board: board)
        return (outcome, try JSONSerialization.jsonObject(with: Data(contentsOf: outcome.recordURL)) as! [String: Any])
    }

    func stage(_ record: [String: Any], _ name: String) -> [String: Any] {
        (record["stages"] as! [[String: Any]]).first { $0["name"] as? String == name }!
    }

    func scores(_ record: [String: Any], _ name: String) throws -> [String: Any] {
        let dir = URL(fileURLWithPath: stage(record, name)["outputs"] as! String)
        return try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("scores.json"))) as! [String: Any]
    }

    /// Ranks normalised to [0, 1] with ties averaged, computed here independently of the
    /// plugin (by counting: rank = #below + (#equal + 1) / 2).
    static func normalisedRanks(_ xs: [Double]) -> [Double] {
        xs.map { x in
            let below = Double(xs.filter { $0 < x }.count), equal = Double(xs.filter { $0 == x }.count)
            return (below + (equal + 1) / 2 - 1) / Double(xs.count - 1)
        }
    }

    @Test func rankEnsembleOfFunADAndPatchCoreAndPluginEditReruns() async throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (first, record) = try await run(dir)
        try #require(first.status == .succeeded, "\(first.failures.map(\.message))")
        let a = try scores(record, "funad-scores"), b = try scores(record, "patchcore-scores"), e = try scores(record, "ensemble")
        let ids = a["ids"] as! [String]
        #expect(ids.count == 8 && ids == b["ids"] as! [String] && ids == e["ids"] as! [String])
        #expect(e["mapSize"] == nil)
        let ra = Self.normalisedRanks((a["scores"] as! [NSNumber]).map(\.doubleValue))
        let rb = Self.normalisedRanks((b["scores"] as! [NSNumber]).map(\.doubleValue))
        let combined = (e["scores"] as! [NSNumber]).map(\.doubleValue)
        #expect(combined.count == 8)
        for i in 0..<8 { #expect(abs(combined[i] - (ra[i] + rb[i]) / 2) < 1e-12, "image \(i)") }
        // The summary holds what funad.record stored; evaluate ran on it (image metrics only).
        let summary = stage(record, "ensemble")["summary"] as! [String: Any]
        let ensemble = summary["ensemble"] as! [String: Any]
        #expect(ensemble["method"] as? String == "rank" && ensemble["inputs"] as? [String] == ["funad-scores", "patchcore-scores"])
        #expect(stage(record, "report")["status"] as? String == "ran")

        // Editing the plugin reruns the plugin stage and what depends on it, nothing else.
        let plugin = dir.appendingPathComponent("stages/score-ensemble.lua")
        try (String(contentsOf: plugin, encoding: .utf8) + "-- tuned\n").write(to: plugin, atomically: true, encoding: .utf8)
        let s = session(dir)
        let plan = try s.plan(try s.load(dir.appendingPathComponent("ensemble.yaml").path))
        #expect(plan.toRun.map(\.stage.name) == ["ensemble", "report"])
        let step = plan.steps.first { $0.stage.name == "ensemble" }!
        #expect(step.status == .willRun(reasons: ["the score-ensemble plugin changed (\(plugin.path))"]))

        // minmax through --set: the weighted mean of min-max normalised scores.
        try Self.workflow.replacingOccurrences(of: "needs: [funad-scores, patchcore-scores]}", with: "needs: [funad-scores, patchcore-scores], with: {method: minmax, weights: [3, 1]}}")
            .write(to: dir.appendingPathComponent("minmax.yaml"), atomically: true, encoding: .utf8)
        let minmax = try s.load(dir.appendingPathComponent("minmax.yaml").path)
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let outcome = try await s.run(minmax, options: RunOptions(jobs: 1, runsDirectory: dir.appendingPathComponent("runs")), board: board)
        try #require(outcome.status == .succeeded, "\(outcome.failures.map(\.message))")
        let record2 = try JSONSerialization.jsonObject(with: Data(contentsOf: outcome.recordURL)) as! [String: Any]
        func mm(_ xs: [Double]) -> [Double] { let lo = xs.min()!, hi = xs.max()!; return xs.map { ($0 - lo) / (hi - lo) } }
        let ma = mm((a["scores"] as! [NSNumber]).map(\.doubleValue)), mb = mm((b["scores"] as! [NSNumber]).map(\.doubleValue))
        let combined2 = ((try scores(record2, "ensemble"))["scores"] as! [NSNumber]).map(\.doubleValue)
        for i in 0..<8 { #expect(abs(combined2[i] - (0.75 * ma[i] + 0.25 * mb[i])) < 1e-12, "image \(i)") }
    }

    @Test func pluginStagesAreValidatedLikeBuiltIns() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("ensemble.yaml")
        let yaml = Self.workflow
            .replacingOccurrences(of: "ensemble: {type: score-ensemble, needs: [funad-scores, patchcore-scores]}",
                                  with: "ensemble: {type: score-ensemble, needs: [data], with: {metod: rank, weights: [1, x]}}")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        do {
            _ = try session(dir).load(file.path)
            Issue.record("expected diagnostics")
        } catch let list as DiagnosticList {
            #expect(list.diagnostics.map(\.description) == [
                "error: \(file.path):13:44: stage 'ensemble', field 'needs': type mismatch: a 'score-ensemble' stage consumes 'scores', but no stage it needs produces it (data produces dataset); add one of [funad-scores, patchcore-scores] to its needs",
                "error: \(file.path):13:58: stage 'ensemble', field 'with.metod': unknown parameter 'metod' (did you mean 'method'?); expected one of: method, weights, lua",
                "error: \(file.path):13:84: stage 'ensemble', field 'with.weights[1]': expected number, found the string 'x'",
            ])
        }
    }
}

/// The file API: a plugin reaches its own inputs and output only, JSON maps as
/// documented, and a violation fails the stage with the file, line and stage named.
@Suite(.serialized) struct PluginStageFileAPITests {
    static let writer = """
    stage = {type = "note-writer", version = 1, summary = "writes notes", produces = {"notes"}, params = {}}
    function run(ctx)
      funad.write_text("note.txt", "hello")
      funad.write_json("empty.json", {})
      funad.write_json("object.json", {__object = true})
      funad.write_json("nested/data.json", {ids = {"a", "b"}, n = 3, x = 0.5, ok = true, sub = {__object = true}})
    end
    """
    static let reader = """
    stage = {type = "note-reader", version = 1, summary = "reads a note", consumes = {"notes"}, produces = {"copy"},
             params = {name = {type = "string", default = "note.txt", help = "file to read"}}}
    function run(ctx)
      local text = funad.read_text(1, ctx.params.name)
      local data = funad.read_json(1, "nested/data.json")
      local listing = funad.list(1)
      local inputs = funad.inputs()
      funad.write_json("seen.json", {text = text, data = data, listing = listing, inputs = inputs, stage = ctx.stage, seed = ctx.seed})
    end
    """
    static let workflow = """
    stages:
      notes: {type: note-writer}
      read: {type: note-reader, needs: [notes]}
    """

    func setUp() throws -> (URL, WorkflowSession) {
        let dir = try scratchFolder("funad-papi")
        let plugins = dir.appendingPathComponent("stages")
        try FileManager.default.createDirectory(at: plugins, withIntermediateDirectories: true)
        try Self.writer.write(to: plugins.appendingPathComponent("note-writer.lua"), atomically: true, encoding: .utf8)
        try Self.reader.write(to: plugins.appendingPathComponent("note-reader.lua"), atomically: true, encoding: .utf8)
        try Self.workflow.write(to: dir.appendingPathComponent("w.yaml"), atomically: true, encoding: .utf8)
        let registry = FunADStages.registry(pluginDirectories: [plugins]) { Issue.record("warning: \($0)") }
        return (dir, WorkflowSession(registry: registry, cacheDirectory: dir.appendingPathComponent("cache"), environment: [:]))
    }

    func run(_ dir: URL, _ session: WorkflowSession, _ settings: [String] = []) async throws -> RunOutcome {
        let wf = try session.load(dir.appendingPathComponent("w.yaml").path, settings: settings)
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        return try await session.run(wf, options: RunOptions(jobs: 1, runsDirectory: dir.appendingPathComponent("runs")), board: board)
    }

    func outputs(_ outcome: RunOutcome, _ stage: String) throws -> URL {
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: outcome.recordURL)) as! [String: Any]
        let entry = (record["stages"] as! [[String: Any]]).first { $0["name"] as? String == stage }!
        return URL(fileURLWithPath: entry["outputs"] as! String)
    }

    @Test func readsWritesAndMapsJSONAsDocumented() async throws {
        let (dir, session) = try setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outcome = try await run(dir, session)
        try #require(outcome.status == .succeeded, "\(outcome.failures.map(\.message))")
        let notes = try outputs(outcome, "notes")
        func text(_ name: String) throws -> String { try String(contentsOf: notes.appendingPathComponent(name), encoding: .utf8) }
        #expect(try text("empty.json") == "[]")
        #expect(try text("object.json") == "{}")
        #expect(try text("nested/data.json") == #"{"ids":["a","b"],"n":3,"ok":true,"sub":{},"x":0.5}"#)
        let seen = try String(contentsOf: outputs(outcome, "read").appendingPathComponent("seen.json"), encoding: .utf8)
        // Reading an empty object gives an empty table, written back as [] (the documented ambiguity).
        #expect(seen == #"{"data":{"ids":["a","b"],"n":3,"ok":true,"sub":[],"x":0.5},"inputs":[{"produces":["notes"],"stage":"notes","type":"note-writer"}],"listing":["empty.json","nested/data.json","note.txt","object.json"],"seed":0,"stage":"read","text":"hello"}"#)
    }

    @Test func escapesFailTheStageAndWriteNothing() async throws {
        let (dir, session) = try setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try await run(dir, session)
        try #require(first.status == .succeeded, "\(first.failures.map(\.message))")
        let notes = try outputs(first, "notes")
        let outside = dir.appendingPathComponent("secret.txt")
        try "secret".write(to: outside, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: notes.appendingPathComponent("link.txt").path, withDestinationPath: outside.path)
        let reader = dir.appendingPathComponent("stages/note-reader.lua").path
        let site = "[stage-plugin note-reader, stage read]"
        let cases: [(String, String)] = [
            ("../../x", "funad.read_text: '../../x' leaves input 1 (notes); names may not contain '..'"),
            (outside.path, "funad.read_text: '\(outside.path)' is an absolute path; names are relative to input 1 (notes)"),
            ("link.txt", "funad.read_text: 'link.txt' resolves to \(ConfinedFolder.realPath(outside.path)!), outside input 1 (notes)"),
            ("missing.txt", "funad.read_text: 'missing.txt' does not exist in input 1 (notes)"),
        ]
        for (name, message) in cases {
            let outcome = try await run(dir, session, ["read.name=\(name)"])
            #expect(outcome.status == .failed)
            #expect(outcome.failures.map(\.message) == ["\(reader):4: \(message) \(site)"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache/tmp").path).isEmpty)
        }
    }

    @Test func writeEscapeFailsAndNothingIsWritten() async throws {
        let (dir, session) = try setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let writer = dir.appendingPathComponent("stages/note-writer.lua")
        try Self.writer.replacingOccurrences(of: "funad.write_text(\"note.txt\", \"hello\")", with: "funad.write_text(\"../escaped.txt\", \"hello\")")
            .write(to: writer, atomically: true, encoding: .utf8)
        let registry = FunADStages.registry(pluginDirectories: [dir.appendingPathComponent("stages")])
        let s = WorkflowSession(registry: registry, cacheDirectory: session.cacheDirectory, environment: [:])
        let outcome = try await run(dir, s)
        #expect(outcome.status == .failed)
        #expect(outcome.failures.map(\.message) == ["\(writer.path):3: funad.write_text: '../escaped.txt' leaves the output folder; names may not contain '..' [stage-plugin note-writer, stage notes]"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache/tmp").path).isEmpty)
        let stray = try FileManager.default.subpathsOfDirectory(atPath: dir.path).filter { $0.hasSuffix("escaped.txt") }
        #expect(stray.isEmpty)
    }
}
