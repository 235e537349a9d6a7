import Foundation
import FunAD

/// Opens a feature file of an upstream `extract` result at the requested level.
enum FeatureFiles {
    static func open(_ input: URL, file: String, level: String) throws -> any PatchFeatureSource {
        let reader = try FeatureStoreReader(url: input.appendingPathComponent(file))
        // Image-level mode (semantic anomaly detection, the paper's CIFAR-10 experiment):
        // one feature per image, the backbone's global vector.
        return level == "image" ? try ImageLevelFeatures(base: reader, globalDimension: reader.globalDim) : reader
    }

    static func reader(_ input: URL, file: String) throws -> FeatureStoreReader {
        try FeatureStoreReader(url: input.appendingPathComponent(file))
    }
}
