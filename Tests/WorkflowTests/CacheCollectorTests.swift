import Foundation
import Testing
@testable import Workflow
import WorkflowTestSupport

/// Writes its number into an item of the side store `memo` (item = its `item` parameter)
/// and into its result, as a stage that keeps data across results does.
struct MemoStage: StageType {
    let declaration = StageDeclaration(
        type: "memo", version: 1, summary: "keeps a number in a side store", produces: ["number"],
        parameters: [.init("value", .int(), required: true, help: "the number"),
                     .init("item", .string, default: .string("a"), help: "side-store item"),
                     .init("store", .string, default: .string("memo"), help: "side-store name (tests an undeclared one)")],
        sideStores: ["memo"])

    func run(_ context: StageContext) async throws {
        let folder = try context.sideStore(context.parameters.string("store"), item: context.parameters.string("item"))
        try "\(context.parameters.int("value"))\n".write(to: folder.appendingPathComponent("value.txt"), atomically: true, encoding: .utf8)
        try "\(context.parameters.int("value"))\n".write(to: context.outputDirectory.appendingPathComponent("value.txt"), atomically: true, encoding: .utf8)
    }
}

/// What `funad cache gc` keeps: the results of single-stage jobs (`run-stage`, what an
/// exported Snakefile runs) through their job records, and side-store items through the
/// entries and running jobs that use them.
@Suite(.serialized) struct CacheCollectorTests {
    /// StageJobTests' three-stage chain (blob → blob → series).
    var chain: String { StageJobTests().chain }

    var registry: StageRegistry {
        var r = TestStages.registry
        r.register(MemoStage())
        return r
    }

    func session(_ s: Scratch) -> WorkflowSession {
        WorkflowSession(registry: registry, cacheDirectory: s.cache, environment: [:])
    }

    /// A job as `funad run-stage` runs it: logs and job record in `<runs>/<workflow>/jobs/`.
    func job(_ s: Scratch, _ path: String, _ stage: String, work: StageWork = .whole, settings: [String] = []) async throws -> StageJobOutcome {
        let session = session(s)
        let workflow = try session.load(path, settings: settings)
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let outcome = try await session.runStage(StageJob(workflow: workflow, stage: stage, work: work),
                                                 logsDirectory: s.runs.appendingPathComponent("\(workflow.spec.name)/jobs"), board: board)
        try #require(outcome.status == .ran || outcome.status == .cached, "\(outcome.message ?? "")")
        return outcome
    }

    func entries(_ s: Scratch) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("entries").path)) ?? [])
    }

    func gc(_ s: Scratch) throws -> CacheCollector.Report {
        let keep = RunRecords.keysInUse(runsDirectory: s.runs).keys.union(try JobRecords.keysInUse(runsDirectory: s.runs).keys)
        return CacheCollector(store: try CacheStore(root: s.cache), registry: registry).collect(keeping: keep)
    }

    @Test func gcKeepsWhatSingleStageJobsStoredIncludingShardsAndTheLatestKeyOfEachStage() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", chain)
        let root = try await job(s, path, "root")
        let plus = try await job(s, path, "plus")
        let shards = [try await job(s, path, "squares", work: .shard(try Shard(parsing: "1/2"))),
                      try await job(s, path, "squares", work: .shard(try Shard(parsing: "2/2")))]
        let squares = try await job(s, path, "squares", work: .merge(count: 2))
        let stored = Set([root.entryKey, plus.entryKey, squares.entryKey] + shards.map(\.entryKey))
        #expect(stored.count == 5 && entries(s) == stored)
        // One record per stage; the shard and merge jobs on one key add up.
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: JobRecords.url(stage: "squares", in: s.runs.appendingPathComponent("chain/jobs")))) as! [String: Any]
        #expect(record["key"] as? String == squares.key && Set(record["entries"] as! [String]) == Set([squares.entryKey] + shards.map(\.entryKey)))

        // No run record exists: before job records, gc removed all five.
        var report = try gc(s)
        #expect(report.removedEntries.isEmpty && report.keptEntries == 5)
        #expect(entries(s) == stored)

        // A job on another key of `root` (a changed setting) replaces root's record: its
        // old result is no longer the latest and goes; the new one stays.
        let changed = try await job(s, path, "root", settings: ["root.add=5"])
        #expect(changed.key != root.key)
        report = try gc(s)
        #expect(report.removedEntries.map(\.key) == [root.entryKey])
        #expect(entries(s) == stored.subtracting([root.entryKey]).union([changed.entryKey]))
    }

    @Test func aDamagedJobRecordStopsGcBeforeAnythingIsRemoved() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", chain)
        _ = try await job(s, path, "root")
        let record = JobRecords.url(stage: "root", in: s.runs.appendingPathComponent("chain/jobs"))
        try Data("{\"funad_job_record\": 1, \"key\": \"zz\"".utf8).write(to: record)
        #expect {
            _ = try JobRecords.keysInUse(runsDirectory: s.runs)
        } throws: { error in
            "\(error)" == "error: job record '\(record.path)' is damaged (expected a funad job record with 64-hex-digit keys); "
                + "gc removed nothing: re-run that stage's job (funad run-stage) to rewrite it, or delete the file to let gc drop its results"
        }
        // The next job on the stage rewrites it.
        let again = try await job(s, path, "root")
        #expect(try JobRecords.keysInUse(runsDirectory: s.runs).keys == [again.entryKey])
    }

    @Test func oversizedRecordsAreRefusedByTheirSizeNotRead() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", chain)
        _ = try await job(s, path, "root")
        // A 17 MiB job record (sparse: nothing is written, the size is what is checked).
        let record = JobRecords.url(stage: "root", in: s.runs.appendingPathComponent("chain/jobs"))
        let handle = try FileHandle(forWritingTo: record)
        try handle.truncate(atOffset: 17 << 20)
        try handle.close()
        #expect {
            _ = try JobRecords.keysInUse(runsDirectory: s.runs)
        } throws: { error in
            "\(error)" == "error: job record '\(record.path)' is damaged (it is \(17 << 20) bytes, more than the 16 MiB such a file can hold); "
                + "gc removed nothing: re-run that stage's job (funad run-stage) to rewrite it, or delete the file to let gc drop its results"
        }
        // A 257 MiB run record is set aside like any damaged one, and the run before it counts.
        let first = try await s.run(path)
        let second = try await s.run(path, settings: ["root.add=7"])
        let runHandle = try FileHandle(forWritingTo: second.recordURL)
        try runHandle.truncate(atOffset: 257 << 20)
        try runHandle.close()
        let inUse = RunRecords.keysInUse(runsDirectory: s.runs)
        #expect(inUse.records == [first.recordURL])
        #expect(inUse.notes == ["funad: run record \(second.recordURL.path) is damaged (it is \(257 << 20) bytes, more than the 256 MiB such a file can hold); renamed to run.json.damaged; using the run before it"])
    }

    @Test func sideStoreItemsStayWhileAKeptEntryOrARunningJobUsesThem() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        name: memo
        stages:
          one: {type: memo, with: {value: 1, item: first}}
        """)
        let outcome = try await s.runWith(session(s), path)
        #expect(outcome.status == .succeeded)
        let memo = s.cache.appendingPathComponent("memo")
        #expect(try String(contentsOf: memo.appendingPathComponent("first/value.txt"), encoding: .utf8) == "1\n")

        // A job computing some other key now, holding its key lock, uses item `live`; a
        // dead job's folder (lock free) used item `dead`; item `stray` is used by nobody.
        let store = try CacheStore(root: s.cache)
        let liveKey = String(repeating: "1", count: 64), deadKey = String(repeating: "2", count: 64)
        let liveTmp = try store.beginEntry(liveKey), deadTmp = try store.beginEntry(deadKey)
        try store.recordSideStoreUse("memo", item: "live", inProgress: liveTmp)
        try store.recordSideStoreUse("memo", item: "dead", inProgress: deadTmp)
        let held = try FileLock(path: store.keyLockPath(liveKey)) { _ in }
        for item in ["live", "dead", "stray"] {
            try FileManager.default.createDirectory(at: memo.appendingPathComponent(item), withIntermediateDirectories: true)
            try Data([1, 2, 3]).write(to: memo.appendingPathComponent("\(item)/.value.txt.partial"))
        }
        try Data([1]).write(to: memo.appendingPathComponent("first/.value.txt.partial"))

        let report = try gc(s)
        #expect(report.staleTemporaries == 1)
        let side = try #require(report.sideStores.first)
        #expect(side.keptItems == ["first", "live"])
        #expect(side.removedItems == ["dead", "stray"] && side.removedBytes == 6)
        // The kept item's partial file is a leftover; the live job's is its work in progress.
        #expect(side.removedPartials == 1)
        #expect(!FileManager.default.fileExists(atPath: memo.appendingPathComponent("first/.value.txt.partial").path))
        #expect(FileManager.default.fileExists(atPath: memo.appendingPathComponent("live/.value.txt.partial").path))
        #expect(FileManager.default.fileExists(atPath: liveTmp.path) && !FileManager.default.fileExists(atPath: deadTmp.path))

        // clean: every item but the live job's.
        let cleaned = CacheCollector(store: store, registry: registry).clean()
        #expect(cleaned.sideStores.first?.removedItems == ["first"] && cleaned.sideStores.first?.keptItems == ["live"])
        withExtendedLifetime(held) {}
    }

    /// An entry stored before side-store uses were recorded keeps every item; re-running its
    /// stage (same key, so the stored entry stays) writes the record into its manifest.
    @Test func aForcedRerunRecordsTheSideStoreUseOfAnOlderEntry() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        name: memo
        stages:
          one: {type: memo, with: {value: 1, item: first}}
        """)
        #expect(try await s.runWith(session(s), path).status == .succeeded)
        let key = try #require(entries(s).first)
        let manifest = s.cache.appendingPathComponent("entries/\(key)/manifest.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: manifest)) as! [String: Any]
        #expect(object.removeValue(forKey: "sideStores") as? [String] == ["memo/first"])
        try JSONSerialization.data(withJSONObject: object).write(to: manifest)
        try FileManager.default.createDirectory(at: s.cache.appendingPathComponent("memo/other"), withIntermediateDirectories: true)
        #expect(try gc(s).sideStores.first?.keptItems == ["first", "other"])

        #expect(try await s.runWith(session(s), path, force: ["one"]).status == .succeeded)
        #expect(try CacheStore(root: s.cache).readManifest(key).sideStores == ["memo/first"])
        let report = try gc(s)
        #expect(report.sideStores.first?.keptItems == ["first"] && report.sideStores.first?.removedItems == ["other"])
    }

    @Test func aStageCanOpenOnlyTheSideStoresItsTypeDeclares() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        name: memo
        stages:
          one: {type: memo, with: {value: 1, store: other}}
          two: {type: memo, with: {value: 2, item: ../up}}
        """)
        // Two jobs: both stages start before the first failure stops the run.
        let outcome = try await s.runWith(session(s), path, jobs: 2)
        #expect(outcome.failures.map(\.message).sorted() == [
            "side store 'memo': item '../up' is not a plain name (letters, digits, '-', '_', '.'; not starting with '.')",
            "side store 'other' is not declared by this stage type (declared: memo)",
        ])
        #expect(!FileManager.default.fileExists(atPath: s.cache.appendingPathComponent("other").path))
    }
}

extension Scratch {
    /// Runs a workflow file with `session` (a registry of the test's own).
    func runWith(_ session: WorkflowSession, _ path: String, jobs: Int = 1, force: Set<String> = []) async throws -> RunOutcome {
        let wf = try session.load(path)
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        return try await session.run(wf, options: RunOptions(jobs: jobs, force: force, runsDirectory: runs), board: board)
    }
}
