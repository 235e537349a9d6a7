import Foundation
import Testing

/// `funad bench coreset` on its seeded clustered features: both searches run, the pruned
/// one picks what the exhaustive one picks, and a bad option is a usage error.
@Suite struct CoresetBenchCommandTests {
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: String) {
        try CLITests.runCapturingData(arguments)
    }

    @Test func bothSearchesPickTheSamePatches() throws {
        let r = try run(["bench", "coreset", "--images", "3", "--json"])
        #expect(r.status == 0)
        let obj = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(obj["area"] as? String == "coreset")
        let rows = try #require(obj["measurements"] as? [[String: Any]])
        #expect(rows.map { $0["name"] as? String } == ["coreset_exhaustive", "coreset_pruned", "coreset_pruned_share",
                                                       "coreset_speedup", "coreset_identical"])
        #expect(rows.last?["value"] as? Double == 1)
        #expect(r.stderr.contains("2352 patches × 1432 → 128, 235 picks"))
    }

    /// `--block B` and `--block BxM` add the blocked greedy, one and two rounds, each with
    /// its time, speed-ups and coverage; a malformed block is a usage error.
    @Test func blocksInOneAndTwoRounds() throws {
        let r = try run(["bench", "coreset", "--images", "3", "--pruned-only", "--block", "784", "--block", "784x2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let names = (obj["measurements"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(names == ["coreset_pruned", "coreset_pruned_share", "coreset_blocked_784", "coreset_blocked_784_coverage",
                          "coreset_blocked_784x2", "coreset_blocked_784x2_coverage"])
        #expect(r.stderr.contains("3 blocks of ≤ 1 images (≤ 784 patches), union of their picks"))
        #expect(r.stderr.contains("3 blocks of ≤ 1 images (≤ 784 patches) picking 2× their share (470), then the greedy over that union"))
        for bad in ["0", "784x1", "784x", "x2", "7a"] {
            let b = try run(["bench", "coreset", "--images", "3", "--pruned-only", "--block", bad])
            #expect(b.status == 2, "--block \(bad)")
            #expect(b.stderr.hasPrefix("error: --block \(bad): "), "\(b.stderr)")
        }
    }

    @Test func badFractionIsAUsageError() throws {
        let r = try run(["bench", "coreset", "--fraction", "0"])
        #expect(r.status == 2)
        #expect(r.stderr == "error: --fraction 0.0: expected a value in (0, 1]\n")
    }

    /// A file that is not a feature store (truncated, or random bytes) is invalid input:
    /// exit 2 and one line naming the file.
    @Test func malformedFeatureStoreIsInvalidInput() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("funad-bad-\(UUID().uuidString.prefix(8)).features")
        defer { try? FileManager.default.removeItem(at: path) }
        try Data("FUNADFS".utf8).write(to: path)
        let r = try run(["bench", "coreset", "--features", path.path])
        #expect(r.status == 2)
        #expect(r.stderr == "error: --features: \(path.path): not a funad feature store (magic 'FUNADFS' missing)\n")
    }
}
