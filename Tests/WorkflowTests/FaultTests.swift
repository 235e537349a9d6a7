import Foundation
import Testing
@testable import Workflow
import WorkflowTestSupport

/// Faults a run must survive (issue 13): a full disk in the middle of a stage, and damaged
/// cache metadata. Each ends in a valid cache and a next run with the right result.
/// Only `blob` stages run here: they leave `TestStages.Monitor` alone, so these tests may
/// run alongside `ExecutionTests`, which count the stages running at once.
@Suite struct FaultTests {
    /// first = 3 → big = 3 + 1 (writing `bytes` of filler) → last = 4 + 10 = 14.
    static func chain(bytes: Int) -> String {
        """
        name: w
        stages:
          first: {type: blob, with: {bytes: 0, add: 3}}
          big: {type: blob, needs: [first], with: {bytes: \(bytes), add: 1}}
          last: {type: blob, needs: [big], with: {bytes: 0, add: 10}}
        """
    }

    /// Runs the test worker with every file of its process limited to `fileSizeLimit` bytes.
    func runWorker(_ path: String, _ s: Scratch, fileSizeLimit: Int) throws -> Process {
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent("workflow-test-worker")
        p.arguments = [path, s.cache.path, s.runs.path]
        var env = ProcessInfo.processInfo.environment
        env["FUNAD_TEST_FILE_SIZE_LIMIT"] = String(fileSizeLimit)
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p
    }

    /// Every entry folder has a manifest whose files all check out, and no stage folder is
    /// left half-written in `tmp/` once a run has started on the cache again.
    func expectValidCache(_ s: Scratch, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> [String] {
        let store = try CacheStore(root: s.cache)
        let folders = try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("entries").path)
        var stages: [String] = []
        for key in folders {
            let info = try store.verify(key)
            #expect(info.key == key, sourceLocation: sourceLocation)
            stages.append(info.stage)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("quarantine").path).isEmpty,
                sourceLocation: sourceLocation)
        return stages.sorted()
    }

    func expectCompletesWithSpace(_ path: String, _ s: Scratch, expectedRan: Set<String>) async throws {
        let outcome = try await s.run(path)
        #expect(outcome.status == .succeeded)
        let statuses = try s.statuses(outcome)
        #expect(Set(statuses.filter { $0.value == "ran" }.keys) == expectedRan)
        #expect(Set(statuses.filter { $0.value == "cached" }.keys) == Set(["first", "big", "last"]).subtracting(expectedRan))
        let plan = try s.session().plan(try s.session().load(path))
        let store = try CacheStore(root: s.cache)
        #expect(try readNumber(in: store.outputURL(plan.steps[2].key)) == 14)
        let blob = store.outputURL(plan.steps[1].key).appendingPathComponent("blob.bin")
        #expect((try FileManager.default.attributesOfItem(atPath: blob.path)[.size] as? Int) == 200_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("tmp").path).isEmpty)
        #expect(try expectValidCache(s) == ["big", "first", "last"])
    }

    @Test func stageFailingOnAFullDiskLeavesTheCacheValidAndTheNextRunCompletes() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", Self.chain(bytes: 200_000))
        // 100 kB per file: the stage's 200 kB blob cannot be written; manifests, logs and
        // the run record (a few kB) can.
        let p = try runWorker(path, s, fileSizeLimit: 100_000)
        #expect(p.terminationReason == .exit)
        #expect(p.terminationStatus == 1)  // a failed stage, not a crash
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: s.runs.appendingPathComponent("w/latest/run.json"))) as! [String: Any]
        let stages = Dictionary(uniqueKeysWithValues: (record["stages"] as! [[String: Any]]).map { ($0["name"] as! String, $0) })
        #expect(stages["first"]?["status"] as? String == "ran")
        #expect(stages["big"]?["status"] as? String == "failed")
        #expect(stages["last"]?["status"] as? String == "not run")
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("tmp").path).isEmpty)
        #expect(try expectValidCache(s) == ["first"])

        try await expectCompletesWithSpace(path, s, expectedRan: ["big", "last"])
    }

    @Test func engineWritesFailingOnAFullDiskNeverCrashAndNeverLeaveAHalfEntry() async throws {
        // 512 bytes per file: stage logs, manifests and the run record hit the limit too.
        let s = Scratch()
        let path = s.write("w.yaml", Self.chain(bytes: 200_000))
        let p = try runWorker(path, s, fileSizeLimit: 512)
        #expect(p.terminationReason == .exit)  // refused writes are errors, never a trap
        #expect(p.terminationStatus != 0)
        _ = try expectValidCache(s)
        try await expectCompletesWithSpace(path, s, expectedRan: ["first", "big", "last"])
    }

    // MARK: damaged metadata

    /// Runs once with space and returns the cache key of `first` and the store.
    func firstRun(_ s: Scratch) async throws -> (path: String, key: String, store: CacheStore) {
        let path = s.write("w.yaml", Self.chain(bytes: 200_000))
        _ = try await s.run(path)
        let plan = try s.session().plan(try s.session().load(path))
        return (path, plan.steps[0].key, try CacheStore(root: s.cache))
    }

    func reasons(_ outcome: RunOutcome, _ s: Scratch, stage: String) throws -> [String] {
        let stages = try s.record(outcome)["stages"] as! [[String: Any]]
        return stages.first { $0["name"] as? String == stage }?["reasons"] as? [String] ?? []
    }


    @Test(arguments: ["truncated", "garbled", "other-entry", "escaping-path"])
    func damagedManifestIsQuarantinedAndTheEntryRecomputed(_ damage: String) async throws {
        let s = Scratch()
        let (path, key, store) = try await firstRun(s)
        let manifest = s.cache.appendingPathComponent("entries/\(key)/manifest.json")
        let original = try Data(contentsOf: manifest)
        let expectedProblem: String
        switch damage {
        case "truncated":
            try original.prefix(original.count / 2).write(to: manifest)
            expectedProblem = "manifest is not valid JSON"
        case "garbled":
            var bytes = [UInt8](original)
            for i in stride(from: 0, to: bytes.count, by: 7) { bytes[i] = 0xFF }
            try Data(bytes).write(to: manifest)
            expectedProblem = "manifest is not valid JSON"
        case "other-entry":
            // A well-formed manifest copied from the next stage's entry: valid JSON, wrong key.
            let plan = try s.session().plan(try s.session().load(path))
            let other = plan.steps[1].key
            try Data(contentsOf: s.cache.appendingPathComponent("entries/\(other)/manifest.json")).write(to: manifest)
            expectedProblem = "manifest names entry \(other.prefix(12))"
        default:
            var json = try JSONSerialization.jsonObject(with: original) as! [String: Any]
            var files = json["files"] as! [[String: Any]]
            files[0]["path"] = "../../../w.yaml"
            json["files"] = files
            try JSONSerialization.data(withJSONObject: json).write(to: manifest)
            expectedProblem = "manifest lists a file outside the entry ('../../../w.yaml')"
        }

        let outcome = try await s.run(path)
        #expect(outcome.status == .succeeded)
        #expect(try s.statuses(outcome) == ["first": "ran", "big": "cached", "last": "cached"])
        let why = try reasons(outcome, s, stage: "first")
        let moved = try quarantined(s)
        #expect(moved.count == 1)
        #expect(why == ["cache entry \(key.prefix(12)) is damaged: \(expectedProblem); moved to quarantine/\(moved.first ?? "?"); recomputing"])
        #expect(moved.first?.hasPrefix(key) == true)
        #expect(try readNumber(in: store.outputURL(key)) == 3)
        _ = try CacheStore(root: s.cache).verify(key)
    }

    @Test func entryFolderWithoutManifestIsQuarantinedAndReplaced() async throws {
        let s = Scratch()
        let (path, key, store) = try await firstRun(s)
        try FileManager.default.removeItem(at: s.cache.appendingPathComponent("entries/\(key)/manifest.json"))
        try "99\n".write(to: store.outputURL(key).appendingPathComponent("value.txt"), atomically: true, encoding: .utf8)

        let outcome = try await s.run(path)
        #expect(try s.statuses(outcome) == ["first": "ran", "big": "cached", "last": "cached"])
        // The stale folder (whose value was tampered with) did not survive in place.
        #expect(try readNumber(in: store.outputURL(key)) == 3)
        #expect(try quarantined(s).count == 1)
        _ = try CacheStore(root: s.cache).verify(key)
    }
}

func quarantined(_ s: Scratch) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("quarantine").path)
}

/// In `ExecutionTests` (serialized) because `readfile` and `add` count themselves in the
/// shared `TestStages.Monitor`.
extension ExecutionTests {
    @Test(arguments: ["{\"/data/x\": {\"size\": 1", "[1, 2, 3]", ""])
    func damagedDigestMemoIsQuarantinedWithALogLineAndRebuilt(_ content: String) async throws {
        let s = Scratch()
        let number = s.write("n.txt", "5\n")
        let path = s.write("w.yaml", """
        name: w
        stages:
          read: {type: readfile, with: {file: \(number)}}
          plus: {type: add, needs: [read], with: {add: 1}}
        """)
        _ = try await s.run(path)
        let memo = s.cache.appendingPathComponent("file-digests.json")
        let sound = try JSONSerialization.jsonObject(with: Data(contentsOf: memo)) as! [String: Any]
        #expect(sound.keys.contains(number))
        try content.write(to: memo, atomically: true, encoding: .utf8)

        let lines = LineSink()
        let session = s.session()
        let outcome = try await session.run(try session.load(path), options: RunOptions(runsDirectory: s.runs),
                                            board: ProgressBoard(isTerminal: false, lineInterval: 1000) { lines.append($0) })
        // Never trusted, never fatal: the digest is recomputed, matches, and the stages are reused.
        #expect(try s.statuses(outcome) == ["read": "cached", "plus": "cached"])
        let moved = try quarantined(s)
        #expect(moved.count == 1)
        #expect(moved.first?.hasPrefix("file-digests.json-") == true)
        #expect(try String(contentsOf: s.cache.appendingPathComponent("quarantine/\(moved[0])"), encoding: .utf8) == content)
        #expect(lines.text.contains("funad: file-digests.json is damaged (not a valid digest list); moved to quarantine/\(moved[0]); input digests are recomputed\n"))
        let rebuilt = try JSONSerialization.jsonObject(with: Data(contentsOf: memo)) as! [String: Any]
        #expect(rebuilt.keys.sorted() == sound.keys.sorted())
    }
}

/// Collects a progress board's output across threads.
final class LineSink: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""
    func append(_ s: String) { lock.lock(); buffer += s; lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return buffer }
}

/// Run records read back for `cache gc`: a damaged record is set aside, never trusted, and
/// the workflow's previous intact record decides what is still in use.
@Suite struct RunRecordFaultTests {
    /// Two runs of one workflow with different values, so their keys differ.
    func twoRuns(_ s: Scratch) async throws -> (older: Set<String>, newer: URL) {
        let path = s.write("w.yaml", FaultTests.chain(bytes: 10))
        let first = try await s.run(path)
        let older = Set((try s.record(first)["stages"] as! [[String: Any]]).map { $0["key"] as! String })
        try await Task.sleep(nanoseconds: 1_100_000_000)  // run folders are named to the second
        let second = try await s.run(path, settings: ["first.add=4"])
        #expect(second.recordURL.deletingLastPathComponent() != first.recordURL.deletingLastPathComponent())
        return (older, second.recordURL)
    }

    @Test(arguments: ["truncated", "not-a-record", "bad-key"])
    func damagedLatestRecordFallsBackToThePreviousOne(_ damage: String) async throws {
        let s = Scratch()
        let (older, newer) = try await twoRuns(s)
        let original = try Data(contentsOf: newer)
        switch damage {
        case "truncated": try original.prefix(original.count / 3).write(to: newer)
        case "not-a-record": try Data("[1, 2]".utf8).write(to: newer)
        default:
            try String(decoding: original, as: UTF8.self).replacingOccurrences(of: "\"key\" : \"", with: "\"key\" : \"zz")
                .write(to: newer, atomically: true, encoding: .utf8)
        }
        let reason = ["truncated": "not valid JSON", "not-a-record": "not a funad run record", "bad-key": "stage 1 has no valid cache key"][damage]!

        let inUse = RunRecords.keysInUse(runsDirectory: s.runs)
        #expect(inUse.keys == older)
        #expect(inUse.notes == ["funad: run record \(newer.path) is damaged (\(reason)); renamed to run.json.damaged; using the run before it"])
        #expect(!FileManager.default.fileExists(atPath: newer.path))
        #expect(FileManager.default.fileExists(atPath: newer.path + ".damaged"))
    }

    @Test func intactLatestRecordIsUsedAndAKilledRunWithoutRecordIsPassedOver() async throws {
        let s = Scratch()
        let (_, newer) = try await twoRuns(s)
        let newest = Set((try JSONSerialization.jsonObject(with: Data(contentsOf: newer)) as! [String: Any])["stages"]
            .flatMap { $0 as? [[String: Any]] }!.map { $0["key"] as! String })
        // A later run that was killed before writing its record.
        try FileManager.default.createDirectory(at: s.runs.appendingPathComponent("w/99991231-235959-1/logs"), withIntermediateDirectories: true)
        let inUse = RunRecords.keysInUse(runsDirectory: s.runs)
        #expect(inUse.keys == newest)
        #expect(inUse.notes.isEmpty)
        #expect(inUse.records.map { $0.deletingLastPathComponent().lastPathComponent } == [newer.deletingLastPathComponent().lastPathComponent])
    }
}
