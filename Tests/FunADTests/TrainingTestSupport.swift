import Foundation
@testable import FunAD

/// Test helpers shared by the Local-Net / training suites.
enum TrainingTestSupport {
    static func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("train/\(name)")
    }

    /// Local-Net forward in Double, written independently of the Float kernels:
    /// one explicit loop per layer. Returns (adapted, scores).
    static func referenceForward(_ params: [Double], shape: LocalNetShape, x: [Double], rows: Int) -> (adapted: [Double], scores: [Double]) {
        let (d, h1, h2) = (shape.dimension, shape.hidden1, shape.hidden2)
        var o = 0
        func take(_ n: Int) -> ArraySlice<Double> { defer { o += n }; return params[o..<(o + n)] }
        let w0 = Array(take(d * d)), b0 = Array(take(d)), w1 = Array(take(h1 * d)), b1 = Array(take(h1))
        let w2 = Array(take(h2 * h1)), b2 = Array(take(h2)), w3 = Array(take(h2)), b3 = Array(take(1))
        func lrelu(_ v: Double) -> Double { v > 0 ? v : 0.2 * v }
        func layer(_ input: [Double], _ w: [Double], _ b: [Double], _ i: Int, _ out: Int) -> [Double] {
            var y = [Double](repeating: 0, count: out)
            for r in 0..<out {
                var s = b[r]
                for k in 0..<i { s += w[r * i + k] * input[k] }
                y[r] = s
            }
            return y
        }
        var adapted: [Double] = [], scores: [Double] = []
        for r in 0..<rows {
            let xr = Array(x[(r * d)..<((r + 1) * d)])
            let a = layer(xr, w0, b0, d, d).map(lrelu)
            let u = layer(a, w1, b1, d, h1).map(lrelu)
            let v = layer(u, w2, b2, h1, h2).map(lrelu)
            let z = layer(v, w3, b3, h2, 1)[0]
            adapted += a
            scores.append(1 / (1 + Foundation.exp(-z)))
        }
        return (adapted, scores)
    }

    /// Image AUROC by the Mann–Whitney statistic (ties count one half).
    static func auroc(scores: [Float], positives: [Bool]) -> Double {
        let pos = scores.indices.filter { positives[$0] }.map { scores[$0] }
        let neg = scores.indices.filter { !positives[$0] }.map { scores[$0] }
        var wins = 0.0
        for p in pos { for n in neg { wins += p > n ? 1 : (p == n ? 0.5 : 0) } }
        return wins / Double(pos.count * neg.count)
    }

    /// Patch-level toy set: normal patches N(0, I), anomalous images carry `anomalousPatches`
    /// patches from N(shift, 2I). Returns the source and which images are anomalous.
    static func patchSet(images: Int, anomalous: Int, gridSide: Int, dimension: Int, anomalousPatches: Int,
                         seed: UInt64) -> (InMemoryPatchFeatures, [Bool]) {
        var rng = Xoshiro256StarStar(seed: seed)
        let p = gridSide * gridSide
        var values = [Float](repeating: 0, count: images * p * dimension)
        var isAnomalous = [Bool](repeating: false, count: images)
        for i in 0..<images {
            isAnomalous[i] = i < anomalous
            for j in 0..<p {
                let bad = isAnomalous[i] && j < anomalousPatches
                for k in 0..<dimension {
                    let g = Float(rng.nextGaussian())
                    let v: Float = bad ? 1.5 + Float(2).squareRoot() * g : g
                    values[(i * p + j) * dimension + k] = v
                }
            }
        }
        return (InMemoryPatchFeatures(imageCount: images, gridHeight: gridSide, gridWidth: gridSide, dimension: dimension, values: values), isAnomalous)
    }
}

extension TrainingMoment {
    /// A moment for calling policies directly in tests (the paper's rules ignore it).
    static let test = TrainingMoment(epoch: 0, epochs: 1, globalIteration: 0, imageCount: 0)
}
