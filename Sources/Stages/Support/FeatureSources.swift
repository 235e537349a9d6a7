import Foundation
import FunAD

/// Image-level mode (semantic anomaly detection, the paper's CIFAR-10 experiment): one
/// feature per image, the backbone's global vector, as a source with one patch per image.
struct GlobalOnlyFeatures: PatchFeatureSource {
    let store: FeatureStoreReader
    var imageCount: Int { store.imageCount }
    var patchesPerImage: Int { 1 }
    var gridHeight: Int { 1 }
    var gridWidth: Int { 1 }
    var dimension: Int { store.globalDim }

    func patchFeatures(ofImage index: Int, into buffer: UnsafeMutablePointer<Float>) throws {
        let g = try store.global(ofImage: index)
        g.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: g.count) }
    }
}

/// Opens a feature file of an upstream `extract` result at the requested level.
enum FeatureFiles {
    static func open(_ input: URL, file: String, level: String) throws -> any PatchFeatureSource {
        let reader = try FeatureStoreReader(url: input.appendingPathComponent(file))
        return level == "image" ? GlobalOnlyFeatures(store: reader) : reader
    }

    static func reader(_ input: URL, file: String) throws -> FeatureStoreReader {
        try FeatureStoreReader(url: input.appendingPathComponent(file))
    }
}
