/// An 8-bit image with interleaved channels (`height × width × channels`, row-major):
/// the form the decoders produce and the form Pillow resamples in. Keeping the 8-bit stage
/// explicit is what lets preprocessing round exactly where torchvision does (Resize acts on
/// the uint8 PIL image; ToTensor divides by 255 afterwards).
/// `channels` is 1 (gray) or 3 (RGB); gray stays single-channel until conversion to
/// planes, because resampling replicated channels gives the same values three times.
public struct PixelBuffer: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var bytes: [UInt8]

    public init(width: Int, height: Int, channels: Int, bytes: [UInt8]) {
        precondition(bytes.count == width * height * channels,
                     "PixelBuffer: \(bytes.count) bytes for \(height)×\(width)×\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.bytes = bytes
    }

    /// Float planes in [0, 1] (value / 255), always 3 channels: gray is replicated, as
    /// `PIL.Image.convert("RGB")` does.
    public func rgbPlanes() -> ImagePlanes {
        let n = width * height
        var out = [Float](repeating: 0, count: 3 * n)
        let scale: Float = 1 / 255
        bytes.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if channels == 1 {
                    for i in 0..<n {
                        let v = Float(src[i]) * scale
                        dst[i] = v; dst[n + i] = v; dst[2 * n + i] = v
                    }
                } else {
                    // src is (H·W, C) interleaved; dst is (3, H·W) planar.
                    for i in 0..<n {
                        dst[i] = Float(src[i * channels]) * scale
                        dst[n + i] = Float(src[i * channels + 1]) * scale
                        dst[2 * n + i] = Float(src[i * channels + 2]) * scale
                    }
                }
            }
        }
        return ImagePlanes(width: width, height: height, channels: 3, data: out)
    }

    /// Single-channel view: gray as is; RGB reduced by the per-pixel maximum (used for
    /// masks, where any lit channel marks a defect pixel).
    public func grayMax() -> PixelBuffer {
        if channels == 1 { return self }
        var out = [UInt8](repeating: 0, count: width * height)
        for i in 0..<(width * height) {
            var m: UInt8 = 0
            for c in 0..<channels { m = max(m, bytes[i * channels + c]) }
            out[i] = m
        }
        return PixelBuffer(width: width, height: height, channels: 1, bytes: out)
    }
}

extension ImagePlanes {
    /// 8-bit interleaved copy of 1- or 3-channel planes: values clamped to [0, 1] and
    /// rounded to the nearest of 0…255 (for writing PNG outputs).
    public func pixelBuffer() -> PixelBuffer {
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * channels)
        for c in 0..<channels {
            for i in 0..<n {
                let v = min(max(data[c * n + i], 0), 1) * 255
                out[i * channels + c] = UInt8(v.rounded())
            }
        }
        return PixelBuffer(width: width, height: height, channels: channels, bytes: out)
    }
}
