import Foundation
import FunAD
import Workflow

/// `load`: reads a dataset layout, checks every image, applies the contamination
/// protocol (METHOD.md), and writes the unlabelled training list, the labelled test list
/// and the contamination audit as separate files.
struct LoadStage: StageType {
    let declaration = StageDeclaration(
        type: "load", version: 1,
        summary: "load a dataset (mvtec, visa, mtd, generic folders or CSV) and apply the contamination protocol",
        optionallyConsumes: [Artifact.imageFolder], produces: [Artifact.dataset],
        parameters: [
            .init("format", .choice(["mvtec", "visa", "mtd", "generic", "generic-csv", "semantic"]), required: true,
                  help: "dataset layout (semantic: train/<class>/ and test/<class>/, one class normal, the rest anomalous)"),
            // No declared default, so that load stages of other formats keep their cache keys.
            .init("normal_class", .string,
                  help: "semantic: the class folder that is normal; ⌊ratio · N_normal⌋ training images of the other classes join it, unlabelled"),
            .init("root", .inputPath,
                  help: "dataset folder (MVTec: the category folder; VisA: the VisA root; generic-csv: the CSV file); default: the upstream image folder"),
            .init("category", .string, default: .string(""), help: "VisA category (e.g. pcb1); MVTec: subfolder of an upstream image folder"),
            .init("split", .object([
                .init("train_fraction", .double(range: 0.01...0.99), default: .double(0.8), help: "defect-free images used for training (MTD, generic)"),
                .init("seed", .int(range: 0...Int.max), default: .int(0), help: "seed of the train/test split"),
            ]), help: "train/test split for layouts that have none"),
            .init("contamination", .object([
                .init("ratio", .double(range: 0...1), default: .double(0), help: "r: defective test images moved into training, as a fraction of N_train_good"),
                .init("overlap", .bool, default: .bool(false), help: "keep the moved images in the test set too"),
                .init("seed", .int(range: 0...Int.max), default: .int(0), help: "seed of the draw"),
            ]), help: "SoftPatch contamination protocol"),
            .init("on_bad_image", .choice(["fail", "skip"]), default: .string("fail"),
                  help: "unreadable image files: stop listing them all, or leave them out and list them"),
            .init("check", .choice(["decode", "header"]), default: .string("decode"),
                  help: "how thoroughly image files are checked at load time"),
        ])

    func run(_ context: StageContext) async throws {
        let p = context.parameters
        let root: URL
        if let path = p.optionalString("root") {
            root = URL(fileURLWithPath: path)
        } else if let upstream = context.optionalInput(Artifact.imageFolder) {
            root = upstream.directory.appendingPathComponent("dataset")
        } else {
            throw StageError("parameter 'root' is not set and no upstream stage provides an image folder")
        }
        let split = try SeededSplit(trainFraction: p.double("split.train_fraction"), seed: UInt64(p.int("split.seed")))
        let dataset: Dataset
        var semantic: (draw: SemanticContamination, drawn: [DatasetItem], classes: [String])? = nil
        switch p.string("format") {
        case "mvtec":
            let category = p.string("category")
            dataset = try DatasetLoader.mvtec(category: category.isEmpty ? root : root.appendingPathComponent(category))
        case "visa":
            let category = p.string("category")
            dataset = try DatasetLoader.visa(root: root, category: category.isEmpty ? nil : category)
        case "mtd": dataset = try DatasetLoader.mtd(root: root, split: split)
        case "generic": dataset = try DatasetLoader.genericFolders(root: root, split: split)
        case "semantic":
            guard let normal = p.optionalString("normal_class"), !normal.isEmpty else {
                throw StageError("format 'semantic' needs the parameter 'normal_class' (the class folder under train/ that is normal)")
            }
            if p.bool("contamination.overlap") {
                throw StageError("parameter 'contamination.overlap' has no meaning for format 'semantic': the anomalies are drawn from the other classes' training images, never from the test set; leave it false")
            }
            let listing = try SemanticFolders.list(root: root, normalClass: normal)
            let draw = try SemanticContamination(ratio: p.double("contamination.ratio"), seed: UInt64(p.int("contamination.seed")))
            let drawn = try draw.draw(from: listing.pool, normalCount: listing.dataset.count(split: .train))
            semantic = (draw, drawn, listing.classes)
            dataset = Dataset(layout: "semantic", root: root, items: listing.dataset.items + drawn)
        default: dataset = try DatasetLoader.genericCSV(file: root, split: split)
        }
        context.log("loaded \(dataset.items.count) items from \(root.path) (\(dataset.layout))")

        let policy = BadImagePolicy(rawValue: p.string("on_bad_image"))!
        let depth = DatasetValidation.Depth(rawValue: p.string("check"))!
        let report = try DatasetValidation(depth: depth, policy: policy, threads: 2).run(dataset)
        for bad in report.skipped { context.announce("skipped: \(bad)") }

        let contamination = try ContaminationProtocol(ratio: p.double("contamination.ratio"),
                                                      overlap: p.bool("contamination.overlap"),
                                                      seed: UInt64(p.int("contamination.seed")))
        let result: ContaminatedDataset
        if let semantic {
            let kept = Set(report.dataset.items.map(\.id))
            result = try semantic.draw.apply(to: report.dataset, drawn: semantic.drawn.filter { kept.contains($0.id) })
            context.record("semantic", ["normal_class": p.string("normal_class"), "classes": semantic.classes])
        } else {
            result = try contamination.apply(to: report.dataset)
        }
        let artifact = DatasetArtifact(train: result.train, test: result.test, audit: result.audit, synthetic: [])
        try artifact.write(to: context.outputDirectory)
        try report.dataset.countsDescription.write(to: context.outputDirectory.appendingPathComponent("counts.txt"),
                                                   atomically: true, encoding: .utf8)
        if let record = report.dataset.splitRecord {
            try JSONFiles.write(record, to: context.outputDirectory.appendingPathComponent("split.json"))
        }
        context.log("counts\n\(report.dataset.countsDescription)")
        let anomalousTest = result.test.filter { $0.label == .anomalous }.count
        context.announce("\(result.train.count) training images (\(result.audit.noiseCount) moved defective, unlabelled), \(result.test.count) test images (\(anomalousTest) defective)")
        context.record("layout", dataset.layout)
        context.record("train_images", result.train.count)
        context.record("test_images", result.test.count)
        context.record("test_defective", anomalousTest)
        context.record("contamination", ["ratio": result.audit.ratio, "overlap": result.audit.overlap,
                                         "seed": Int(result.audit.seed), "n_noise": result.audit.noiseCount,
                                         "moved": result.audit.movedIDs])
        if let record = report.dataset.splitRecord {
            context.record("split", ["seed": Int(record.seed), "train_fraction": record.trainFraction, "train_ids": record.trainIDs.count])
        }
        context.record("skipped_images", report.skipped.map(\.description))
    }
}
