import Foundation
import Testing

/// `funad cache gc` and `clean` as a user runs them after `funad run-stage` jobs (what an
/// exported Snakefile runs), which write no run record: gc keeps their results and the
/// per-image feature folder their extract used; clean removes both.
@Suite(.serialized) struct CacheGCCLITests {
    let snake = SnakemakeTests()

    static let workflow = """
    name: tiny-gc
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 6, test_good: 2, test_defective: 2, size: 64}}
      data: {type: load, needs: [images], with: {format: mvtec}}
      features: {type: extract, needs: [data], with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 73, input_size: 64, batch_size: 4}}
    """

    func contents(_ url: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    }

    @Test func gcAfterRunStageJobsKeepsTheirResultsAndTheirImageFeaturesAndCleanRemovesBoth() async throws {
        let dir = try CLITests().scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.workflow.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
        for stage in ["images", "data", "features"] {
            let r = try await snake.funad(["run-stage", "tiny.yaml", stage], in: dir)
            try #require(r.status == 0, "run-stage \(stage): \(r.stderr)")
        }
        let cache = dir.appendingPathComponent(".funad/cache")
        let keys = try snake.markerKeys(dir.appendingPathComponent(".funad/markers"))
        #expect(Set(contents(cache.appendingPathComponent("entries"))) == Set(keys.values) && keys.count == 3)
        #expect(contents(cache.appendingPathComponent("image-features")).count == 1)

        let gc = try await snake.funad(["cache", "gc"], in: dir)
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(gc.stdout == """
            removed 0 entries (0 B); kept 3: those named by the latest run record of each workflow (0 records) \
            and by the latest run-stage job of each stage (3 job records)
            image-features: removed 0 of 1 folder (0 B), kept 1 used by kept entries or running jobs

            """)
        #expect(Set(contents(cache.appendingPathComponent("entries"))) == Set(keys.values))
        // The next job finds its result stored (Snakemake's next run needs exactly that).
        let again = try await snake.funad(["run-stage", "tiny.yaml", "features"], in: dir)
        #expect(again.status == 0 && again.stderr.contains("cached (\(keys["features"]!.prefix(12)))"), "\(again.stderr)")

        let help = try await snake.funad(["cache", "gc", "--help"], in: dir)
        let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")  // however the help is wrapped
        #expect(words.contains("the job records of funad run-stage") && words.contains("image-features/<recipe>"), "\(help.stdout)")

        let clean = try await snake.funad(["cache", "clean"], in: dir)
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(clean.stdout.hasPrefix("removed 3 entries ("))
        #expect(clean.stdout.contains("\nimage-features: removed 1 of 1 folder ("))
        #expect(contents(cache.appendingPathComponent("entries")).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: cache.appendingPathComponent("image-features").path))
    }
}
