import Foundation
import FunAD
import Workflow

/// `demo-data`: generates the built-in inspection set (procedural textured surfaces with
/// scratches, cracks, blobs and spots, and their pixel masks) in the MVTec AD layout, so
/// the main job runs on a fresh machine with nothing to download.
struct DemoDataStage: StageType {
    let declaration = StageDeclaration(
        type: "demo-data", version: 1,
        summary: "generate the built-in demo inspection set (MVTec layout, with masks)",
        produces: [Artifact.imageFolder],
        parameters: [
            .init("category", .choice(DemoCategory.allCases.map(\.rawValue)), default: .string(DemoCategory.allCases[0].rawValue), help: "surface kind"),
            .init("seed", .int(range: 0...Int.max), default: .int(0), help: "seed of every image"),
            .init("train_good", .int(range: 1...100_000), default: .int(80), help: "defect-free training images"),
            .init("test_good", .int(range: 0...100_000), default: .int(20), help: "defect-free test images"),
            .init("test_defective", .int(range: 0...100_000), default: .int(30), help: "defective test images (cycling through the defect kinds)"),
            .init("size", .int(range: 64...2048), default: .int(256), help: "image side in pixels (a multiple of 64)"),
        ])

    func run(_ context: StageContext) async throws {
        let p = context.parameters
        let summary = try DemoDataset.generate(
            at: context.outputDirectory.appendingPathComponent("dataset"),
            category: DemoCategory(rawValue: p.string("category"))!, seed: UInt64(p.int("seed")),
            counts: .init(trainGood: p.int("train_good"), testGood: p.int("test_good"), defective: p.int("test_defective")),
            size: p.int("size"))
        context.announce("\(summary.trainGood) training and \(summary.testGood + summary.defective.values.reduce(0, +)) test images of \(summary.category.rawValue)")
        context.record("seed", p.int("seed"))
        context.record("defective", summary.defective)
    }
}
