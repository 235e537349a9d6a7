import ArgumentParser
import Foundation
import FunAD
import Stages

struct WeightsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights", abstract: "Import or download backbone weights.",
        subcommands: [Import.self, Fetch.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Convert a PyTorch checkpoint (.pth, zip or legacy format) to checked safetensors, without Python.")
        @Argument(help: "The checkpoint file.") var file: String
        @Option(help: "Architecture: \(WeightsTool.architectures.joined(separator: ", ")).") var arch: String
        @Option(name: .shortAndLong, help: "Output .safetensors file.") var output: String
        @Option(help: "Key prefix to select (e.g. teacher.backbone. in a DINO training checkpoint).") var prefix: String?

        func run() throws {
            do {
                let s = try WeightsTool.importCheckpoint(from: URL(fileURLWithPath: file), arch: arch, prefix: prefix,
                                                         to: URL(fileURLWithPath: output))
                print("\(output): \(s.arch), \(s.tensors) tensors, \(s.parameters) parameters")
                if !s.ignored.isEmpty { print("  not needed by \(s.arch) and left out: \(s.ignored.prefix(8).joined(separator: ", "))\(s.ignored.count > 8 ? ", …" : "")") }
                for n in s.notes.prefix(5) { print("  note: \(n)") }
            } catch let e as WeightsError {
                throw ValidationFailure(e.description)
            }
        }
    }

    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fetch", abstract: "Download an official DINO checkpoint and import it.")
        @Argument(help: "dino_vits8, dino_vitb8, dino_vits16 or dino_vitb16.") var arch: String
        @Option(name: .shortAndLong, help: "Output .safetensors file (default: weights/ARCH.safetensors).") var output: String?

        func run() async throws {
            let out = URL(fileURLWithPath: output ?? "weights/\(arch).safetensors")
            try? FileManager.default.createDirectory(at: out.deletingLastPathComponent(), withIntermediateDirectories: true)
            let pth = out.deletingPathExtension().appendingPathExtension("pth")
            do {
                _ = try await WeightsTool.fetch(arch, to: pth)
                let s = try WeightsTool.importCheckpoint(from: pth, arch: arch, prefix: nil, to: out)
                print("\(out.path): \(s.arch), \(s.tensors) tensors (checkpoint kept at \(pth.path))")
            } catch let e as WeightsError {
                throw ValidationFailure(e.description)
            }
        }
    }
}

/// Bad input reported as one line with exit code 2.
struct ValidationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
