import Foundation
import Testing
@testable import FunAD

/// The patch feature transform against values worked out by hand.
@Suite struct PatchFeatureTransformTests {
    /// One image, a 2×3 grid, global dimension 1 (value 10), local dimension 1 with values
    ///   1 2 3
    ///   4 5 6
    private func source() -> InMemoryPatchFeatures {
        let locals: [Float] = [1, 2, 3, 4, 5, 6]
        return InMemoryPatchFeatures(imageCount: 1, gridHeight: 2, gridWidth: 3, dimension: 2,
                                     values: locals.flatMap { [10, $0] })
    }

    private func read(_ s: some PatchFeatureSource) throws -> [Float] {
        var out = [Float](repeating: .nan, count: s.patchesPerImage * s.dimension)
        try out.withUnsafeMutableBufferPointer { try s.patchFeatures(ofImage: 0, into: $0.baseAddress!) }
        return out
    }

    @Test func testIdentityLeavesFeaturesUnchanged() throws {
        let t = try TransformedPatchFeatures(base: source(), globalDimension: 1, transform: .identity)
        #expect(try read(t) == read(source()))
        #expect(PatchFeatureTransform.identity.isIdentity)
    }

    /// 3×3 windows clipped at the edge, mean over the cells inside:
    /// (0,0): {1,2,4,5} → 3;  (0,1): {1,2,3,4,5,6} → 3.5;  (0,2): {2,3,5,6} → 4;
    /// (1,0): {1,2,4,5} → 3;  (1,1): 3.5;  (1,2): 4.   Global part × 0.5 → 5.
    @Test func testNeighbourhoodMeanAndGlobalWeight() throws {
        let t = try TransformedPatchFeatures(base: source(), globalDimension: 1,
                                             transform: PatchFeatureTransform(neighbourhood: 3, globalWeight: 0.5))
        let got = try read(t)
        #expect(got.enumerated().filter { $0.offset % 2 == 1 }.map(\.element) == [3, 3.5, 4, 3, 3.5, 4])
        #expect(got.enumerated().filter { $0.offset % 2 == 0 }.map(\.element) == [5, 5, 5, 5, 5, 5])
    }

    /// A window larger than the grid averages the whole grid for every patch.
    @Test func testWindowLargerThanGridIsTheGridMean() throws {
        let t = try TransformedPatchFeatures(base: source(), globalDimension: 1,
                                             transform: PatchFeatureTransform(neighbourhood: 7, globalWeight: 0))
        let got = try read(t)
        #expect(got == [0, 3.5, 0, 3.5, 0, 3.5, 0, 3.5, 0, 3.5, 0, 3.5])
    }

    private func expectError(containing text: String, _ body: () throws -> Any) {
        do { _ = try body(); Issue.record("no error; expected one containing '\(text)'") } catch {
            #expect("\(error)".contains(text), "\(error)")
        }
    }

    @Test func testInvalidOptionsAreRefusedWithWhatWasExpected() {
        expectError(containing: "expected an odd window side") { try TransformedPatchFeatures(base: source(), globalDimension: 1,
                                                          transform: PatchFeatureTransform(neighbourhood: 2, globalWeight: 1)) }
        expectError(containing: "expected a finite value ≥ 0") { try TransformedPatchFeatures(base: source(), globalDimension: 1,
                                                          transform: PatchFeatureTransform(neighbourhood: 1, globalWeight: -1)) }
        expectError(containing: "global dimension 2") { try TransformedPatchFeatures(base: source(), globalDimension: 2, transform: .identity) }
    }

    /// Stored with the model: the JSON round trip keeps it.
    @Test func testCodableRoundTrip() throws {
        let t = PatchFeatureTransform(neighbourhood: 3, globalWeight: 0.25)
        let back = try JSONDecoder().decode(PatchFeatureTransform.self, from: JSONEncoder().encode(t))
        #expect(back == t)
    }
}
