import XCTest
@testable import FunAD

/// The patch feature transform against values worked out by hand.
final class PatchFeatureTransformTests: XCTestCase {
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

    func testIdentityLeavesFeaturesUnchanged() throws {
        let t = try TransformedPatchFeatures(base: source(), globalDimension: 1, transform: .identity)
        XCTAssertEqual(try read(t), try read(source()))
        XCTAssertTrue(PatchFeatureTransform.identity.isIdentity)
    }

    /// 3×3 windows clipped at the edge, mean over the cells inside:
    /// (0,0): {1,2,4,5} → 3;  (0,1): {1,2,3,4,5,6} → 3.5;  (0,2): {2,3,5,6} → 4;
    /// (1,0): {1,2,4,5} → 3;  (1,1): 3.5;  (1,2): 4.   Global part × 0.5 → 5.
    func testNeighbourhoodMeanAndGlobalWeight() throws {
        let t = try TransformedPatchFeatures(base: source(), globalDimension: 1,
                                             transform: PatchFeatureTransform(neighbourhood: 3, globalWeight: 0.5))
        let got = try read(t)
        XCTAssertEqual(got.enumerated().filter { $0.offset % 2 == 1 }.map(\.element), [3, 3.5, 4, 3, 3.5, 4])
        XCTAssertEqual(got.enumerated().filter { $0.offset % 2 == 0 }.map(\.element), [5, 5, 5, 5, 5, 5])
    }

    /// A window larger than the grid averages the whole grid for every patch.
    func testWindowLargerThanGridIsTheGridMean() throws {
        let t = try TransformedPatchFeatures(base: source(), globalDimension: 1,
                                             transform: PatchFeatureTransform(neighbourhood: 7, globalWeight: 0))
        let got = try read(t)
        XCTAssertEqual(got, [0, 3.5, 0, 3.5, 0, 3.5, 0, 3.5, 0, 3.5, 0, 3.5])
    }

    func testInvalidOptionsAreRefusedWithWhatWasExpected() {
        XCTAssertThrowsError(try TransformedPatchFeatures(base: source(), globalDimension: 1,
                                                          transform: PatchFeatureTransform(neighbourhood: 2, globalWeight: 1))) {
            XCTAssertTrue("\($0)".contains("expected an odd window side"), "\($0)")
        }
        XCTAssertThrowsError(try TransformedPatchFeatures(base: source(), globalDimension: 1,
                                                          transform: PatchFeatureTransform(neighbourhood: 1, globalWeight: -1))) {
            XCTAssertTrue("\($0)".contains("expected a finite value ≥ 0"), "\($0)")
        }
        XCTAssertThrowsError(try TransformedPatchFeatures(base: source(), globalDimension: 2, transform: .identity)) {
            XCTAssertTrue("\($0)".contains("global dimension 2"), "\($0)")
        }
    }

    /// Stored with the model: the JSON round trip keeps it.
    func testCodableRoundTrip() throws {
        let t = PatchFeatureTransform(neighbourhood: 3, globalWeight: 0.25)
        let back = try JSONDecoder().decode(PatchFeatureTransform.self, from: JSONEncoder().encode(t))
        XCTAssertEqual(back, t)
    }
}
