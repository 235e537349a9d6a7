import Foundation
import Testing
@testable import Workflow

/// How a stage finds its upstream results by artifact type.
@Suite struct StageContextTests {
    /// A context over `inputs` (stage name, types it produces), in that `needs` order.
    private func context(_ inputs: [(String, [String])], scratch: Scratch) throws -> StageContext {
        let upstream = inputs.map { name, produces in
            StageInput(stage: name, stageType: "t", produces: produces, directory: scratch.url.appendingPathComponent(name),
                       key: name, parameters: Parameters([:]))
        }
        return StageContext(stageName: "consumer", parameters: Parameters([:]), outputDirectory: scratch.url,
                            finalOutputDirectory: scratch.url, resumeDirectory: scratch.url, inputs: upstream,
                            workflowDirectory: scratch.url, cacheKey: "k", store: try CacheStore(root: scratch.cache), sideStores: [],
                            board: ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }, logFile: nil, cancelled: { false })
    }

    @Test func inputsProducingKeepsEveryMatchInNeedsOrder() throws {
        let scratch = Scratch()
        let c = try context([("b", ["model"]), ("f", ["features"]), ("a", ["model", "scores"]), ("s", ["scores"])], scratch: scratch)
        #expect(c.inputs(producing: "model").map(\.stage) == ["b", "a"])
        #expect(c.inputs(producing: "scores").map(\.stage) == ["a", "s"])
        #expect(c.inputs(producing: "report").isEmpty)
        // The single-input accessors agree with the first of the list.
        #expect(try c.input("model").stage == "b")
        #expect(c.optionalInput("scores")?.stage == "a")
        #expect(c.optionalInput("report") == nil)
        #expect(throws: StageFailure.self) { try c.input("report") }
    }
}
