import Foundation
import Testing
@testable import Workflow
import WorkflowTestSupport

/// `funad run WORKFLOW STAGE…`: the targets and what they need, nothing else.
@Suite(.serialized) struct TargetSelectionTests {
    // `blob` stages (sum of upstream numbers plus `add`, no filler at 0 bytes) rather than
    // `emit`/`add`, whose shared execution monitor ExecutionTests reads while it runs.
    static let workflow = """
    stages:
      root: {type: blob, with: {bytes: 0, add: 1}}
      left: {type: blob, needs: [root], with: {bytes: 0, add: 10}}
      right: {type: blob, needs: [root], with: {bytes: 0, add: 100}}
      total: {type: blob, needs: [left, right], with: {bytes: 0}}
      other: {type: blob, with: {bytes: 0, add: 5}}
      side: {type: blob, needs: [other], with: {bytes: 0, add: 1}}
    """

    @Test func aTargetRunsWithItsUpstreamOnlyAndTheRestReusesIt() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", Self.workflow)
        let first = try await s.run(path, targets: ["left"])
        #expect(try s.statuses(first) == ["root": "ran", "left": "ran"])

        // Two targets sharing an upstream stage: each stage once, in dependency order.
        let plan = try s.session().plan(try s.session().load(path).selecting(["total", "side"]))
        #expect(plan.steps.map(\.stage.name) == ["root", "left", "right", "total", "other", "side"])
        #expect(plan.steps.filter { $0.status == .cached }.map(\.stage.name) == ["root", "left"])

        let whole = try await s.run(path)
        #expect(try s.statuses(whole) == ["root": "cached", "left": "cached", "right": "ran", "total": "ran",
                                          "other": "ran", "side": "ran"])
        let totalKey = plan.steps[3].key
        #expect(try readNumber(in: CacheStore(root: s.cache).outputURL(totalKey)) == 1 + 10 + 1 + 100)
    }

    @Test func unknownTargetsAndForcedStagesOutsideTheSelectionAreClearErrors() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", Self.workflow)
        let wf = try s.session().load(path)
        #expect(throws: DiagnosticList.self) { try wf.selecting(["lefft", "nowhere"]) }
        do { _ = try wf.selecting(["lefft", "nowhere"]) } catch let list as DiagnosticList {
            let text = list.diagnostics.map(\.message)
            #expect(text.count == 2)
            #expect(text[0].hasPrefix("target 'lefft': no stage of that name in w"))
            #expect(text[0].contains("left"))
        }
        do {
            _ = try await s.run(path, force: ["side"], targets: ["left"])
            Issue.record("forcing a stage outside the targets should fail")
        } catch let list as DiagnosticList {
            #expect(list.diagnostics.map(\.message) == ["--force side: not among the stages selected to run (the targets and what they need)"])
        }
        #expect(try wf.selecting([]).stages.count == 6)
    }

    @Test func gcKeepsWhatRunsOfChosenStagesAddedBackToTheLastWholeRun() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", Self.workflow)
        func keys(_ outcome: RunOutcome) throws -> Set<String> {
            Set((try s.record(outcome)["stages"] as! [[String: Any]]).map { $0["key"] as! String })
        }
        let whole = try keys(try await s.run(path))
        let partialRun = try await s.run(path, settings: ["side.add=2"], targets: ["side"])
        #expect(try s.record(partialRun)["targets"] as? [String] == ["side"])
        let side2 = try keys(partialRun)
        #expect(side2.subtracting(whole).count == 1)  // the new `side`; `other` is shared
        #expect(RunRecords.keysInUse(runsDirectory: s.runs).keys == whole.union(side2))

        // A newer whole run closes the search: the older records no longer count.
        let again = try await s.run(path, settings: ["left.add=3"])
        #expect(try s.record(again)["targets"] == nil)
        #expect(RunRecords.keysInUse(runsDirectory: s.runs).keys == (try keys(again)))
    }
}

/// A long run's record is written as stages finish, so their results can be read before
/// the run ends (the MTD sweep takes hours) or after it is killed.
@Suite struct ProgressiveRecordTests {
    @Test func theRecordListsFinishedStagesWhileTheRunGoesOn() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        stages:
          first: {type: blob, with: {bytes: 0, add: 1}}
          second: {type: slow, with: {steps: 2, step_ms: 1, hold_at: 1}}
        """)
        let session = s.session()
        let workflow = try session.load(path)
        let cancellation = CancellationFlag()
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let options = RunOptions(runsDirectory: s.runs)
        let run = Task { try await session.run(workflow, options: options, board: board, cancellation: cancellation) }
        let folder = s.runs.appendingPathComponent("w")
        var seen: [String: Any]?
        for _ in 0..<500 {  // up to 10 s
            let records = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0 != "latest" }
            if let name = records.first,
               let data = try? Data(contentsOf: folder.appendingPathComponent(name).appendingPathComponent("run.json")),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                seen = object
                break
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        cancellation.cancel()
        let outcome = try await run.value
        let record = try #require(seen)
        #expect(record["status"] as? String == "running")
        #expect(record["finished"] == nil && record["updated"] != nil)
        let stages = Dictionary(uniqueKeysWithValues: (record["stages"] as! [[String: Any]]).map { ($0["name"] as! String, $0["status"] as! String) })
        #expect(stages == ["first": "ran", "second": "not run"])
        #expect(outcome.status == .cancelled)
        #expect(try s.record(outcome)["status"] as? String == "cancelled")
        #expect(try s.record(outcome)["finished"] != nil)
    }
}
