import Foundation

/// METHOD.md Pipeline step 1: images → Resize(size, size) (square, bilinear, aspect ratio
/// not kept) → CenterCrop(crop) → [0, 1]; masks → nearest resize → centre crop → binary.
/// The resize runs on the 8-bit image and rounds to uint8, exactly as torchvision's Resize
/// on a PIL image does before ToTensor; the result is therefore within float rounding of
/// `ToTensor(CenterCrop(Resize(img)))`. Normalisation is the backbone's (`Normalization`).
public struct Preprocessor: Sendable {
    public var resize: Int
    public var crop: Int
    /// A mask pixel is a defect when its value (max over channels) is above this.
    /// METHOD.md says binary (> 0); MTD's masks have soft edges, for which its SOURCE.md
    /// suggests > 127. The loader's caller chooses.
    public var maskThreshold: UInt8
    public var decoder: ImageDecoder

    public init(resize: Int = 256, crop: Int = 224, maskThreshold: UInt8 = 0,
                decoder: ImageDecoder = ImageDecoder()) throws {
        guard resize > 0, crop > 0, crop <= resize else {
            throw PreprocessingError(message: "preprocessing: crop \(crop) must be in 1…resize (\(resize))")
        }
        self.resize = resize
        self.crop = crop
        self.maskThreshold = maskThreshold
        self.decoder = decoder
    }

    /// Resize + centre crop of already-decoded 8-bit pixels (gray stays 1 channel).
    public func pixels(_ pixels: PixelBuffer) throws -> PixelBuffer {
        try pixels.resizedBilinear(width: resize, height: resize).centerCropped(width: crop, height: crop)
    }

    /// Decodes and preprocesses one image file: 3 × crop × crop planes in [0, 1].
    public func image(at url: URL) throws -> ImagePlanes {
        try pixels(decoder.decodePixels(at: url)).rgbPlanes()
    }

    /// Decodes and preprocesses a mask: 1 × crop × crop planes of exactly 0 or 1.
    public func mask(at url: URL) throws -> ImagePlanes {
        let gray = try decoder.decodePixels(at: url).grayMax()
        let cropped = try gray.resizedNearest(width: resize, height: resize).centerCropped(width: crop, height: crop)
        let threshold = maskThreshold
        return ImagePlanes(width: crop, height: crop, channels: 1,
                           data: cropped.bytes.map { $0 > threshold ? 1 : 0 })
    }

    /// The all-normal mask (for test images without a mask file, e.g. MVTec's `good`).
    public func emptyMask() -> ImagePlanes {
        ImagePlanes(width: crop, height: crop, channels: 1)
    }

    /// A training image, preprocessed.
    public func image(_ item: UnlabelledItem) throws -> ImagePlanes {
        try image(at: item.path)
    }

    /// An evaluation image, preprocessed.
    public func image(_ item: LabelledItem) throws -> ImagePlanes {
        try image(at: item.path)
    }

    /// An evaluation image's mask: its file if it has one, else all normal.
    public func mask(_ item: LabelledItem) throws -> ImagePlanes {
        guard let url = item.maskPath else { return emptyMask() }
        return try mask(at: url)
    }
}
