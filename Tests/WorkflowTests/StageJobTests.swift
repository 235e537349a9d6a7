import Foundation
import Testing
@testable import Workflow
import WorkflowTestSupport

/// Single-stage jobs (`funad run-stage`), shards and the shared-cache rules they rely on.
@Suite(.serialized) struct StageJobTests {
    let chain = """
    name: chain
    stages:
      root: {type: blob, with: {bytes: 0, add: 3}}
      plus: {type: blob, needs: [root], with: {bytes: 0, add: 4}}
      squares: {type: series, needs: [plus], with: {count: 10}}
    """
    // (blob and series stages: not the ones that report to TestStages.Monitor, which the
    // engine's concurrency tests read while other suites run.)

    func job(_ s: Scratch, _ path: String, _ stage: String, work: StageWork = .whole, expectedKey: String? = nil) async throws -> StageJobOutcome {
        let session = s.session()
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        return try await session.runStage(StageJob(workflow: try session.load(path), stage: stage, work: work, expectedKey: expectedKey),
                                          logsDirectory: s.runs.appendingPathComponent("jobs"), board: board)
    }

    func keys(_ s: Scratch, _ path: String) throws -> [String: String] {
        let plan = try s.session().plan(try s.session().load(path))
        return Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.stage.name, $0.key) })
    }

    @Test func aJobNeedsItsUpstreamInTheCacheThenComputesTheKeyThatRunUses() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", chain)
        await #expect {
            _ = try await job(s, path, "plus")
        } throws: { error in
            let text = "\(error)"
            return text.contains("stage 'plus' needs 'root'") && text.contains("not in the cache") && text.contains("run-stage")
        }
        await #expect(throws: Diagnostic.self) { _ = try await job(s, path, "roots") }

        let keys = try keys(s, path)
        let root = try await job(s, path, "root")
        #expect(root.status == .ran && root.key == keys["root"])
        let plus = try await job(s, path, "plus")
        #expect(plus.status == .ran && plus.key == keys["plus"])
        #expect(try readNumber(in: plus.output!) == 7)
        // Again: the stored result is used, nothing runs.
        let again = try await job(s, path, "plus")
        #expect(again.status == .cached && again.output == plus.output)
        // A whole run on the same cache finds those two stored and runs only the third.
        let outcome = try await s.run(path)
        #expect(try s.statuses(outcome) == ["root": "cached", "plus": "cached", "squares": "ran"])
    }

    @Test func aJobRefusesAKeyOtherThanTheExpectedOne() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", chain)
        let stale = String(repeating: "0", count: 64)
        await #expect {
            _ = try await job(s, path, "root", expectedKey: stale)
        } throws: { "\($0)".contains("not the expected 000000000000") }
        #expect(try await job(s, path, "root", expectedKey: try keys(s, path)["root"]).status == .ran)
    }

    @Test func shardsMergeIntoTheWholeResultUnderTheSameKey() async throws {
        let whole = Scratch(), sharded = Scratch()
        let wholePath = whole.write("w.yaml", chain), shardedPath = sharded.write("w.yaml", chain)
        _ = try await whole.run(wholePath)
        for stage in ["root", "plus"] { _ = try await job(sharded, shardedPath, stage) }
        await #expect(throws: Diagnostic.self) { _ = try await job(sharded, shardedPath, "squares", work: .merge(count: 3)) }
        for i in [2, 0, 1] {  // any order: each shard is its own entry
            let shard = try await job(sharded, shardedPath, "squares", work: .shard(try Shard(index: i, count: 3)))
            #expect(shard.status == .ran && shard.entryKey == CacheStore.shardKey(shard.key, index: i, count: 3))
        }
        let merged = try await job(sharded, shardedPath, "squares", work: .merge(count: 3))
        #expect(merged.status == .ran)
        let key = try keys(whole, wholePath)["squares"]!
        #expect(merged.key == key && merged.entryKey == key)
        let wholeStore = try CacheStore(root: whole.cache)
        // (7 + i)² for i in 0..<10, in order, and the same summary: the same bytes.
        let expected = (0..<10).map { "\((7 + $0) * (7 + $0))\n" }.joined()
        for file in ["series.txt", "summary.json"] {
            let a = try Data(contentsOf: wholeStore.outputURL(key).appendingPathComponent(file))
            let b = try Data(contentsOf: merged.output!.appendingPathComponent(file))
            #expect(a == b, "\(file) differs")
        }
        #expect(try String(contentsOf: merged.output!.appendingPathComponent("series.txt"), encoding: .utf8) == expected)
        // With the whole stage stored, a shard has nothing to do.
        #expect(try await job(sharded, shardedPath, "squares", work: .shard(try Shard(index: 0, count: 5))).status == .cached)
    }

    @Test func shardRangesPartitionTheItemsInOrder() throws {
        for total in [0, 1, 7, 10, 101] {
            for count in 1...6 {
                let ranges = try (0..<count).map { try Shard(index: $0, count: count).range(of: total) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == total)
                for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
                #expect(ranges.map(\.count).max()! - ranges.map(\.count).min()! <= 1)
            }
        }
        #expect(try Shard(parsing: "2/4") == Shard(index: 1, count: 4))
        // Parts of 10 and 5 items in groups of 4: groups [0-3] [4-7] [8-9] | [0-3] [4], 5 in all.
        // Shard 2/3 takes groups 1..<3: items 4..<10 of the first part, nothing of the second;
        // shard 3/3 takes groups 3..<5: all of the second part.
        let middle = try Shard(index: 1, count: 3).groupedItems(partSizes: [10, 5], groupSize: 4)
        #expect(middle.groups == 1..<3 && middle.totalGroups == 5 && middle.items == [4..<10, 0..<0])
        let last = try Shard(index: 2, count: 3).groupedItems(partSizes: [10, 5], groupSize: 4)
        #expect(last.groups == 3..<5 && last.items == [10..<10, 0..<5])
        for bad in ["0/4", "5/4", "2", "a/b", "1/0", "-1/3"] { #expect(throws: Diagnostic.self) { try Shard(parsing: bad) } }
    }

    @Test func staleTemporariesOfDeadJobsGoButThoseOfLiveJobsStay() throws {
        let s = Scratch()
        let store = try CacheStore(root: s.cache)
        let live = String(repeating: "a", count: 64), dead = String(repeating: "b", count: 64)
        let liveTmp = try store.beginEntry(live), deadTmp = try store.beginEntry(dead)
        let held = try FileLock(path: store.keyLockPath(live)) { _ in }
        #expect(store.removeStaleTemporaries() == 1)
        #expect(FileManager.default.fileExists(atPath: liveTmp.path))
        #expect(!FileManager.default.fileExists(atPath: deadTmp.path))
        withExtendedLifetime(held) {}
    }
}

/// Two separate processes computing one key at once.
@Suite(.serialized) struct StageJobProcessTests {
    @Test func twoJobsOnTheSameKeyLeaveOneValidEntryAndBothSucceed() throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        stages:
          slow: {type: emit, with: {value: 42, hold_ms: 1500}}
        """)
        func start() throws -> (Process, Pipe) {
            let p = Process(), out = Pipe()
            p.executableURL = productsDirectory.appendingPathComponent("workflow-test-worker")
            p.arguments = ["--stage", "slow", path, s.cache.path, s.runs.path]
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            return (p, out)
        }
        let jobs = [try start(), try start()]
        var statuses: [String] = []
        for (p, out) in jobs {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            statuses.append(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        // One computed it; the other waited for the key's lock and found it stored.
        #expect(statuses.sorted() == ["cached", "ran"])
        let store = try CacheStore(root: s.cache)
        let entries = try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("entries").path)
        #expect(entries.count == 1)
        let info = try store.verify(entries[0])
        #expect(info.files.map(\.path) == ["summary.json", "value.txt"])
        #expect(try readNumber(in: store.outputURL(entries[0])) == 42)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("tmp").path).isEmpty)
    }

    @Test func aPublishedEntryIsKeptWhenALaterCopyOfTheSameKeyCommits() throws {
        let s = Scratch()
        let store = try CacheStore(root: s.cache)
        let key = String(repeating: "c", count: 64)
        let material = CacheKeyMaterial(stageType: "emit", version: 1, parameters: "{}", inputs: [], files: [:])
        let first = try store.beginEntry(key), second = try store.beginEntry(key)
        try "1\n".write(to: first.appendingPathComponent("out/value.txt"), atomically: true, encoding: .utf8)
        try "1\n".write(to: second.appendingPathComponent("out/value.txt"), atomically: true, encoding: .utf8)
        _ = try store.commitEntry(first, key: key, material: material, workflow: "w", stage: "a")
        _ = try store.commitEntry(second, key: key, material: material, workflow: "w", stage: "b")
        #expect(try store.verify(key).stage == "a")
        #expect(!FileManager.default.fileExists(atPath: second.path))
    }
}

/// The Snakefile written for a workflow: rules, inputs, outputs and shard rules.
@Suite struct SnakemakeExportTests {
    @Test func oneRulePerStageWithMarkersNamedByKeysAndShardRulesWhenAsked() throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        name: chain
        vars: {N: "3"}
        stages:
          root: {type: emit, with: {value: "${N}"}}
          add-one: {type: add, needs: [root], with: {add: 1}}
          squares: {type: series, needs: [add-one], with: {count: 10}}
        """)
        let plan = try s.session().plan(try s.session().load(path))
        let key = Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.stage.name, $0.key) })
        let locations = SnakemakeExport.Locations(funad: "/opt/funad", workflowFile: path, cache: "/shared/cache", runs: "/shared/runs",
                                                  markers: "m", blasThreads: 3)
        let text = try SnakemakeExport(plan: plan, locations: locations, settings: ["N=3"], shards: ["squares": 4],
                                       commandLine: "funad export snakemake w.yaml").render()
        #expect(text.contains("FUNAD = config.get(\"funad\", \"/opt/funad\")"))
        #expect(text.contains("SETTINGS = [\"N=3\"]"))
        #expect(text.contains("BLAS_THREADS = int(config.get(\"blas_threads\", 3))"))
        // The stage named add-one gets a Python rule name; its input is root's marker.
        #expect(text.contains("""
        rule add_one:
            input: ["m/root.\(key["root"]!).done"]
            output: "m/add-one.\(key["add-one"]!).done"
            threads: BLAS_THREADS
            shell: run_stage("add-one", "\(key["add-one"]!)")
        """))
        #expect(text.contains("""
        rule squares_shard:
            input: ["m/add-one.\(key["add-one"]!).done"]
            output: "m/squares.\(key["squares"]!).shard-{i}-of-4.done"
        """))
        #expect(text.contains("    shell: run_stage(\"squares\", \"\(key["squares"]!)\", \"--shard {wildcards.i}/4\")"))
        #expect(text.contains("""
        rule squares:
            input: expand("m/squares.\(key["squares"]!).shard-{i}-of-4.done", i=range(1, 5))
            output: "m/squares.\(key["squares"]!).done"
            threads: BLAS_THREADS
            shell: run_stage("squares", "\(key["squares"]!)", "--merge 4")
        """))
        #expect(text.components(separatedBy: "\nrule ").count - 1 == 5)  // all, root, add_one, squares_shard, squares

        // Only shardable stages shard.
        #expect(throws: DiagnosticList.self) {
            _ = try SnakemakeExport(plan: plan, locations: locations, settings: [], shards: ["root": 2], commandLine: "")
        }
        #expect(throws: DiagnosticList.self) {
            _ = try SnakemakeExport(plan: plan, locations: locations, settings: [], shards: ["nope": 2], commandLine: "")
        }
        #expect(throws: Diagnostic.self) { _ = try SnakemakeExport.parseShards(["squares:4"]) }
    }
}
