/// Heat-map overlays for reports: image | ground truth | map blended over the image,
/// side by side, as a 3×H×3W `ImagePlanes` in [0, 1] (the lead writes it as PNG).
public enum Overlay {
    /// A jet-like colormap: blue → cyan → yellow → red for t ∈ [0, 1]
    /// (matplotlib's 'jet' as the piecewise-linear approximation r,g,b = clamp(1.5 − |4t − k|), k = 3, 2, 1).
    public static func jet(_ t: Float) -> (Float, Float, Float) {
        let t = min(max(t, 0), 1)
        func c(_ k: Float) -> Float { min(max(1.5 - abs(4 * t - k), 0), 1) }
        return (c(3), c(2), c(1))
    }

    /// Range for colouring: min and max over all maps, so colours compare across images.
    public static func scoreRange(_ maps: any AnomalyMapSource) -> ClosedRange<Float> {
        var lo = Float.infinity, hi = -Float.infinity
        var buf = [Float](repeating: 0, count: maps.height * maps.width)
        for i in 0..<maps.count {
            buf.withUnsafeMutableBufferPointer { maps.map(i, into: $0.baseAddress!) }
            for v in buf where !v.isNaN { lo = min(lo, v); hi = max(hi, v) }
        }
        return lo <= hi ? lo...hi : 0...1
    }

    /// The same for a map of another size than the image (`predict` scores maps at the
    /// scoring's `map_size`, which need not be the backbone's input size): the map is
    /// resized bilinearly to the image first, as the evaluation resizes maps to masks.
    public static func render(name: String, image: ImagePlanes, mask: ImagePlanes?, map: [Float], mapHeight: Int, mapWidth: Int,
                              range: ClosedRange<Float>, alpha: Float = 0.5) throws -> ImagePlanes {
        guard mapHeight >= 1, mapWidth >= 1, map.count == mapHeight * mapWidth else {
            throw EvaluationError("overlay: the map of image '\(name)' holds \(map.count) values, not \(mapWidth)×\(mapHeight)")
        }
        guard mapHeight != image.height || mapWidth != image.width else {
            return try render(name: name, image: image, mask: mask, map: map, range: range, alpha: alpha)
        }
        var fitted = [Float](repeating: 0, count: image.height * image.width)
        map.withUnsafeBufferPointer { m in
            fitted.withUnsafeMutableBufferPointer { f in
                BilinearResize.resize(m.baseAddress!, inHeight: mapHeight, inWidth: mapWidth,
                                      into: f.baseAddress!, outHeight: image.height, outWidth: image.width)
            }
        }
        return try render(name: name, image: image, mask: mask, map: fitted, range: range, alpha: alpha)
    }

    /// - image: 1 or 3 channels, H×W, values in [0, 1] (the cropped test image).
    /// - mask: optional ground truth, H×W, > 0 ⇒ defect (shown white on the darkened image).
    /// - map: H×W scores, coloured over `range` and blended with weight `alpha`.
    public static func render(name: String, image: ImagePlanes, mask: ImagePlanes?, map: [Float],
                              range: ClosedRange<Float>, alpha: Float = 0.5) throws -> ImagePlanes {
        let h = image.height, w = image.width
        guard image.channels == 1 || image.channels == 3 else {
            throw EvaluationError("overlay: image '\(name)' has \(image.channels) channels; expected 1 or 3")
        }
        guard map.count == h * w else {
            throw EvaluationError("overlay: image '\(name)' is \(w)×\(h) but its map holds \(map.count) values")
        }
        if let mask, mask.width != w || mask.height != h {
            throw EvaluationError("overlay: mask of image '\(name)' is \(mask.width)×\(mask.height); the image is \(w)×\(h)")
        }
        var out = ImagePlanes(width: 3 * w, height: h, channels: 3)
        let span = range.upperBound - range.lowerBound
        for y in 0..<h {
            for x in 0..<w {
                let defect = (mask?[0, y, x] ?? 0) > 0
                let heat = jet(span > 0 ? (map[y * w + x] - range.lowerBound) / span : 0)
                for c in 0..<3 {
                    let px = image[image.channels == 3 ? c : 0, y, x]
                    let hc = c == 0 ? heat.0 : (c == 1 ? heat.1 : heat.2)
                    out[c, y, x] = px
                    out[c, y, w + x] = defect ? 1 : 0.4 * px
                    out[c, y, 2 * w + x] = (1 - alpha) * px + alpha * hc
                }
            }
        }
        return out
    }
}

extension Overlay {
    /// Image extensions dropped from an id before ".png" is appended.
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"]

    /// `NN-role-rank-id.png` for the `order`-th overlay (1-based): the id's "/" become "_"
    /// and image extensions at its end are dropped, so that "crack/003.png" gives
    /// "01-missed-defect-1-crack_003.png" and every name ends in exactly one ".png".
    public static func fileName(order: Int, pick: OverlayPick, id: String) -> String {
        var stem = id.replacingOccurrences(of: "/", with: "_")
        while let dot = stem.lastIndex(of: "."), imageExtensions.contains(stem[stem.index(after: dot)...].lowercased()) {
            stem = String(stem[..<dot])
        }
        return String(format: "%02d-%@-%d-%@.png", order, pick.role.rawValue, pick.rank, stem)
    }
}

/// Which test images get an overlay, most informative first.
public struct OverlayPick: Sendable, Equatable {
    public enum Role: String, Sendable {
        /// Anomalous image with the lowest score among anomalous images (worst miss).
        case missedDefect = "missed-defect"
        /// Normal image with the highest score among normal images (worst false alarm).
        case falseAlarm = "false-alarm"
        /// Anomalous image with the highest score (best detection).
        case bestDetection = "best-detection"
    }
    public var index: Int
    public var role: Role
    /// 1 for the most extreme image of its role, 2 for the next, …
    public var rank: Int
}

public enum OverlaySelection {
    /// Picks `count` images, round-robin over three ranked lists — anomalous images by
    /// ascending score (worst misses), normal images by descending score (worst false
    /// alarms), anomalous images by descending score (best detections) — so the first
    /// overlays show the worst and the best cases. An image is picked at most once;
    /// ties in score are broken by index.
    public static func choose(isAnomalous: [Bool], imageScores: [Float], count: Int) -> [OverlayPick] {
        let idx = Array(imageScores.indices)
        let anomalous = idx.filter { isAnomalous[$0] }
        let normal = idx.filter { !isAnomalous[$0] }
        let lists: [(OverlayPick.Role, [Int])] = [
            (.missedDefect, anomalous.sorted { (imageScores[$0], $0) < (imageScores[$1], $1) }),
            (.falseAlarm, normal.sorted { (imageScores[$0], -$0) > (imageScores[$1], -$1) }),
            (.bestDetection, anomalous.sorted { (imageScores[$0], -$0) > (imageScores[$1], -$1) }),
        ]
        var picked = Set<Int>(), out = [OverlayPick]()
        var cursor = [0, 0, 0]
        let want = min(count, imageScores.count)
        while out.count < want {
            var progressed = false
            for (l, (role, list)) in lists.enumerated() where out.count < want {
                while cursor[l] < list.count && picked.contains(list[cursor[l]]) { cursor[l] += 1 }
                guard cursor[l] < list.count else { continue }
                let i = list[cursor[l]]
                cursor[l] += 1
                picked.insert(i)
                out.append(OverlayPick(index: i, role: role, rank: cursor[l]))
                progressed = true
            }
            if !progressed { break }
        }
        return out
    }
}
