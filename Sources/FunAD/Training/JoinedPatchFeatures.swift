import Foundation

/// Several feature sets read as one, in order: FUN-AD* trains on the base training set
/// followed by the synthetic anomalies (METHOD.md step 3), each extracted once by its own
/// `extract` stage. Image `i` of the join is image `i − offset(k)` of part `k`.
public struct JoinedPatchFeatures: PatchFeatureSource {
    public let parts: [any PatchFeatureSource]
    public let imageCount: Int
    public let gridHeight: Int
    public let gridWidth: Int
    public let dimension: Int
    /// First joined index of each part.
    private let offsets: [Int]

    public var patchesPerImage: Int { gridHeight * gridWidth }

    /// Fails unless every part has the first one's grid and patch dimension (the same
    /// backbone recipe): joining features of different shapes would silently mix spaces.
    public init(_ parts: [any PatchFeatureSource], names: [String]? = nil) throws {
        guard let first = parts.first else { throw TrainingError("no feature sets to join") }
        let label = { (k: Int) in names.map { "'\($0[k])'" } ?? "#\(k + 1)" }
        for (k, p) in parts.enumerated().dropFirst()
        where p.gridHeight != first.gridHeight || p.gridWidth != first.gridWidth || p.dimension != first.dimension {
            throw TrainingError("feature set \(label(k)) has \(p.gridHeight)×\(p.gridWidth) patches of \(p.dimension) values; "
                                      + "\(label(0)) has \(first.gridHeight)×\(first.gridWidth) of \(first.dimension): extract both with the same backbone recipe")
        }
        self.parts = parts
        var offsets: [Int] = []
        var total = 0
        for p in parts { offsets.append(total); total += p.imageCount }
        self.offsets = offsets
        imageCount = total
        gridHeight = first.gridHeight
        gridWidth = first.gridWidth
        dimension = first.dimension
    }

    public func patchFeatures(ofImage index: Int, into buffer: UnsafeMutablePointer<Float>) throws {
        guard index >= 0, index < imageCount else { throw TrainingError("image index \(index) out of range 0..<\(imageCount)") }
        // The last part whose first index is ≤ index (parts may be empty).
        var k = parts.count - 1
        while offsets[k] > index || parts[k].imageCount == 0 { k -= 1 }
        try parts[k].patchFeatures(ofImage: index - offsets[k], into: buffer)
    }
}
