import Testing
@testable import Workflow

@Suite struct DiagnosticTests {
    @Test func rendersLocationStageFieldAndMessageOnOneLine() {
        let d = Diagnostic("expected an integer, got 'ten'", at: SourceLocation(file: "w.yaml", line: 4, column: 23),
                           stage: "model", field: "with.epochs")
        #expect(d.description == "error: w.yaml:4:23: stage 'model', field 'with.epochs': expected an integer, got 'ten'")
    }
}
