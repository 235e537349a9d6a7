/// Turns one image's patch-score grid into its anomaly map (METHOD.md step 5):
/// grid h×w → bilinear resize to the crop (F.interpolate, align_corners=False) →
/// Gaussian filter σ = 4 (scipy.ndimage.gaussian_filter defaults).
public struct AnomalyMapMaker: Sendable {
    public let gridHeight: Int
    public let gridWidth: Int
    public let mapHeight: Int
    public let mapWidth: Int
    /// Resize and smoothing as one linear map (nil: no smoothing, the bilinear resize alone).
    let smoothed: SmoothedResize?

    /// `sigma` ≤ 0 disables smoothing.
    public init(gridHeight: Int, gridWidth: Int, mapHeight: Int = 224, mapWidth: Int = 224, sigma: Double = 4) {
        self.gridHeight = gridHeight; self.gridWidth = gridWidth
        self.mapHeight = mapHeight; self.mapWidth = mapWidth
        smoothed = sigma > 0 ? SmoothedResize(inHeight: gridHeight, inWidth: gridWidth, outHeight: mapHeight,
                                              outWidth: mapWidth, filter: GaussianFilter(sigma: sigma)) : nil
    }

    /// scores is (gridHeight, gridWidth); map is (mapHeight, mapWidth).
    public func makeMap(scores: UnsafePointer<Float>, into map: UnsafeMutablePointer<Float>) {
        if let smoothed {
            smoothed.apply(scores, into: map)
        } else {
            BilinearResize.resize(scores, inHeight: gridHeight, inWidth: gridWidth,
                                  into: map, outHeight: mapHeight, outWidth: mapWidth)
        }
    }

    /// The two-pass reference the fused path replaced (and its tests compare against):
    /// the bilinear resize stored as Float, then `GaussianFilter` over the full plane.
    func makeMapByPasses(scores: UnsafePointer<Float>, into map: UnsafeMutablePointer<Float>, sigma: Double) {
        BilinearResize.resize(scores, inHeight: gridHeight, inWidth: gridWidth,
                              into: map, outHeight: mapHeight, outWidth: mapWidth)
        if sigma > 0 { GaussianFilter(sigma: sigma).apply(map, height: mapHeight, width: mapWidth) }
    }

    public func makeMap(scores: [Float]) -> [Float] {
        precondition(scores.count == gridHeight * gridWidth, "AnomalyMapMaker: \(scores.count) scores for a \(gridHeight)×\(gridWidth) grid")
        return [Float](unsafeUninitializedCapacity: mapHeight * mapWidth) { buf, n in
            scores.withUnsafeBufferPointer { makeMap(scores: $0.baseAddress!, into: buf.baseAddress!) }
            n = mapHeight * mapWidth
        }
    }
}
