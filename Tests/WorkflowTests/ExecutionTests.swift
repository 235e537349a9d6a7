import Foundation
import Testing
@testable import Workflow
import WorkflowTestSupport

/// Runs that share `TestStages.Monitor` must not overlap.
@Suite(.serialized) struct ExecutionTests {
    let diamond = """
    name: diamond
    stages:
      root: {type: emit, with: {value: 2, hold_ms: 150}}
      left: {type: add, needs: [root], with: {add: 10}}
      right: {type: emit, with: {value: 5, hold_ms: 150}}
      total: {type: add, needs: [left, right]}
    """

    @Test func stagesRunAfterTheirNeedsAndComputeTheExpectedValue() async throws {
        let s = Scratch()
        TestStages.Monitor.shared.reset()
        let outcome = try await s.run(s.write("w.yaml", diamond), jobs: 1)
        #expect(outcome.status == .succeeded)
        let order = TestStages.Monitor.shared.executed
        #expect(order.firstIndex(of: "root")! < order.firstIndex(of: "left")!)
        #expect(order.last == "total")
        #expect(TestStages.Monitor.shared.maxActive == 1)
        let store = try CacheStore(root: s.cache)
        let plan = try s.session().plan(try s.session().load(s.write("w.yaml", diamond)))
        let totalKey = plan.steps.first { $0.stage.name == "total" }!.key
        #expect(try readNumber(in: store.outputURL(totalKey)) == 17)  // (2 + 10) + 5
    }

    @Test func runRecordCarriesHostWithTheApplicationsFactsButNotInPlaceOfTheEngines() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", "name: one\nstages:\n  a: {type: emit, with: {value: 1}}\n")
        let wf = try s.session().load(path)
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let options = RunOptions(runsDirectory: s.runs, host: ["blas": "SomeBLAS 1.0", "cores": "many"])
        let outcome = try await s.session().run(wf, options: options, board: board)
        #expect(outcome.status == .succeeded)
        let host = try #require(try s.record(outcome)["host"] as? [String: Any])
        #expect(host["blas"] as? String == "SomeBLAS 1.0")
        #expect(host["cores"] as? Int == ProcessInfo.processInfo.activeProcessorCount)
        #expect((host["cpu"] as? String)?.isEmpty == false)
        #expect(host["os"] as? String == ProcessInfo.processInfo.operatingSystemVersionString)
    }

    @Test func independentStagesRunConcurrentlyUpToJobs() async throws {
        let s = Scratch()
        TestStages.Monitor.shared.reset()
        let outcome = try await s.run(s.write("w.yaml", diamond), jobs: 2)
        #expect(outcome.status == .succeeded)
        // root and right each hold 150 ms and need nothing: with 2 jobs they overlap.
        #expect(TestStages.Monitor.shared.maxActive == 2)
    }

    @Test func unchangedRerunRunsNothingAndChangedParameterRerunsOnlyDownstream() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", diamond)
        let first = try await s.run(path)
        #expect(first.ran == 4)

        TestStages.Monitor.shared.reset()
        let second = try await s.run(path)
        #expect(second.ran == 0 && second.cached == 4)
        #expect(TestStages.Monitor.shared.executed.isEmpty)
        #expect(try s.statuses(second) == ["root": "cached", "left": "cached", "right": "cached", "total": "cached"])

        let plan = try s.session().plan(try s.session().load(path, settings: ["left.add=20"]))
        #expect(plan.steps.map(\.status) == [.cached, .willRun(reasons: ["parameter add changed: 10 → 20"]), .cached,
                                             .willRun(reasons: ["input from 'left' changed"])])

        TestStages.Monitor.shared.reset()
        let third = try await s.run(path, settings: ["left.add=20"])
        #expect(try s.statuses(third) == ["root": "cached", "left": "ran", "right": "cached", "total": "ran"])
        #expect(TestStages.Monitor.shared.executed.sorted() == ["left", "total"])

        // Forcing a stage reruns it and what depends on it.
        let forced = try await s.run(path, force: ["right"])
        #expect(try s.statuses(forced) == ["root": "cached", "left": "cached", "right": "ran", "total": "ran"])
    }

    @Test func changingAReadFileInvalidatesItsStage() async throws {
        let s = Scratch()
        let numberFile = s.write("n.txt", "4")
        let path = s.write("w.yaml", """
        stages:
          read: {type: readfile, with: {file: n.txt}}
          total: {type: add, needs: [read], with: {add: 1}}
        """)
        #expect(try await s.run(path).ran == 2)
        #expect(try await s.run(path).ran == 0)
        try "6".write(toFile: numberFile, atomically: true, encoding: .utf8)
        let plan = try s.session().plan(try s.session().load(path))
        #expect(plan.steps[0].status == .willRun(reasons: ["content of file changed"]))
        let outcome = try await s.run(path)
        #expect(try s.statuses(outcome) == ["read": "ran", "total": "ran"])
        let totalKey = try s.session().plan(try s.session().load(path)).steps[1].key
        #expect(try readNumber(in: CacheStore(root: s.cache).outputURL(totalKey)) == 7)
    }

    @Test func failedStageKeepsUpstreamResultsAndLeavesNothingHalfWritten() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        stages:
          good: {type: emit, with: {value: 1}}
          bad: {type: fail, needs: [good], with: {message: disk on fire}}
          after: {type: add, needs: [bad]}
        """)
        let outcome = try await s.run(path)
        #expect(outcome.status == .failed)
        #expect(outcome.failures.map(\.stage) == ["bad"])
        #expect(outcome.failures[0].message == "disk on fire")
        #expect(try String(contentsOf: outcome.failures[0].log, encoding: .utf8).contains("FAILED: disk on fire"))
        #expect(try s.statuses(outcome) == ["good": "ran", "bad": "failed", "after": "not run"])
        let store = try CacheStore(root: s.cache)
        #expect(store.listEntries().map(\.stage) == ["good"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("tmp").path).isEmpty)
    }

    @Test func corruptedOrTruncatedEntryIsDetectedAndRecomputed() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", diamond)
        _ = try await s.run(path)
        let plan = try s.session().plan(try s.session().load(path))
        let rootKey = plan.steps[0].key
        let store = try CacheStore(root: s.cache)
        let file = store.outputURL(rootKey).appendingPathComponent("value.txt")
        try "3\n".write(to: file, atomically: true, encoding: .utf8)  // same size, other content

        let outcome = try await s.run(path)
        #expect(try s.statuses(outcome)["root"] == "ran")
        let record = try s.record(outcome)
        let rootRecord = (record["stages"] as! [[String: Any]]).first { $0["name"] as? String == "root" }!
        #expect((rootRecord["reasons"] as! [String]).first!.hasPrefix("cache entry \(rootKey.prefix(12)) is damaged: file value.txt does not match its recorded digest"))
        #expect(try readNumber(in: store.outputURL(rootKey)) == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("quarantine").path).count == 1)

        // Truncation is caught by size.
        try Data().write(to: file)
        let fresh = try CacheStore(root: s.cache)
        #expect(throws: CacheIntegrityError.self) { try fresh.verify(rootKey) }
    }

    @Test func runRecordHoldsParametersSeedsKeysAndOutputs() async throws {
        let s = Scratch()
        let outcome = try await s.run(s.write("w.yaml", """
        name: recorded
        stages:
          a: {type: emit, with: {value: 1, options: {seed: 1234}}}
        """))
        let record = try s.record(outcome)
        #expect(record["workflow"] as? String == "recorded")
        #expect(record["status"] as? String == "succeeded")
        let stage = (record["stages"] as! [[String: Any]])[0]
        #expect((stage["parameters"] as! [String: Any])["value"] as? Int == 1)
        #expect((stage["summary"] as! [String: Any])["seed"] as? Int == 1234)
        #expect((stage["key"] as! String).count == 64)
        #expect(stage["cache"] as? String == "miss")
        #expect((stage["files"] as! [String]).sorted() == ["summary.json", "value.txt"])
    }
}

/// Tests that drive separate processes running workflows of test stages.
@Suite(.serialized) struct ProcessTests {
    func worker(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent("workflow-test-worker")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    @Test func killedStageResumesFromItsCheckpointOnTheNextRun() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        stages:
          first: {type: emit, with: {value: 1}}
          long: {type: slow, needs: [first], with: {steps: 40, step_ms: 20, hold_at: 5}}
        """)
        let p = try worker([path, s.cache.path, s.runs.path])
        // Wait until the slow stage has checkpointed 5 steps, then kill -9 it. The stage holds
        // at step 5 until killed, so a test starved of CPU by parallel suites cannot miss it.
        let resumeRoot = s.cache.appendingPathComponent("resume")
        var checkpoint: URL?
        for _ in 0..<3000 where p.isRunning {
            // Every stage that runs gets a resume folder; look in each, not just the first listed.
            let dirs = (try? FileManager.default.contentsOfDirectory(atPath: resumeRoot.path)) ?? []
            if let f = dirs.map({ resumeRoot.appendingPathComponent($0).appendingPathComponent("step.txt") }).first(where: { f in
                (try? String(contentsOf: f, encoding: .utf8)).flatMap { Int($0) }.map { $0 >= 5 } ?? false
            }) { checkpoint = f; break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        let reached = Int(try String(contentsOf: #require(checkpoint), encoding: .utf8))!
        #expect(reached == 5)
        // The killed stage left an unfinished folder, but no cache entry.
        let store = try CacheStore(root: s.cache)
        #expect(store.listEntries().map(\.stage) == ["first"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("tmp").path).count == 1)

        let plan = try s.session().plan(try s.session().load(path))
        #expect(plan.steps[1].resumable)
        let outcome = try await s.run(path)
        #expect(try s.statuses(outcome) == ["first": "cached", "long": "ran"])
        let summary = (try s.record(outcome)["stages"] as! [[String: Any]])[1]["summary"] as! [String: Any]
        #expect((summary["resumed_from"] as! Int) >= reached)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("tmp").path).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: checkpoint!.deletingLastPathComponent().path))  // resume folder gone after success
    }

    @Test func interruptCancelsTheRunningStageAndKeepsNothingHalfWritten() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        stages:
          first: {type: emit, with: {value: 1}}
          long: {type: slow, needs: [first], with: {steps: 400, step_ms: 20, hold_at: 3}}
        """)
        let p = try worker([path, s.cache.path, s.runs.path])
        let resumeRoot = s.cache.appendingPathComponent("resume")
        for _ in 0..<3000 where p.isRunning {  // until the slow stage has made progress
            let dirs = (try? FileManager.default.contentsOfDirectory(atPath: resumeRoot.path)) ?? []
            if dirs.contains(where: { FileManager.default.fileExists(atPath: resumeRoot.appendingPathComponent($0 + "/step.txt").path) }) { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 130)
        let store = try CacheStore(root: s.cache)
        #expect(store.listEntries().map(\.stage) == ["first"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.cache.appendingPathComponent("tmp").path).isEmpty)
        let records = try FileManager.default.contentsOfDirectory(atPath: s.runs.appendingPathComponent("w").path).filter { $0 != "latest" }
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: s.runs.appendingPathComponent("w/\(records[0])/run.json"))) as! [String: Any]
        #expect(record["status"] as? String == "cancelled")
        #expect((record["stages"] as! [[String: Any]]).map { $0["status"] as! String } == ["ran", "cancelled"])
    }

    @Test func twoRunsOnOneCacheAtOnceBothSucceedAndLeaveItConsistent() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        stages:
          a: {type: emit, with: {value: 1, hold_ms: 200}}
          b: {type: add, needs: [a], with: {add: 1}}
          c: {type: slow, needs: [b], with: {steps: 5, step_ms: 20}}
        """)
        let p1 = try worker([path, s.cache.path, s.runs.path])
        let p2 = try worker([path, s.cache.path, s.runs.path])
        p1.waitUntilExit()
        p2.waitUntilExit()
        #expect(p1.terminationStatus == 0 && p2.terminationStatus == 0)
        let store = try CacheStore(root: s.cache)
        let entries = store.listEntries()
        #expect(entries.map(\.stage).sorted() == ["a", "b", "c"])
        for e in entries { _ = try store.verify(e.key) }
        // One of the two ran everything; the other, after waiting for the lock, ran nothing.
        let records = try FileManager.default.contentsOfDirectory(atPath: s.runs.appendingPathComponent("w").path).filter { $0 != "latest" }
        var ranCounts: [Int] = []
        for r in records {
            let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: s.runs.appendingPathComponent("w/\(r)/run.json"))) as! [String: Any]
            ranCounts.append((obj["stages"] as! [[String: Any]]).filter { $0["status"] as? String == "ran" }.count)
        }
        #expect(ranCounts.sorted() == [0, 3])
    }
}
