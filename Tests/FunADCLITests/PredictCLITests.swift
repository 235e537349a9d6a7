import Foundation
import Testing

/// `funad export` and `funad predict` as a user runs them: exit codes and messages.
@Suite struct PredictCLITests {
    let cli = CLITests()

    @Test func invalidUsageExitsWithTwo() throws {
        let dir = try cli.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try cli.run(["predict"], in: dir).status == 2)
        let missing = try cli.run(["predict", "--model", "nope.funad", "--images", ".", "-o", "out"], in: dir)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nope.funad: no such folder"))
        let policy = try cli.run(["predict", "--model", "nope.funad", "--images", ".", "-o", "out", "--on-bad-image", "maybe"], in: dir)
        #expect(policy.status == 2)
        #expect(policy.stderr.contains("--on-bad-image must be skip or fail"))
        try Data().write(to: dir.appendingPathComponent("a-file"))
        let fileOut = try cli.run(["predict", "--model", "nope.funad", "--images", ".", "-o", "a-file"], in: dir)
        #expect(fileOut.status == 2)
        #expect(fileOut.stderr.contains("a-file is a file; -o names the folder"))
        let export = try cli.run(["export", "no-such-workflow", "-o", "b.funad"], in: dir)
        #expect(export.status == 2)
        #expect(export.stderr.contains("no run record"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
    }

    @Test func exportThenPredictSkipsACorruptImageAndRefusesOtherWeights() throws {
        let dir = try cli.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
        name: tiny
        stages:
          images: {type: demo-data, with: {category: metal, seed: 3, train_good: 8, test_good: 3, test_defective: 3, size: 64}}
          data: {type: load, needs: [images], with: {format: mvtec, contamination: {ratio: 0.25, overlap: true, seed: 5}}}
          features:
            type: extract
            needs: [data]
            with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 40, input_size: 32, batch_size: 4}
          model: {type: train, needs: [features], with: {epochs: 1, batch_size: 4, hidden: [8, 4], checkpoint_every: 0}}
          scores: {type: infer, needs: [model, features], with: {map_size: 32}}
        """.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
        let ran = try cli.run(["run", "tiny.yaml"], in: dir)
        try #require(ran.status == 0, "\(ran.stderr)")
        let export = try cli.run(["export", "tiny", "-o", "tiny.funad"], in: dir)
        try #require(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("local-net model of stage model"))
        #expect(export.stdout.contains("computed at export"))  // no evaluate stage: the built-in rule

        let bad = dir.appendingPathComponent("broken.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0]).write(to: bad)
        let tests = dir.appendingPathComponent(".funad/runs/tiny/latest/outputs/images/dataset/test").resolvingSymlinksInPath()
        let r = try cli.run(["predict", "--model", "tiny.funad", "--images", tests.path, bad.path, "-o", "out"], in: dir)
        #expect(r.status == 1)
        #expect(r.stderr.contains("skipped \(bad.path): corrupt PNG image"))
        let csv = try String(contentsOf: dir.appendingPathComponent("out/scores.csv"), encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 1 + 6)
        #expect(r.stderr.contains("done: 6 of 7 images scored"))

        // The bundle now names a weights digest that no file has: refused, naming both files.
        let manifestURL = dir.appendingPathComponent("tiny.funad/bundle.json")
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as! [String: Any]
        var backbone = manifest["backbone"] as! [String: Any]
        backbone["weightsSHA256"] = String(repeating: "0", count: 64)
        backbone["weightsFile"] = "lite0.safetensors"
        manifest["backbone"] = backbone
        try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)
        try Data("other weights".utf8).write(to: dir.appendingPathComponent("other.safetensors"))
        let refused = try cli.run(["predict", "--model", "tiny.funad", "--images", tests.path, "-o", "out2", "--weights", "other.safetensors"], in: dir)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("other.safetensors have SHA-256"))
        #expect(refused.stderr.contains("tiny.funad/bundle.json expects \(String(repeating: "0", count: 64))"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out2").path))
    }
}
