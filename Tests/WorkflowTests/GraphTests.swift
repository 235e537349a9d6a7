import Foundation
import Testing
@testable import Workflow
import WorkflowTestSupport

@Suite struct GraphTests {
    @Test func topologicalOrderKeepsFileOrderAmongReadyStages() {
        let g = DependencyGraph([("d", ["b", "c"]), ("c", ["a"]), ("b", ["a"]), ("a", [])])
        #expect(g.topologicalOrder() == ["a", "c", "b", "d"])
        #expect(g.dependents(of: "a") == ["b", "c", "d"])
        #expect(DependencyGraph([("x", ["y"]), ("y", ["x"])]).topologicalOrder() == nil)
    }

    @Test func dotNamesStagesTypesAndCarriedArtifacts() throws {
        let s = Scratch()
        let wf = try s.session().load(s.write("w.yaml", """
        name: g
        stages:
          a: {type: emit, with: {value: 1}}
          b: {type: add, needs: [a]}
        """))
        #expect(DotRenderer.render(wf, cached: ["a"]) == """
        digraph "g" {
          rankdir=LR;
          node [shape=box, style=rounded];
          "a" [label="a\\n(emit)", style="rounded,filled", fillcolor="#dddddd"];
          "b" [label="b\\n(add)"];
          "a" -> "b" [label="number"];
        }
        """)
    }
}
