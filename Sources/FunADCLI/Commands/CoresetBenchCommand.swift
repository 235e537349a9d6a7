import ArgumentParser
import Foundation
import FunAD
import FunADBench

/// `funad bench coreset`: PatchCore's greedy coreset with the exhaustive and the pruned
/// search on the same features, in one run (docs/bench.md records its output).
struct CoresetBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coreset",
        abstract: "PatchCore's greedy coreset: exhaustive vs pruned search on the same features (time, pruned share, identical picks).")
    @Option(help: "A feature store (an extract result's train file, e.g. <cache>/entries/<key>/out/train.features); default: seeded clustered features.")
    var features: String?
    @Option(help: "Images of the features to use (default: all of a store, 200 synthetic).") var images: Int?
    @Option(help: "Fraction of the patches kept.") var fraction: Double = 0.1
    @Option(help: "Seed of the projection and the start points.") var seed: Int = 0
    @Flag(help: "Skip the exhaustive search (its time grows with n²: ~20 min at MTD's 656,208 patches).")
    var prunedOnly = false
    @Option(help: "Also run the partitioned greedy on blocks of at most B patches (the patchcore stage's coreset_block), with the coverage of both coresets; BxM adds the second round with M× picks per block (coreset_oversample). Repeatable.")
    var block: [String] = []
    @Option(help: "OpenBLAS threads (the projection and the grouping).") var threads: Int = 2
    @OptionGroup var output: BenchOutput

    func run() throws {
        guard fraction > 0, fraction <= 1 else { throw ValidationFailure("--fraction \(fraction): expected a value in (0, 1]") }
        if let images, images < 1 { throw ValidationFailure("--images \(images): expected at least 1") }
        let blocks = try block.map(Self.parseBlock)
        var report = BenchReport(area: "coreset", threads: threads, output: output)
        let saved = BLAS.threads
        BLAS.threads = threads
        defer { BLAS.threads = saved }
        let source: any PatchFeatureSource
        let what: String
        if let features {
            // An unreadable or malformed store is invalid input (exit 2), not a failed benchmark.
            let reader: FeatureStoreReader
            do { reader = try FeatureStoreReader(url: URL(fileURLWithPath: features)) } catch {
                throw ValidationFailure("--features: \(error)")
            }
            let count = min(images ?? reader.imageCount, reader.imageCount)
            source = try FirstImages(base: reader, count: count)
            what = "\(features) (\(count) of \(reader.imageCount) images)"
        } else {
            source = ClusteredPatchFeatures(imageCount: images ?? 200)
            what = "seeded clustered features (\(images ?? 200) images)"
        }
        let r = try CoresetBench.run(features: source, fraction: fraction, seed: UInt64(seed), reference: !prunedOnly, blockPatches: blocks)
        report.line("\(what): \(r.points) patches × \(r.dimension) → 128, \(r.picks) picks, \(r.groups) groups")
        let detail = "\(r.picks) of \(r.points) patches × \(r.dimension), projected to 128"
        if let t = r.exhaustiveSeconds {
            report.line(String(format: "exhaustive %.2f s", t))
            report.add("coreset_exhaustive", t, "s", higherIsBetter: false, detail: detail)
        }
        report.line(String(format: "pruned     %.2f s (grouping %.2f s), %.2f %% of the distances skipped, %.1f %% of the variance in the head",
                           r.prunedSeconds, r.groupingSeconds, 100 * r.prunedShare, 100 * r.headVarianceShare))
        report.add("coreset_pruned", r.prunedSeconds, "s", higherIsBetter: false, detail: detail)
        report.add("coreset_pruned_share", r.prunedShare, "fraction", higherIsBetter: true, detail: "distances skipped")
        if let t = r.exhaustiveSeconds, let same = r.identical {
            report.line(String(format: "speed-up %.2f×, picks %@", t / r.prunedSeconds, same ? "identical" : "DIFFERENT"))
            report.add("coreset_speedup", t / r.prunedSeconds, "×", higherIsBetter: true, detail: "exhaustive / pruned")
            report.add("coreset_identical", same ? 1 : 0, "bool", higherIsBetter: true, detail: "picks equal in order")
        }
        if let c = r.coverage {
            report.line(String(format: "coverage of %d sampled training patches (distance to the nearest pick, mean / max): one greedy %.4f / %.4f",
                               c.sampledPatches, c.mean, c.maximum))
        }
        for b in r.blocked {
            guard let c = r.coverage else { break }
            report.line(String(format: "blocked    %.2f s: %@", b.seconds, b.summary))
            report.line(String(format: "speed-up %.2f× over pruned%@", r.prunedSeconds / b.seconds,
                               r.exhaustiveSeconds.map { String(format: ", %.2f× over exhaustive", $0 / b.seconds) } ?? ""))
            report.line(String(format: "  coverage (mean / max) %.4f / %.4f, mean %.3f× the one greedy's",
                               b.coverage.mean, b.coverage.maximum, b.coverage.mean / c.mean))
            let name = "coreset_blocked_\(b.blockPatches)" + (b.oversample.map { "x\($0)" } ?? "")
            report.add(name, b.seconds, "s", higherIsBetter: false, detail: b.summary)
            if let t = r.exhaustiveSeconds {
                report.add(name + "_speedup", t / b.seconds, "×", higherIsBetter: true, detail: "exhaustive / blocked")
            }
            report.add(name + "_coverage", b.coverage.mean / c.mean, "×", higherIsBetter: false,
                       detail: "mean distance to the nearest pick, blocks / one greedy")
        }
        report.finish()
    }

    /// `--block B` or `--block BxM`: B ≥ 1 patches per block, M ≥ 2 picks per share.
    static func parseBlock(_ text: String) throws -> (patches: Int, oversample: Int?) {
        let parts = text.split(separator: "x", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let b = Int(parts[0]), b >= 1 else {
            throw ValidationFailure("--block \(text): expected B (patches per block, at least 1) or BxM (M at least 2)")
        }
        guard parts.count == 2 else { return (b, nil) }
        guard let m = Int(parts[1]), m >= 2 else {
            throw ValidationFailure("--block \(text): the oversampling M in BxM must be an integer of at least 2")
        }
        return (b, m)
    }
}

/// The first `count` images of a feature source.
struct FirstImages: PatchFeatureSource {
    let base: any PatchFeatureSource
    let count: Int
    init(base: any PatchFeatureSource, count: Int) throws {
        guard count >= 1, count <= base.imageCount else {
            throw ValidationFailure("--images \(count): the features hold \(base.imageCount) images")
        }
        self.base = base; self.count = count
    }
    var imageCount: Int { count }
    var patchesPerImage: Int { base.patchesPerImage }
    var gridHeight: Int { base.gridHeight }
    var gridWidth: Int { base.gridWidth }
    var dimension: Int { base.dimension }
    func patchFeatures(ofImage index: Int, into buffer: UnsafeMutablePointer<Float>) throws {
        try base.patchFeatures(ofImage: index, into: buffer)
    }
}
