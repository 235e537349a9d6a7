/// Per-channel `(x − mean) / std`, as torchvision's `Normalize`. The constants belong to
/// the backbone (METHOD.md, Pipeline step 2): DINO uses ImageNet's, EfficientNet-Lite
/// uses its own, so this type takes them as values rather than baking them in.
public struct Normalization: Sendable, Equatable {
    public let mean: [Float]
    public let std: [Float]

    /// ImageNet mean/std (DINO, most torchvision backbones).
    public static let imageNet = Normalization(uncheckedMean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// Throws if the lists differ in length, are empty, or a std is not positive.
    public init(mean: [Float], std: [Float]) throws {
        guard !mean.isEmpty, mean.count == std.count else {
            throw PreprocessingError(message: "normalisation: mean has \(mean.count) values and std \(std.count); "
                                     + "expected one of each per channel")
        }
        guard std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw PreprocessingError(message: "normalisation: std must be finite and > 0, got \(std)")
        }
        self.mean = mean
        self.std = std
    }

    private init(uncheckedMean mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// Normalises planes in place. Throws if the channel count differs from the constants'.
    public func apply(to planes: inout ImagePlanes) throws {
        guard planes.channels == mean.count else {
            throw PreprocessingError(message: "normalisation has \(mean.count) channels, image has \(planes.channels)")
        }
        let n = planes.width * planes.height
        planes.data.withUnsafeMutableBufferPointer { d in
            for c in 0..<mean.count {
                let m = mean[c], s = std[c]
                for i in (c * n)..<((c + 1) * n) { d[i] = (d[i] - m) / s }
            }
        }
    }

    public func applied(to planes: ImagePlanes) throws -> ImagePlanes {
        var out = planes
        try apply(to: &out)
        return out
    }
}
