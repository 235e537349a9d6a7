import Foundation
import Testing
@testable import Workflow
import WorkflowTestSupport

/// Each fixture folder holds an invalid workflow and the exact diagnostics it must give:
/// messages are part of the interface (STYLE.md), so they are compared word for word.
@Suite struct ValidationTests {
    static let cases = ["unknown-type", "unknown-param", "mistyped-param", "missing-needs", "cycle",
                        "type-mismatch", "duplicate-stage", "malformed-yaml", "undefined-variable", "missing-required"]

    @Test(arguments: cases)
    func fixtureGivesExpectedDiagnostics(_ name: String) throws {
        let dir = fixturesDirectory.appendingPathComponent(name)
        let expected = try String(contentsOf: dir.appendingPathComponent("expected.txt"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // Named as the user would type it from the fixtures folder.
        let text = try String(contentsOf: dir.appendingPathComponent("workflow.yaml"), encoding: .utf8)
        do {
            let spec = try WorkflowLoader(environment: [:]).load(text: text, file: "\(name)/workflow.yaml", baseDirectory: dir)
            _ = try WorkflowValidator(registry: TestStages.registry).validate(spec)
            Issue.record("\(name): expected diagnostics, but the workflow validated")
        } catch let list as DiagnosticList {
            #expect(list.description == expected)
        }
    }

    @Test func allFindingsAreReportedTogether() throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        stages:
          a: {type: emit, with: {value: x}}
          b: {type: nope}
          c: {type: add, needs: [zzz]}
        """)
        #expect(throws: DiagnosticList.self) { try s.session().load(path) }
        do { _ = try s.session().load(path) } catch let list as DiagnosticList {
            #expect(list.diagnostics.count == 3)
            #expect(list.diagnostics.map { $0.location?.line ?? 0 } == [2, 3, 4])
        }
    }

    @Test func validWorkflowIsOrderedByDependencies() throws {
        let s = Scratch()
        let path = s.write("w.yaml", """
        stages:
          total: {type: add, needs: [left, right]}
          right: {type: add, needs: [root]}
          left: {type: add, needs: [root]}
          root: {type: emit, with: {value: 1}}
        """)
        let wf = try s.session().load(path)
        #expect(wf.stages.map(\.name) == ["root", "right", "left", "total"])
        #expect(wf.stage(named: "root")!.parameters.int("options.seed") == 0)  // nested default filled in
    }
}
