import Foundation
import Testing

/// Where Snakemake is: $FUNAD_SNAKEMAKE, else `.venv-snakemake/bin/snakemake` of the
/// project holding the built products (made by scripts/setup). Nil when neither exists.
let snakemakeExecutable: URL? = {
    let fm = FileManager.default
    if let given = ProcessInfo.processInfo.environment["FUNAD_SNAKEMAKE"], fm.isExecutableFile(atPath: given) {
        return URL(fileURLWithPath: given)
    }
    var dir = CLITests.funad.deletingLastPathComponent()
    while dir.path != "/" {
        let candidate = dir.appendingPathComponent(".venv-snakemake/bin/snakemake")
        if fm.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}()

/// `funad run-stage` and `funad export snakemake` as a user runs them, and the exported
/// workflow run by Snakemake (issue 15) on a small workflow shaped like the demo: FUN-AD
/// and PatchCore fanned out from one extract, each scored and evaluated.
@Suite(.serialized) struct SnakemakeTests {
    let cli = CLITests()

    /// `funad ARGS` in `dir`, awaited without holding a thread of the test pool (these
    /// runs take seconds; a blocked pool thread would starve other suites' tests).
    func funad(_ args: [String], in dir: URL) async throws -> CLITests.Result {
        let log = dir.appendingPathComponent(".funad-\(UUID().uuidString.prefix(6)).err")
        let job = try Launched(CLITests.funad, args, in: dir, log: log, captureOutput: true)
        await job.wait()
        defer { try? FileManager.default.removeItem(at: log); try? FileManager.default.removeItem(at: job.outputFile!) }
        return CLITests.Result(status: job.process.terminationStatus,
                               stdout: (try? String(contentsOf: job.outputFile!, encoding: .utf8)) ?? "",
                               stderr: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    static let workflow = """
    name: tiny-fanout
    vars: {EPOCHS: "3"}
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 4, test_defective: 4, size: 64}}
      data: {type: load, needs: [images], with: {format: mvtec, contamination: {ratio: 0.25, overlap: true, seed: 5}}}
      features:
        type: extract
        needs: [data]
        with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 73, input_size: 64, batch_size: 4}
      model: {type: train, needs: [features], with: {epochs: "${EPOCHS}", batch_size: 4, hidden: [16, 8], bank: {min_images: 2}, checkpoint_every: 1}}
      scores: {type: infer, needs: [model, features], with: {map_size: 64}}
      report: {type: evaluate, needs: [scores, data, model], with: {overlays: 0}}
      patchcore: {type: patchcore, needs: [features], with: {coreset: 0.2, seed: 0}}
      patchcore-scores: {type: infer, needs: [patchcore, features], with: {map_size: 64}}
      patchcore-report: {type: evaluate, needs: [patchcore-scores, data], with: {overlays: 0}}
    """
    static let stages = ["images", "data", "features", "model", "scores", "report", "patchcore", "patchcore-scores", "patchcore-report"]

    func project() throws -> URL {
        let dir = try cli.scratch()
        try Self.workflow.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
        return dir
    }

    /// Stage → key from a run record.
    func keys(record: URL) throws -> [String: String] {
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: record)) as! [String: Any]
        var out: [String: String] = [:]
        for s in obj["stages"] as! [[String: Any]] { out[s["name"] as! String] = s["key"] as? String }
        return out
    }

    /// Stage → key from the markers in `dir` (`<stage>.<key>.done`).
    func markerKeys(_ dir: URL) throws -> [String: String] {
        var out: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".done") && !name.contains(".shard-") {
            let parts = name.dropLast(5).split(separator: ".")
            out[parts.dropLast().joined(separator: ".")] = String(parts.last!)
        }
        return out
    }

    /// Kills `root` and every process below it at once (SIGSTOP first, so that it starts
    /// no new job meanwhile), read from /proc: as a lost node would end them.
    func killTree(_ root: Int32) {
        kill(root, SIGSTOP)
        var parents: [Int32: [Int32]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { parents[ppid, default: []].append(pid) }
        }
        var tree: [Int32] = [root], i = 0
        while i < tree.count { tree += parents[tree[i]] ?? []; i += 1 }
        for pid in tree.reversed() { kill(pid, SIGKILL) }
    }

    /// Starts Snakemake in `dir`; its output goes to `dir/<log>`. Its temporary files (and
    /// its jobs') go to `dir/.tmp` through TMPDIR, so they are removed with `dir`: a killed
    /// Snakemake cannot clean up its own.
    func snakemake(_ args: [String], in dir: URL, log name: String = "snakemake.log") throws -> Launched {
        let tmp = dir.appendingPathComponent(".tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        return try Launched(snakemakeExecutable!, args, in: dir, log: dir.appendingPathComponent(name), environment: ["TMPDIR": tmp.path])
    }

    @Test func runStageNeedsItsUpstreamAndWritesAMarkerNamedByTheKey() async throws {
        let dir = try project()
        defer { try? FileManager.default.removeItem(at: dir) }
        let early = try await funad(["run-stage", "tiny.yaml", "data"], in: dir)
        #expect(early.status == 2)
        #expect(early.stderr.contains("stage 'data' needs 'images'") && early.stderr.contains("not in the cache"))
        let notShardable = try await funad(["run-stage", "tiny.yaml", "images", "--shard", "1/2"], in: dir)
        #expect(notShardable.status == 2)
        #expect(notShardable.stderr.contains("cannot be split into shards"))
        let badShard = try await funad(["run-stage", "tiny.yaml", "images", "--shard", "3/2"], in: dir)
        #expect(badShard.status == 2)

        let plan = try await funad(["plan", "tiny.yaml"], in: dir)
        #expect(plan.stdout.contains("no stored result"))
        // Two jobs on the same stage at once: one computes, the other waits for the key's
        // lock and finds the result stored; both succeed and one valid entry is left.
        async let a = funad(["run-stage", "tiny.yaml", "images", "--marker", "a.done"], in: dir)
        async let b = funad(["run-stage", "tiny.yaml", "images", "--marker", "b.done"], in: dir)
        let (first, second) = try await (a, b)
        try #require(first.status == 0 && second.status == 0, "\(first.stderr)\n\(second.stderr)")
        let statuses = try ["a.done", "b.done"].map { name -> String in
            let note = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(name))) as! [String: Any]
            return note["status"] as! String
        }
        #expect(statuses.sorted() == ["cached", "ran"])
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(".funad/cache/entries").path)
        #expect(entries.count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(".funad/cache/tmp").path).isEmpty)
        let markers = dir.appendingPathComponent(".funad/markers")
        let rerun = try await funad(["run-stage", "tiny.yaml", "images"], in: dir)
        #expect(rerun.status == 0)
        let key = try #require(try markerKeys(markers)["images"])
        #expect(entries == [key])
        // Again: nothing to compute, the marker (default name: stage and key) is rewritten.
        #expect(rerun.stderr.contains("cached"))
        let note = try JSONSerialization.jsonObject(with: Data(contentsOf: markers.appendingPathComponent("images.\(key).done"))) as! [String: Any]
        #expect(note["status"] as? String == "cached" && note["key"] as? String == key)
        // A changed setting changes the key; a job told the old key refuses to run.
        let stale = try await funad(["run-stage", "tiny.yaml", "images", "--set", "images.seed=4", "--expect-key", key], in: dir)
        #expect(stale.status == 2)
        #expect(stale.stderr.contains("re-export"))
    }

    @Test(.enabled(if: snakemakeExecutable != nil, "Snakemake is not installed (scripts/setup makes .venv-snakemake); skipped"))
    func snakemakeRunOfTheExportGivesTheKeysAndMetricsOfFunadRun() async throws {
        let dir = try project()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try await funad(["run", "tiny.yaml", "--cache", "direct/cache", "--runs", "direct/runs"], in: dir)
        try #require(run.status == 0, "\(run.stderr)")
        let direct = try keys(record: dir.appendingPathComponent("direct/runs/tiny-fanout/latest/run.json"))
        // The run's summary table holds each evaluate stage's overall metrics.
        let summary = try await funad(["summary", "tiny.yaml", "--cache", "direct/cache"], in: dir)
        #expect(summary.status == 0)
        for stage in ["report", "patchcore-report"] {
            let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("direct/cache/entries/\(direct[stage]!)/out/metrics.json"))) as! [String: Any]
            let overall = metrics["overall"] as! [String: Any]
            let cells = ["image_auroc", "pixel_auroc", "aupro", "image_f1_max"].map { String(format: "%.4f", (overall[$0] as! NSNumber).doubleValue) }
            #expect(summary.stdout.contains("| \(stage) | " + cells.joined(separator: " | ") + " |"), "\(summary.stdout)")
        }

        // Exported with extract in 4 shards, run by Snakemake with 2 cores on another cache.
        let export = try await funad(["export", "snakemake", "tiny.yaml", "--cache", "sm/cache", "--runs", "sm/runs", "--shards", "features=4",
                                  "-o", "Snakefile"], in: dir)
        try #require(export.status == 0, "\(export.stderr)")
        let snakefile = try String(contentsOf: dir.appendingPathComponent("Snakefile"), encoding: .utf8)
        #expect(snakefile.contains("rule features_shard:") && snakefile.contains("--merge 4"))
        let p = try snakemake(["-s", "Snakefile", "--cores", "2"], in: dir)
        await p.wait()
        try #require(p.process.terminationStatus == 0, "snakemake failed: \((try? String(contentsOf: dir.appendingPathComponent("snakemake.log"), encoding: .utf8)) ?? "")")

        // The same cache keys…
        let markers = dir.appendingPathComponent(".funad/markers")
        #expect(try markerKeys(markers) == direct)
        let shardMarkers = try FileManager.default.contentsOfDirectory(atPath: markers.path).filter { $0.contains(".shard-") }
        #expect(shardMarkers.count == 4)
        // …and the same bytes: metrics of both methods and the features the shards made.
        for (stage, file) in [("report", "metrics.json"), ("patchcore-report", "metrics.json"),
                              ("features", "train.features"), ("features", "test.features"), ("scores", "scores.json")] {
            let a = try Data(contentsOf: dir.appendingPathComponent("direct/cache/entries/\(direct[stage]!)/out/\(file)"))
            let b = try Data(contentsOf: dir.appendingPathComponent("sm/cache/entries/\(direct[stage]!)/out/\(file)"))
            #expect(a == b, "\(stage)/\(file) differs between funad run and the Snakemake run")
        }
        // A second Snakemake run has nothing to do.
        let again = try snakemake(["-s", "Snakefile", "--cores", "2"], in: dir)
        await again.wait()
        #expect(again.process.terminationStatus == 0)
        let plan = try await funad(["plan", "tiny.yaml", "--cache", "sm/cache"], in: dir)
        #expect(plan.stdout.contains("9 stages, 0 to run"))
    }

    @Test(.enabled(if: snakemakeExecutable != nil, "Snakemake is not installed (scripts/setup makes .venv-snakemake); skipped"))
    func snakemakeKilledHalfWayResumesWithoutRecomputingFinishedStages() async throws {
        let dir = try project()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Enough epochs that training is still running when the kill comes.
        let export = try await funad(["export", "snakemake", "tiny.yaml", "--set", "EPOCHS=30", "-o", "Snakefile"], in: dir)
        try #require(export.status == 0, "\(export.stderr)")
        let markers = dir.appendingPathComponent(".funad/markers")
        let p = try snakemake(["-s", "Snakefile", "--cores", "1"], in: dir)
        // Kill once extract is done (its marker exists) and a later job has started
        // (training takes about 12 s here).
        let deadline = Date().addingTimeInterval(120)
        while (try? markerKeys(markers))?["features"] == nil && p.process.isRunning && Date() < deadline { try await Task.sleep(nanoseconds: 100_000_000) }
        try #require(p.process.isRunning, "snakemake ended before the kill")
        try await Task.sleep(nanoseconds: 1_500_000_000)
        // As a lost node would: Snakemake and its running job die at once, no clean-up.
        killTree(p.process.processIdentifier)
        await p.wait()
        #expect(p.process.terminationReason == .uncaughtSignal)
        let before = try FileManager.default.contentsOfDirectory(atPath: markers.path).filter { $0.hasSuffix(".done") }
        #expect(before.count < Self.stages.count, "everything finished before the kill")
        #expect(before.contains { $0.hasPrefix("features.") })
        var stamps: [String: Date] = [:]
        for m in before { stamps[m] = try FileManager.default.attributesOfItem(atPath: markers.appendingPathComponent(m).path)[.modificationDate] as? Date }

        // A hard kill leaves Snakemake's own lock behind: --unlock, as its message says.
        let unlock = try snakemake(["-s", "Snakefile", "--unlock"], in: dir)
        await unlock.wait()
        #expect(unlock.process.terminationStatus == 0)
        let resumed = try snakemake(["-s", "Snakefile", "--cores", "2", "--rerun-incomplete"], in: dir, log: "resumed.log")
        await resumed.wait()
        try #require(resumed.process.terminationStatus == 0, "the re-run failed")
        // Snakemake scheduled none of the finished stages' rules again.
        let log = try String(contentsOf: dir.appendingPathComponent("resumed.log"), encoding: .utf8)
        for rule in ["images", "data", "features"] { #expect(!log.contains("rule \(rule):"), "\(rule) ran again") }
        let after = try markerKeys(markers)
        #expect(Set(after.keys) == Set(Self.stages))
        // Finished stages were not run again (their markers are untouched)…
        for m in before {
            let stamp = try FileManager.default.attributesOfItem(atPath: markers.appendingPathComponent(m).path)[.modificationDate] as? Date
            #expect(stamp == stamps[m], "\(m) was rewritten by the re-run")
        }
        // …and the cache now holds every stage, with no half-written folder left.
        let plan = try await funad(["plan", "tiny.yaml", "--set", "EPOCHS=30"], in: dir)
        #expect(plan.stdout.contains("9 stages, 0 to run"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(".funad/cache/tmp").path).isEmpty)
    }
}

/// A process started with its end observed by a handler, so a test can await it without
/// blocking a thread. Standard error (and, if asked, standard output) go to files;
/// `environment` is added to (and overrides) the test process's own.
final class Launched: @unchecked Sendable {
    let process = Process()
    let outputFile: URL?
    private let ended = DispatchGroup()

    init(_ executable: URL, _ args: [String], in dir: URL, log: URL, captureOutput: Bool = false,
         environment: [String: String] = [:]) throws {
        process.executableURL = executable
        process.arguments = args
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
        }
        process.currentDirectoryURL = dir
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        if captureOutput {
            let out = log.deletingPathExtension().appendingPathExtension("out")
            FileManager.default.createFile(atPath: out.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: out)
            outputFile = out
        } else {
            process.standardOutput = FileHandle.nullDevice
            outputFile = nil
        }
        ended.enter()
        process.terminationHandler = { [ended] _ in ended.leave() }
        try process.run()
    }

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in ended.notify(queue: .global()) { c.resume() } }
    }
}
