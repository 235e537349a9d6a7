import Foundation
import Testing
@testable import Workflow

/// The parameters that go into a cache key.
@Suite struct CanonicalParameterTests {
    let base = URL(fileURLWithPath: "/projects/line3")

    /// An unset option group resolves to `{}`: it is left out, so a stage type that gains
    /// such a group keeps the keys (and cached results) of workflows that do not use it.
    @Test func emptyObjectsAreLeftOutAtAnyDepth() {
        let without = Parameters(["seed": .int(1), "bank": .object(["every": .int(10)])])
        let with = Parameters(["seed": .int(1), "features": .object([:]), "bank": .object(["every": .int(10), "extra": .object([:])])])
        #expect(Planner.canonicalParameters(with, base: base) == Planner.canonicalParameters(without, base: base))
        #expect(Planner.canonicalParameters(without, base: base) == #"{"bank":{"every":10},"seed":1}"#)
    }

    /// A group with a value set is kept, and paths inside the workflow folder are relative.
    @Test func setGroupsAndRelativePathsAreKept() {
        let p = Parameters(["features": .object(["neighbourhood": .int(3)]), "weights": .path("/projects/line3/w.safetensors")])
        #expect(Planner.canonicalParameters(p, base: base) == #"{"features":{"neighbourhood":3},"weights":"w.safetensors"}"#)
    }
}
