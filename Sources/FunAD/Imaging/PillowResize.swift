/// Resampling exactly as Pillow does it on 8-bit images, so preprocessing reproduces
/// torchvision's `Resize` on a PIL image bit for bit.
///
/// Bilinear (`Image.resize(size, BILINEAR)`, Pillow's libImaging/Resample.c): a separable
/// convolution with the triangle filter whose support is scaled by the downscale factor
/// (so shrinking antialiases), coefficients normalised per output pixel, then quantised to
/// 22-bit fixed point; two passes with the intermediate rounded to uint8, in Pillow 13's
/// order (see `horizontalFirst`).
/// Nearest (`NEAREST`, libImaging/Geometry.c `ImagingScaleAffine`): source index
/// `trunc(scale·(x + 0.5))`, with the position accumulated by repeated addition exactly as
/// Pillow's loop does (which matters at exact .0 boundaries).
enum PillowResize {
    static let precisionBits = 32 - 8 - 2

    /// Per-output-pixel filter taps: first source index, tap count, fixed-point weights
    /// (`ksize` slots per output pixel).
    struct Taps {
        var start: [Int]
        var count: [Int]
        var weights: [Int]   // (outSize, ksize)
        var ksize: Int
    }

    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter
    /// (support 1) over the full input range.
    static func bilinearTaps(inSize: Int, outSize: Int) -> Taps {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var start = [Int](repeating: 0, count: outSize)
        var count = [Int](repeating: 0, count: outSize)
        var weights = [Int](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        let unit = Double(1 << precisionBits)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterScale
            // C's (int) conversion truncates toward zero, as Swift's Int(_:) does.
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var ww = 0.0
            for x in 0..<xmax {
                var t = (Double(x + xmin) - center + 0.5) * ss
                if t < 0 { t = -t }
                let w = t < 1.0 ? 1.0 - t : 0.0
                k[x] = w
                ww += w
            }
            for x in 0..<xmax {
                let v = ww != 0 ? k[x] / ww : k[x]
                weights[xx * ksize + x] = v < 0 ? Int(-0.5 + v * unit) : Int(0.5 + v * unit)
            }
            start[xx] = xmin
            count[xx] = xmax
        }
        return Taps(start: start, count: count, weights: weights, ksize: ksize)
    }

    @inline(__always) static func clip8(_ v: Int) -> UInt8 {
        if v >= (1 << (precisionBits + 8)) { return 255 }
        if v <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: v >> precisionBits)
    }

    /// Pillow 13's pass order (libImaging/Resample.c): vertical pass first when the height
    /// shrinks by more than twice as many pixels as the width does, else horizontal first
    /// (Pillow ≤ 12 always ran horizontal first). The order matters because the
    /// intermediate image is rounded to uint8.
    static func horizontalFirst(inW: Int, inH: Int, outW: Int, outH: Int) -> Bool {
        !((inH - outH) > 0 && (inH - outH) > (inW - outW) * 2)
    }

    /// Bilinear resize with antialiasing, Pillow-exact on 8-bit data.
    /// `legacyOrder`: always horizontal first, as Pillow ≤ 12.
    static func bilinear(_ src: PixelBuffer, width outW: Int, height outH: Int, legacyOrder: Bool = false) -> PixelBuffer {
        let needH = outW != src.width
        let needV = outH != src.height
        if !needH && !needV { return src }
        let hTaps = needH ? bilinearTaps(inSize: src.width, outSize: outW) : nil
        let vTaps = needV ? bilinearTaps(inSize: src.height, outSize: outH) : nil
        if legacyOrder || horizontalFirst(inW: src.width, inH: src.height, outW: outW, outH: outH) {
            var current = src
            var vt = vTaps
            if let hTaps {
                // Only the source rows the vertical pass will read.
                var firstRow = 0, rows = src.height
                if var v = vt {
                    firstRow = v.start[0]
                    rows = v.start[outH - 1] + v.count[outH - 1] - firstRow
                    for i in 0..<outH { v.start[i] -= firstRow }
                    vt = v
                }
                current = horizontalPass(src, hTaps, outW: outW, firstRow: firstRow, rows: rows)
            }
            if let vt { current = verticalPass(current, vt, outH: outH) }
            return current
        } else {
            var current = src
            if let vTaps { current = verticalPass(current, vTaps, outH: outH) }
            if let hTaps { current = horizontalPass(current, hTaps, outW: outW, firstRow: 0, rows: current.height) }
            return current
        }
    }

    /// Horizontal pass over `rows` source rows starting at `firstRow`.
    /// src is (H, W_in, C); result is (rows, W_out, C).
    static func horizontalPass(_ src: PixelBuffer, _ taps: Taps, outW: Int, firstRow: Int, rows: Int) -> PixelBuffer {
        let c = src.channels
        let half = 1 << (precisionBits - 1)
        var tmp = [UInt8](repeating: 0, count: outW * rows * c)
        src.bytes.withUnsafeBufferPointer { inp in
            tmp.withUnsafeMutableBufferPointer { out in
                taps.weights.withUnsafeBufferPointer { kk in
                    for y in 0..<rows {
                        let inRow = (y + firstRow) * src.width * c
                        for xx in 0..<outW {
                            let x0 = taps.start[xx], n = taps.count[xx], kb = xx * taps.ksize
                            for ch in 0..<c {
                                var ss = half
                                for x in 0..<n {
                                    ss += Int(inp[inRow + (x0 + x) * c + ch]) * kk[kb + x]
                                }
                                out[(y * outW + xx) * c + ch] = clip8(ss)
                            }
                        }
                    }
                }
            }
        }
        return PixelBuffer(width: outW, height: rows, channels: c, bytes: tmp)
    }

    /// Vertical pass. src is (rows, W, C); result is (H_out, W, C).
    static func verticalPass(_ src: PixelBuffer, _ taps: Taps, outH: Int) -> PixelBuffer {
        let c = src.channels, w = src.width
        let half = 1 << (precisionBits - 1)
        var out = [UInt8](repeating: 0, count: w * outH * c)
        src.bytes.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { dst in
                taps.weights.withUnsafeBufferPointer { kk in
                    for yy in 0..<outH {
                        let y0 = taps.start[yy], n = taps.count[yy], kb = yy * taps.ksize
                        for i in 0..<(w * c) {
                            var ss = half
                            for y in 0..<n {
                                ss += Int(inp[(y0 + y) * w * c + i]) * kk[kb + y]
                            }
                            dst[yy * w * c + i] = clip8(ss)
                        }
                    }
                }
            }
        }
        return PixelBuffer(width: w, height: outH, channels: c, bytes: out)
    }

    /// Nearest-neighbour resize (Pillow NEAREST), for masks.
    static func nearest(_ src: PixelBuffer, width outW: Int, height outH: Int) -> PixelBuffer {
        if outW == src.width && outH == src.height { return src }
        let c = src.channels
        let ax = Double(src.width) / Double(outW)
        let ay = Double(src.height) / Double(outH)
        // COORD(v) = v < 0 ? -1 : (int)v; out-of-range positions stay 0 (Pillow's fill).
        var xin = [Int](repeating: -1, count: outW)
        var xo = ax * 0.5
        for x in 0..<outW {
            let xi = xo < 0 ? -1 : Int(xo)
            xin[x] = xi < src.width ? xi : -1
            xo += ax
        }
        var out = [UInt8](repeating: 0, count: outW * outH * c)
        var yo = ay * 0.5
        for y in 0..<outH {
            let yi = yo < 0 ? -1 : Int(yo)
            if yi >= 0 && yi < src.height {
                for x in 0..<outW where xin[x] >= 0 {
                    for ch in 0..<c {
                        out[(y * outW + x) * c + ch] = src.bytes[(yi * src.width + xin[x]) * c + ch]
                    }
                }
            }
            yo += ay
        }
        return PixelBuffer(width: outW, height: outH, channels: c, bytes: out)
    }
}

extension PixelBuffer {
    /// Pillow-exact `resize((width, height), BILINEAR)` (antialiased when shrinking), as
    /// Pillow 13 computes it; `legacyPassOrder` reproduces Pillow ≤ 12 instead (the two
    /// differ by at most one level in a few pixels for some size pairs).
    /// Sizes must be positive (callers validate user settings, e.g. `Preprocessor.init`).
    public func resizedBilinear(width: Int, height: Int, legacyPassOrder: Bool = false) -> PixelBuffer {
        precondition(width > 0 && height > 0, "resizedBilinear: output size \(width)×\(height) must be positive")
        return PillowResize.bilinear(self, width: width, height: height, legacyOrder: legacyPassOrder)
    }

    /// Pillow-exact `resize((width, height), NEAREST)`.
    public func resizedNearest(width: Int, height: Int) -> PixelBuffer {
        precondition(width > 0 && height > 0, "resizedNearest: output size \(width)×\(height) must be positive")
        return PillowResize.nearest(self, width: width, height: height)
    }

    /// torchvision `CenterCrop`: offsets `round((size − crop) / 2)` with Python's
    /// round-half-to-even. Throws when the crop is larger than the image (torchvision
    /// would pad; funad's pipeline never needs that, so it is reported instead).
    public func centerCropped(width cw: Int, height ch: Int) throws -> PixelBuffer {
        let (top, left) = try CenterCrop.offsets(width: width, height: height, cropWidth: cw, cropHeight: ch)
        var out = [UInt8](repeating: 0, count: cw * ch * channels)
        for y in 0..<ch {
            let srcStart = ((top + y) * width + left) * channels
            let dstStart = y * cw * channels
            for i in 0..<(cw * channels) { out[dstStart + i] = bytes[srcStart + i] }
        }
        return PixelBuffer(width: cw, height: ch, channels: channels, bytes: out)
    }
}

/// Crop geometry shared by images and masks.
public enum CenterCrop {
    /// (top, left) of torchvision's centre crop.
    public static func offsets(width: Int, height: Int, cropWidth: Int, cropHeight: Int) throws -> (top: Int, left: Int) {
        guard cropWidth > 0, cropHeight > 0, cropWidth <= width, cropHeight <= height else {
            throw PreprocessingError(message: "centre crop \(cropWidth)×\(cropHeight) does not fit in a "
                                     + "\(width)×\(height) image (expected a crop no larger than the resized image)")
        }
        let top = Int((Double(height - cropHeight) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(width - cropWidth) / 2).rounded(.toNearestOrEven))
        return (top, left)
    }
}

/// A preprocessing setting that cannot work (e.g. a crop larger than the resize).
public struct PreprocessingError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
