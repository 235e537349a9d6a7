import Foundation
import Testing

/// Runs the built `funad` binary as a user would and checks exit codes and messages.
@Suite struct CLITests {
    static var funad: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("funad")
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    func run(_ args: [String], in dir: URL, environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = Self.funad
        p.arguments = args
        p.currentDirectoryURL = dir
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Runs `funad` in the current directory; stdout as bytes (JSON benchmarks), stderr as text.
    static func runCapturingData(_ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: String) {
        let p = Process()
        p.executableURL = funad
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, data, text)
    }

    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-cli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func invalidWorkflowExitsWithTwoAndOneLinePerProblem() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
        stages:
          data: {type: lod, with: {format: mtd}}
          model: {type: train, needs: [features], with: {epochs: many}}
        """.write(to: dir.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        for command in ["run", "plan", "graph"] {
            let r = try run([command, "bad.yaml"], in: dir)
            #expect(r.status == 2)
            #expect(r.stderr.split(separator: "\n") == [
                "error: bad.yaml:2:16: stage 'data', field 'type': unknown stage type 'lod' (did you mean 'load'?); known types: demo-data, evaluate, extract, infer, load, patchcore, predict, synthesize, train",
                "error: bad.yaml:3:32: stage 'model', field 'needs': needs 'features', which is not a stage of this workflow",
                "error: bad.yaml:3:58: stage 'model', field 'with.epochs': expected integer in 0...1000000, found the string 'many'",
            ])
        }
        // Nothing was created by a run that did not validate.
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".funad").path))
    }

    @Test func targetsAfterTheWorkflowSelectAStageAndItsUpstream() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
        stages:
          wood: {type: demo-data, with: {train_good: 2, test_good: 1, test_defective: 1, size: 64}}
          wood-data: {type: load, needs: [wood], with: {format: mvtec}}
          wood-features: {type: extract, needs: [wood-data], with: {weights: lite0.safetensors}}
          metal: {type: demo-data, with: {category: metal, train_good: 2, test_good: 1, test_defective: 1, size: 64}}
        """.write(to: dir.appendingPathComponent("w.yaml"), atomically: true, encoding: .utf8)
        try Data("only planned, never read".utf8).write(to: dir.appendingPathComponent("lite0.safetensors"))
        let plan = try run(["plan", "w.yaml", "wood-features", "--cache", "c"], in: dir)
        #expect(plan.status == 0, "\(plan.stderr)")
        let lines = plan.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "workflow w (w.yaml): 3 stages, 3 to run")
        #expect(lines.dropFirst().map { $0.split(separator: " ").first.map(String.init) ?? "" } == ["wood", "wood-data", "wood-features"])

        let ran = try run(["run", "w.yaml", "wood", "--cache", "c", "--runs", "r"], in: dir)
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stderr.contains("done: 1 ran, 0 cached"))
        let bad = try run(["run", "w.yaml", "wod", "--cache", "c"], in: dir)
        #expect(bad.status == 2)
        #expect(bad.stderr.split(separator: "\n") == ["error: target 'wod': no stage of that name in w (did you mean 'wood'?)"])
    }

    @Test func missingFileAndBadUsageExitWithTwo() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = try run(["plan", "nope.yaml"], in: dir)
        #expect(missing.status == 2)
        #expect(missing.stderr == "error: cannot read workflow file 'nope.yaml': no such file\n")
        #expect(try run(["run"], in: dir).status == 2)
        #expect(try run(["run", "x.yaml", "--jobs", "0"], in: dir).status == 2)
        #expect(try run(["frobnicate"], in: dir).status == 2)
        #expect(try run(["weights", "import", "nope.pth", "--arch", "dino_vitb8", "-o", "x.safetensors"], in: dir).status == 2)

        // Oversized inputs are refused by their size, never read whole (sparse files: the
        // size is all there is). A workflow file over 16 MiB; a run record over 256 MiB.
        func sparse(_ path: String, bytes: UInt64) throws {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: url.path, contents: nil)
            let handle = try FileHandle(forWritingTo: url)
            try handle.truncate(atOffset: bytes)
            try handle.close()
        }
        try sparse("huge.yaml", bytes: 17 << 20)
        let huge = try run(["plan", "huge.yaml"], in: dir)
        #expect(huge.status == 2)
        #expect(huge.stderr == "error: workflow file 'huge.yaml' is too large: it is \(17 << 20) bytes, more than the 16 MiB such a file can hold\n")
        try sparse("runs/w/1/run.json", bytes: 257 << 20)
        let report = try run(["report", "runs/w/1", "-o", "r.html"], in: dir)
        #expect(report.status == 2, "\(report.stderr)")
        #expect(report.stderr.contains("not a run record (it is \(257 << 20) bytes, more than the 256 MiB such a file can hold)"))
    }

    /// w.yaml: one load stage over an empty folder, so `funad run` fails that stage (exit 1)
    /// and still writes the run record.
    func writeFailingWorkflow(named name: String, in dir: URL) throws {
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
        try """
        name: \(name)
        stages:
          data: {type: load, with: {format: mvtec, root: empty}}
        """.write(to: dir.appendingPathComponent("w.yaml"), atomically: true, encoding: .utf8)
    }

    @Test func failingStageExitsWithOneNamingStageErrorAndLog() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeFailingWorkflow(named: "broken", in: dir)
        let r = try run(["run", "w.yaml"], in: dir)
        #expect(r.status == 1)
        #expect(r.stderr.contains("error: stage 'data' failed: "))
        #expect(r.stderr.contains("log: ") && r.stderr.contains(".funad/runs/broken/"))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".funad/runs/broken/latest/run.json").path))
    }

    /// The run record says where it ran: the BLAS build and the kernels it picked, which
    /// OPENBLAS_CORETYPE overrides (figures move with that choice; docs/FP-SPREAD.md).
    @Test func runRecordNamesTheBLASKernelsItRanOn() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeFailingWorkflow(named: "where", in: dir)
        let version = try run(["--version"], in: dir).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!version.isEmpty)
        for core in ["Sandybridge", "Haswell"] {
            let r = try run(["run", "w.yaml"], in: dir, environment: ["OPENBLAS_CORETYPE": core])
            #expect(r.status == 1, "\(r.stderr)")  // the stage fails; the record is written all the same
            let data = try Data(contentsOf: dir.appendingPathComponent(".funad/runs/where/latest/run.json"))
            let record = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let host = try #require(record["host"] as? [String: Any])
            let blas = try #require(host["blas"] as? String)
            #expect(blas.hasPrefix("OpenBLAS ") && blas.hasSuffix("; kernels \(core)"), "\(blas)")
            #expect(host["funad"] as? String == version)
            #expect(host["cores"] as? Int == ProcessInfo.processInfo.activeProcessorCount)
        }
    }

    @Test func stagesListingComesFromTheDeclarations() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try run(["stages"], in: dir)
        #expect(r.status == 0)
        for type in ["demo-data", "load", "synthesize", "extract", "train", "patchcore", "infer", "evaluate"] {
            #expect(r.stdout.contains("\n\(type) (v") || r.stdout.hasPrefix("\(type) (v"))
        }
        #expect(r.stdout.contains("    epochs: integer in 0...1000000 — passes over the training set (paper: 1500; used when neither steps nor epochs is set); give steps or epochs, not both"))
        #expect(r.stdout.contains("    image_score: one of max|topk_mean|smoothed_max|calibrated_max, default \"max\" — "))
    }
}

/// `funad bench` as `bench/run-all` uses it: machine-readable rows on stdout.
@Suite struct BenchCommandTests {
    @Test func engineBenchEmitsItsFourRowsAsJSON() throws {
        let p = Process()
        p.executableURL = CLITests.funad
        p.arguments = ["bench", "engine", "--stages", "10", "--json"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(obj["area"] as? String == "engine")
        let rows = try #require(obj["measurements"] as? [[String: Any]])
        #expect(rows.map { $0["name"] as? String } == ["validate", "plan", "first_run", "cached_run"])
        #expect(rows.allSatisfy { ($0["value"] as? Double ?? -1) >= 0 && $0["unit"] as? String == "ms" })
    }

    @Test func unknownBenchmarkNameIsAUsageError() throws {
        let p = Process()
        p.executableURL = CLITests.funad
        p.arguments = ["bench", "vit", "--configs", "vit-x9"]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 2)
        #expect(text == "error: --configs: unknown ViT 'vit-x9'; expected one of vit-b16, vit-b8, vit-s16, vit-s8\n")
    }
}

/// `funad bench eval --only`: the exact kNN rows alone, as `bench/run-all knn` pairs them with faiss.
@Suite struct EvalBenchCommandTests {
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: String) {
        try CLITests.runCapturingData(arguments)
    }

    @Test func onlyTheKNNRowsAreMeasuredWhenAsked() throws {
        let r = try run(["bench", "eval", "--only", "bank_knn,patchcore_score", "--knn-queries", "16", "--knn-bank", "64",
                         "--repeats", "1", "--json"])
        #expect(r.status == 0)
        let obj = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let rows = try #require(obj["measurements"] as? [[String: Any]])
        // In EvalBench.names order, whatever the order asked for.
        #expect(rows.map { $0["name"] as? String } == ["patchcore_score", "bank_knn"])
        #expect(rows.allSatisfy { ($0["value"] as? Double ?? 0) > 0 && $0["unit"] as? String == "s" })
        #expect((rows[1]["detail"] as? String)?.hasPrefix("exact 1-NN of 16 × 1536 queries in a 64-row bank") == true)
    }

    @Test func anUnknownRowIsAUsageError() throws {
        let r = try run(["bench", "eval", "--only", "bank_kn"])
        #expect(r.status == 2)
        #expect(r.stderr == "error: --only: eval benchmark 'bank_kn' does not exist; expected one of anomaly_map, pixel_auroc, evaluate, patchcore_score, inference_patchcore, coreset, bank_knn\n")
    }
}
