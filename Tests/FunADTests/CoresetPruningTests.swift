import Foundation
import Testing
@testable import FunAD

/// The pruned greedy coreset search against the exhaustive reference: the same picks, in
/// the same order, on data built to stress its bound and its tie-breaking (clusters,
/// duplicates, integer grids with many equal distances, collinear points where the
/// triangle inequality is tight) and on degenerate inputs.
@Suite struct CoresetPruningTests {
    /// Seeded Gaussian clusters of different spreads, in k dims, with every 7th point a
    /// copy of an earlier one.
    func clustered(n: Int, k: Int, clusters: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let centres = (0..<(clusters * k)).map { _ in Float(rng.nextUnit() * 20 - 10) }
        let spreads = (0..<clusters).map { _ in Float(0.05 + rng.nextUnit() * 2) }
        var x = [Float](repeating: 0, count: n * k)
        for i in 0..<n {
            if i % 7 == 6 {
                let j = rng.nextIndex(below: i)
                for t in 0..<k { x[i * k + t] = x[j * k + t] }
                continue
            }
            let c = rng.nextIndex(below: clusters)
            for t in 0..<k { x[i * k + t] = centres[c * k + t] + spreads[c] * Float(rng.nextGaussian()) }
        }
        return x
    }

    /// Both searches on the same points; returns the pruned run's statistics.
    @discardableResult
    func expectSamePicks(_ x: [Float], n: Int, k: Int, anchors: [Int], target: Int, groups: Int? = nil,
                         threads: Int = 2, _ label: String) -> CoresetStatistics {
        let reference = CoresetSampler.greedy(x, count: n, dimension: k, anchors: anchors, select: target, progress: { _ in })
        var copy = x
        let stats = CoresetStatistics()
        let pruned = PrunedGreedy.select(&copy, count: n, dimension: k, anchors: anchors, select: target,
                                         groups: groups, threads: threads, statistics: stats, progress: { _ in })
        #expect(pruned.count == target, "\(label)")
        #expect(pruned == reference, "\(label): first difference at pick \(zip(pruned, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
        return stats
    }

    @Test func sameOrderOnClusteredPointsWithDuplicates() {
        for (k, groups) in [(16, 40), (128, 12), (13, 25), (8, 1)] {
            let n = 6000
            let x = clustered(n: n, k: k, clusters: 30, seed: UInt64(k))
            let stats = expectSamePicks(x, n: n, k: k, anchors: [3, 1000, 4321], target: 900, groups: groups, "k=\(k) groups=\(groups)")
            // Well-separated clusters: most distances need not be computed (the exhaustive
            // search computes n · 899 of them).
            if groups > 1 { #expect(stats.prunedShare > 0.5, "k=\(k): pruned \(stats.prunedShare)") }
            #expect(stats.distancesComputed <= stats.exhaustiveDistances)
        }
    }

    /// Integer coordinates in a small box: many points at exactly equal distances, so the
    /// argmax ties must go to the lowest original index in both searches.
    @Test func sameOrderOnAnIntegerGridWithTies() {
        let n = 5000, k = 8
        var rng = SplitMix64(seed: 99)
        let x = (0..<(n * k)).map { _ in Float(rng.nextIndex(below: 4)) }
        expectSamePicks(x, n: n, k: k, anchors: [0, 1], target: 700, groups: 30, "grid")
    }

    /// Points on one line: ‖p − c‖ = |‖c − μ‖ − ‖p − μ‖| exactly for points on one side,
    /// so the bound is tight and only its float margin keeps a skip safe.
    @Test func sameOrderOnCollinearPoints() {
        let n = 3000, k = 16
        var rng = SplitMix64(seed: 5)
        let direction = (0..<k).map { _ in Float(rng.nextUnit() - 0.5) }
        var x = [Float](repeating: 0, count: n * k)
        for i in 0..<n {
            let t = Float(rng.nextIndex(below: 997)) * 0.37 - 150
            for j in 0..<k { x[i * k + j] = t * direction[j] + 3 }
        }
        expectSamePicks(x, n: n, k: k, anchors: [7], target: 600, groups: 20, "collinear")
    }

    @Test func degenerateInputs() {
        // Fewer points than groups.
        let few = clustered(n: 5, k: 8, clusters: 2, seed: 1)
        expectSamePicks(few, n: 5, k: 8, anchors: [0, 4], target: 5, groups: 16, "n < groups")
        // All points equal: every distance is 0, and the reference then picks index 0 again and again.
        let equal = [Float](repeating: 1.5, count: 300 * 24)
        expectSamePicks(equal, n: 300, k: 24, anchors: [10, 20], target: 30, groups: 7, "all equal")
        var equalCopy = equal
        #expect(PrunedGreedy.select(&equalCopy, count: 300, dimension: 24, anchors: [10, 20], select: 3, progress: { _ in }) == [0, 0, 0])
        // One point; one pick; every point picked; k not a multiple of 8.
        expectSamePicks([2, 3, 4], n: 1, k: 3, anchors: [0], target: 1, "one point")
        let small = clustered(n: 200, k: 5, clusters: 4, seed: 2)
        expectSamePicks(small, n: 200, k: 5, anchors: [1], target: 1, groups: 9, "one pick")
        expectSamePicks(small, n: 200, k: 5, anchors: [1, 2], target: 200, groups: 9, "all picked")
    }

    /// Large inputs split the groups over two workers: the same picks as one worker.
    @Test func twoWorkersEqualOne() {
        let n = 40000, k = 16
        let x = clustered(n: n, k: k, clusters: 50, seed: 3)
        let one = expectSamePicks(x, n: n, k: k, anchors: [9], target: 300, threads: 1, "one worker")
        let two = expectSamePicks(x, n: n, k: k, anchors: [9], target: 300, threads: 2, "two workers")
        #expect(one.distancesComputed == two.distancesComputed)
    }

    /// Values the bound cannot trust run the reference (and say so).
    @Test func untrustedValuesFallBackToTheReference() {
        var x = clustered(n: 500, k: 8, clusters: 3, seed: 4)
        x[17] = .infinity
        let stats = expectSamePicks(x, n: 500, k: 8, anchors: [0], target: 20, groups: 5, "infinite value")
        #expect(stats.fellBack)
        #expect(!expectSamePicks(clustered(n: 500, k: 8, clusters: 3, seed: 4), n: 500, k: 8, anchors: [0], target: 20, "finite").fellBack)
        // Isotropic noise in 128-d: about half the variance in the 64 head directions, too
        // little for the bound to pay, so the reference runs.
        var rng = SplitMix64(seed: 8)
        let noise = (0..<(3000 * 128)).map { _ in Float(rng.nextGaussian()) }
        let isotropic = expectSamePicks(noise, n: 3000, k: 128, anchors: [0, 1], target: 50, "isotropic")
        #expect(isotropic.fellBack && isotropic.headVarianceShare < 0.8)
        let structured = expectSamePicks(clustered(n: 3000, k: 128, clusters: 20, seed: 9), n: 3000, k: 128, anchors: [0], target: 50, "clustered")
        #expect(!structured.fellBack && structured.headVarianceShare > 0.9)
    }

    /// The in-place reorder leaves row p holding the original row order[p]; every group's
    /// head-space ball holds its members' head coordinates.
    @Test func layoutReordersRowsAndBoundsGroups() {
        let n = 2000, k = 40
        let x = clustered(n: n, k: k, clusters: 10, seed: 6)
        var moved = x
        let start = [Float](repeating: 1, count: n)
        let layout = x.withUnsafeBufferPointer { GroupedPoints(points: $0.baseAddress!, count: n, dimension: k, groups: 15, start: start) }
        moved.withUnsafeMutableBufferPointer { layout.reorder($0) }
        #expect(Set(layout.order.map { Int($0) }) == Set(0..<n))
        for pos in 0..<n {
            let i = Int(layout.order[pos])
            #expect(Array(moved[(pos * k)..<((pos + 1) * k)]) == Array(x[(i * k)..<((i + 1) * k)]))
            #expect(Int(layout.position[i]) == pos)
        }
        #expect(layout.headDimension == 40 && layout.headStride == 40 && layout.groupStart.last == n)
        let hs = layout.headStride
        for g in 0..<layout.groupCount {
            #expect(layout.groupStart[g] < layout.groupStart[g + 1])
            for pos in layout.groupStart[g]..<layout.groupStart[g + 1] {
                var s = 0.0
                for t in 0..<hs { let v = Double(layout.head[pos * hs + t]) - Double(layout.ballCentre[g * hs + t]); s += v * v }
                #expect(s.squareRoot() <= Double(layout.ballRadius[g]) * 1.0001)
            }
        }
    }

    /// The head is a rotation: for a point pair its head distance never exceeds the full
    /// distance (beyond the rounding radius), and on points spread along 3 directions the
    /// first 3 head coordinates carry the whole distance.
    @Test func headDistanceIsALowerBound() {
        let n = 500, k = 24
        var rng = SplitMix64(seed: 21)
        let basis = (0..<(3 * k)).map { _ in Float(rng.nextGaussian()) }
        var x = [Float](repeating: 0, count: n * k)
        for i in 0..<n {
            let w = (0..<3).map { _ in Float(rng.nextGaussian() * 4) }
            for t in 0..<k { x[i * k + t] = w[0] * basis[t] + w[1] * basis[k + t] + w[2] * basis[2 * k + t] + 7 }
        }
        let head = x.withUnsafeBufferPointer { CoresetHead(points: $0.baseAddress!, count: n, dimension: k, head: 8) }
        #expect(head.dimension == 8 && head.stride == 8)
        for (i, j) in [(0, 1), (5, 400), (77, 78), (13, 250)] {
            var full = 0.0, first3 = 0.0, all = 0.0
            for t in 0..<k { let v = Double(x[i * k + t]) - Double(x[j * k + t]); full += v * v }
            for t in 0..<8 {
                let v = Double(head.coordinates[i * 8 + t]) - Double(head.coordinates[j * 8 + t])
                all += v * v; if t < 3 { first3 += v * v }
            }
            let slack = Double(head.errorRadius[i] + head.errorRadius[j])
            #expect(all.squareRoot() <= full.squareRoot() + slack + 1e-6)
            #expect(abs(first3.squareRoot() - full.squareRoot()) <= 1e-3 * full.squareRoot() + 1e-4)
        }
    }

    /// Jacobi eigenvectors: orthonormal columns with A·v = λ·v on a seeded symmetric matrix.
    @Test func jacobiEigenDecomposition() {
        let n = 12
        var rng = SplitMix64(seed: 2)
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in i..<n { let v = rng.nextGaussian(); a[i * n + j] = v; a[j * n + i] = v } }
        let (values, vectors) = CoresetHead.symmetricEigen(a, size: n)
        for c in 0..<n {
            for r in 0..<n {
                var av = 0.0
                for t in 0..<n { av += a[r * n + t] * vectors[t * n + c] }
                #expect(abs(av - values[c] * vectors[r * n + c]) < 1e-9)
            }
            for c2 in 0..<n {
                var dot = 0.0
                for t in 0..<n { dot += vectors[t * n + c] * vectors[t * n + c2] }
                #expect(abs(dot - (c == c2 ? 1 : 0)) < 1e-12)
            }
        }
    }

    /// Through the public API: both searches give the same picks on projected 1536-d
    /// clustered features, and the default is the pruned one.
    @Test func samplerSearchesAgree() throws {
        let images = 12, p = 49, d = 160
        let x = clustered(n: images * p, k: d, clusters: 9, seed: 8)
        let features = InMemoryPatchFeatures(imageCount: images, gridHeight: 7, gridWidth: 7, dimension: d, values: x)
        let exhaustive = try CoresetSampler(fraction: 0.25, projectionDimension: 32, seed: 11, search: .exhaustive).select(from: features)
        let stats = CoresetStatistics()
        let pruned = try CoresetSampler(fraction: 0.25, projectionDimension: 32, seed: 11).select(from: features, statistics: stats)
        #expect(CoresetSampler(fraction: 0.1, seed: 0).search == .pruned)
        #expect(pruned == exhaustive && pruned.count == 147)
        #expect(stats.points == images * p && stats.picks == 147 && stats.groups >= 1)
    }
}
