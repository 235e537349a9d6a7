/// 2-D convolutions over a batch in channel-major layout (C, B, H, W): each channel is
/// one row of B·H·W values, so a 1×1 convolution of the whole batch is a single GEMM
/// (C_out×C_in)·(C_in×B·H·W) and an im2col convolution another one, both through OpenBLAS.
/// Depthwise convolutions (one k×k filter per channel) are direct loops: they are
/// memory-bound and im2col would only add traffic.

/// Zero padding on each side of a feature map.
struct Padding2D: Sendable, Equatable {
    var top: Int, bottom: Int, left: Int, right: Int

    init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }

    /// The same padding on all sides (PyTorch's `padding=p`).
    static func symmetric(_ p: Int) -> Padding2D { Padding2D(top: p, bottom: p, left: p, right: p) }

    /// TensorFlow 'SAME' padding, as efficientnet_lite_pytorch's Conv2dStaticSamePadding:
    /// output side ceil(in/stride); total padding max((out−1)·stride + k − in, 0), the odd
    /// pixel going to the bottom/right.
    static func same(height: Int, width: Int, kernel: Int, stride: Int) -> Padding2D {
        func split(_ n: Int) -> (Int, Int) {
            let out = (n + stride - 1) / stride
            let total = max((out - 1) * stride + kernel - n, 0)
            return (total / 2, total - total / 2)
        }
        let (t, b) = split(height), (l, r) = split(width)
        return Padding2D(top: t, bottom: b, left: l, right: r)
    }

    func outputSize(height: Int, width: Int, kernel: Int, stride: Int) -> (Int, Int) {
        ((height + top + bottom - kernel) / stride + 1, (width + left + right - kernel) / stride + 1)
    }
}

enum ConvKernels {
    /// Dense convolution via im2col + GEMM.
    /// input (Ci, B, H, W); weight (Co, Ci, k, k); bias (Co) or nil; output (Co, B, Ho, Wo);
    /// columns: scratch of Ci·k·k · B·Ho·Wo floats.
    static func conv2d(
        input: UnsafePointer<Float>, channels ci: Int, batch: Int, height h: Int, width w: Int,
        weight: UnsafePointer<Float>, outChannels co: Int, kernel k: Int, stride s: Int, padding pad: Padding2D,
        bias: UnsafePointer<Float>?, activation: Activation,
        output: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, workers: Int = 1
    ) {
        let (ho, wo) = pad.outputSize(height: h, width: w, kernel: k, stride: s)
        let n = batch * ho * wo
        // columns[(c·k + ky)·k + kx][b, oy, ox] = input[c, b, oy·s − top + ky, ox·s − left + kx] (0 outside)
        parallelChunks(ci * k * k, workers: workers) { rows in
            for row in rows {
                let c = row / (k * k), ky = (row / k) % k, kx = row % k
                let dst = columns + row * n
                for b in 0..<batch {
                    let plane = input + (c * batch + b) * h * w
                    for oy in 0..<ho {
                        let iy = oy * s - pad.top + ky
                        let d = dst + (b * ho + oy) * wo
                        if iy < 0 || iy >= h { for ox in 0..<wo { d[ox] = 0 }; continue }
                        let src = plane + iy * w
                        for ox in 0..<wo {
                            let ix = ox * s - pad.left + kx
                            d[ox] = (ix >= 0 && ix < w) ? src[ix] : 0
                        }
                    }
                }
            }
        }
        BLAS.gemm(weight, columns, output, m: co, n: n, k: ci * k * k)
        ActivationKernels.biasActivate(output, rows: co, cols: n, bias: bias, activation: activation, workers: workers)
    }

    /// 1×1 convolution, stride 1: output (Co, N) = weight (Co, Ci) · input (Ci, N), N = B·H·W.
    static func pointwise(
        input: UnsafePointer<Float>, channels ci: Int, count n: Int,
        weight: UnsafePointer<Float>, outChannels co: Int,
        bias: UnsafePointer<Float>?, activation: Activation,
        output: UnsafeMutablePointer<Float>, workers: Int = 1
    ) {
        BLAS.gemm(weight, input, output, m: co, n: n, k: ci)
        ActivationKernels.biasActivate(output, rows: co, cols: n, bias: bias, activation: activation, workers: workers)
    }

    /// Depthwise convolution (groups = channels): input (C, B, H, W), weight (C, 1, k, k),
    /// bias (C) or nil, output (C, B, Ho, Wo), stride 1 or 2 (any stride falls back to the
    /// reference loop). Each plane is first copied into a zero-padded scratch plane (with
    /// 16 spare columns), so that every output column is computed the same way: 8 at a
    /// time in registers over all k×k taps (stride 2 loads 16 inputs and keeps the even
    /// lanes), bias first, then the activation as one vectorised pass over the row.
    /// Small late-stage maps (7×7, 14×14) would otherwise be mostly border columns.
    static func depthwise(
        input: UnsafePointer<Float>, channels c: Int, batch: Int, height h: Int, width w: Int,
        weight: UnsafePointer<Float>, kernel k: Int, stride s: Int, padding pad: Padding2D,
        bias: UnsafePointer<Float>?, activation: Activation,
        output: UnsafeMutablePointer<Float>, workers: Int = 1
    ) {
        guard s == 1 || s == 2 else {
            depthwiseReference(input: input, channels: c, batch: batch, height: h, width: w, weight: weight, kernel: k,
                               stride: s, padding: pad, bias: bias, activation: activation, output: output)
            return
        }
        let (ho, wo) = pad.outputSize(height: h, width: w, kernel: k, stride: s)
        let hp = h + pad.top + pad.bottom, wp = w + pad.left + pad.right + 16
        let chunks = (wo + 7) / 8
        parallelChunks(c * batch, workers: workers) { planes in
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: hp * wp)
            padded.initialize(repeating: 0, count: hp * wp)
            let rowOut = UnsafeMutablePointer<Float>.allocate(capacity: chunks * 8)
            defer { padded.deallocate(); rowOut.deallocate() }
            for p in planes {
                let ch = p / batch
                let src = input + p * h * w
                let dst = output + p * ho * wo
                let wt = weight + ch * k * k
                let b0 = bias?[ch] ?? 0
                // Interior of the padded plane; the zero border never changes.
                for y in 0..<h { (padded + (y + pad.top) * wp + pad.left).update(from: src + y * w, count: w) }
                for oy in 0..<ho {
                    for chunk in 0..<chunks {
                        var acc = SIMD8<Float>(repeating: b0)
                        for ky in 0..<k {
                            let row = UnsafeRawPointer(padded + (oy * s + ky) * wp + chunk * 8 * s)
                            let taps = wt + ky * k
                            if s == 1 {
                                for kx in 0..<k {
                                    acc += SIMD8(repeating: taps[kx]) * row.loadUnaligned(fromByteOffset: 4 * kx, as: SIMD8<Float>.self)
                                }
                            } else {
                                for kx in 0..<k {
                                    acc += SIMD8(repeating: taps[kx]) * row.loadUnaligned(fromByteOffset: 4 * kx, as: SIMD16<Float>.self).evenHalf
                                }
                            }
                        }
                        UnsafeMutableRawPointer(rowOut + chunk * 8).storeBytes(of: acc, as: SIMD8<Float>.self)
                    }
                    let d = dst + oy * wo
                    switch activation {
                    case .identity: d.update(from: rowOut, count: wo)
                    case .relu6: for i in 0..<wo { d[i] = min(max(rowOut[i], 0), 6) }
                    case .relu: for i in 0..<wo { d[i] = max(rowOut[i], 0) }
                    }
                }
            }
        }
    }

    /// The plain reference for `depthwise` (llm.c style): one output at a time, every tap
    /// bounds-checked. Tests compare the tuned kernel with it on awkward shapes.
    static func depthwiseReference(
        input: UnsafePointer<Float>, channels c: Int, batch: Int, height h: Int, width w: Int,
        weight: UnsafePointer<Float>, kernel k: Int, stride s: Int, padding pad: Padding2D,
        bias: UnsafePointer<Float>?, activation: Activation, output: UnsafeMutablePointer<Float>
    ) {
        let (ho, wo) = pad.outputSize(height: h, width: w, kernel: k, stride: s)
        for p in 0..<(c * batch) {
            let ch = p / batch
            for oy in 0..<ho { for ox in 0..<wo {
                var acc = bias?[ch] ?? 0
                for ky in 0..<k { for kx in 0..<k {
                    let iy = oy * s - pad.top + ky, ix = ox * s - pad.left + kx
                    if iy >= 0 && iy < h && ix >= 0 && ix < w { acc += weight[ch * k * k + ky * k + kx] * input[p * h * w + iy * w + ix] }
                } }
                output[p * ho * wo + oy * wo + ox] = activation.apply(acc)
            } }
        }
    }
}

/// Batch normalisation folded into the preceding (bias-free) convolution at load time:
/// BN(conv(x)) = γ·(W∗x − μ)/√(σ²+ε) + β = (W·γ/√(σ²+ε))∗x + (β − μ·γ/√(σ²+ε)).
enum BatchNormFolding {
    /// weight: (Co, …) flat; returns the scaled weight and the bias (Co).
    static func fold(weight: [Float], outChannels co: Int, gamma: [Float], beta: [Float],
                            mean: [Float], variance: [Float], epsilon: Float) -> (weight: [Float], bias: [Float]) {
        precondition(gamma.count == co && beta.count == co && mean.count == co && variance.count == co && weight.count % co == 0)
        let per = weight.count / co
        var w = weight
        var b = [Float](repeating: 0, count: co)
        for o in 0..<co {
            let scale = gamma[o] / (variance[o] + epsilon).squareRoot()
            for i in 0..<per { w[o * per + i] *= scale }
            b[o] = beta[o] - mean[o] * scale
        }
        return (w, b)
    }
}

/// Conversions between the usual image-major layout (B, C, H, W) and the channel-major
/// layout (C, B, H, W) the convolution kernels use.
enum ChannelMajor {
    static func fromBatchMajor(_ x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int, into y: UnsafeMutablePointer<Float>) {
        for b in 0..<batch { for c in 0..<channels {
            (y + (c * batch + b) * plane).update(from: x + (b * channels + c) * plane, count: plane)
        } }
    }

    static func toBatchMajor(_ x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int, into y: UnsafeMutablePointer<Float>) {
        for b in 0..<batch { for c in 0..<channels {
            (y + (b * channels + c) * plane).update(from: x + (c * batch + b) * plane, count: plane)
        } }
    }
}
