/// Scratch buffers for one worker's forward passes, allocated once per `forward` call and
/// reused by every layer and every chunk: no allocation or copy between layers.
final class ViTWorkspace {
    let x: UnsafeMutablePointer<Float>        // rows × dim: the residual stream
    let xn: UnsafeMutablePointer<Float>       // rows × dim: LayerNorm output, sublayer input
    let qkv: UnsafeMutablePointer<Float>      // rows × 3·dim
    let attn: UnsafeMutablePointer<Float>     // rows × dim: heads concatenated
    let hidden: UnsafeMutablePointer<Float>   // rows × hiddenDim: MLP activations
    let scores: UnsafeMutablePointer<Float>   // tokens × (tokens + 1): one head's attention matrix + row sums
    let cols: UnsafeMutablePointer<Float>     // grid² × 3·patch²: one image's patches (im2col)
    private let sizes: [Int]

    init(config: ViTConfig, grid: Int, images: Int) {
        let tokens = grid * grid + 1
        let rows = images * tokens
        sizes = [rows * config.dim, rows * config.dim, rows * 3 * config.dim, rows * config.dim,
                 rows * config.hiddenDim, tokens * (tokens + 1), grid * grid * 3 * config.patchSize * config.patchSize]
        let buffers = sizes.map { n -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        (x, xn, qkv, attn, hidden, scores, cols) = (buffers[0], buffers[1], buffers[2], buffers[3], buffers[4], buffers[5], buffers[6])
    }

    deinit {
        for p in [x, xn, qkv, attn, hidden, scores, cols] { p.deallocate() }
    }
}

/// One forward pass over a chunk of images, DINO's `VisionTransformer.forward` up to and
/// including the final norm. Reads weights through `layout` offsets; writes each image's
/// class token to `global` and patch tokens to `local`.
/// `@unchecked Sendable`: workers share it read-only and write disjoint output rows
/// (one image's class token and patch tokens each).
struct ViTForwardPass: @unchecked Sendable {
    let config: ViTConfig
    let layout: ViTParameterLayout
    let weights: UnsafePointer<Float>
    let pos: UnsafePointer<Float>            // (grid² + 1) × dim, already resized to this grid
    let images: UnsafePointer<Float>         // batch × 3 × side × side
    let side: Int
    let grid: Int
    let global: UnsafeMutablePointer<Float>  // batch × dim
    let local: UnsafeMutablePointer<Float>   // batch × grid² × dim

    /// Runs chunk number `index` of `size` images (the last chunk may be shorter).
    func run(chunk index: Int, of size: Int, batch: Int, workspace: ViTWorkspace) {
        run(images: index * size..<min(index * size + size, batch), workspace: workspace)
    }

    func run(images range: Range<Int>, workspace ws: ViTWorkspace) {
        let d = config.dim, hd = config.hiddenDim, eps = config.layerNormEps
        let tokens = grid * grid + 1
        let rows = range.count * tokens
        let w = weights

        for (slot, image) in range.enumerated() {
            embedPatches(image: image, into: ws.x + slot * tokens * d, cols: ws.cols)
        }

        for (b, o) in layout.blocks.enumerated() {
            // x += proj(attn(norm1(x))). Block 0's norm1 stands alone; later ones are fused
            // with the previous block's fc2 bias (below).
            if b == 0 {
                layerNorm(ws.x, ws.xn, weight: w + o.norm1Weight, bias: w + o.norm1Bias, rows: rows, dim: d, eps: eps)
            }
            linear(ws.xn, weight: w + o.qkvWeight, bias: w + o.qkvBias, ws.qkv, rows: rows, inFeatures: d, outFeatures: 3 * d)
            for slot in 0..<range.count {
                multiHeadAttention(qkv: ws.qkv + slot * tokens * 3 * d, ws.attn + slot * tokens * d, scores: ws.scores,
                                   tokens: tokens, dim: d, heads: config.heads)
            }
            linear(ws.attn, weight: w + o.projWeight, bias: nil, ws.x, rows: rows, inFeatures: d, outFeatures: d, accumulate: true)
            addBiasLayerNorm(ws.x, rowBias: w + o.projBias, ws.xn, weight: w + o.norm2Weight, bias: w + o.norm2Bias,
                             rows: rows, dim: d, eps: eps)
            // x += fc2(gelu(fc1(norm2(x))))
            linear(ws.xn, weight: w + o.fc1Weight, bias: nil, ws.hidden, rows: rows, inFeatures: d, outFeatures: hd)
            addBiasGELU(ws.hidden, bias: w + o.fc1Bias, rows: rows, cols: hd)
            linear(ws.hidden, weight: w + o.fc2Weight, bias: nil, ws.x, rows: rows, inFeatures: hd, outFeatures: d, accumulate: true)
            // fc2's bias, then the next block's norm1 (or the final norm) in one sweep.
            if b + 1 < layout.blocks.count {
                let next = layout.blocks[b + 1]
                addBiasLayerNorm(ws.x, rowBias: w + o.fc2Bias, ws.xn, weight: w + next.norm1Weight, bias: w + next.norm1Bias,
                                 rows: rows, dim: d, eps: eps)
            } else {
                for (slot, image) in range.enumerated() {
                    let x = ws.x + slot * tokens * d
                    addBiasLayerNorm(x, rowBias: w + o.fc2Bias, global + image * d,
                                     weight: w + layout.normWeight, bias: w + layout.normBias, rows: 1, dim: d, eps: eps)
                    addBiasLayerNorm(x + d, rowBias: w + o.fc2Bias, local + image * (tokens - 1) * d,
                                     weight: w + layout.normWeight, bias: w + layout.normBias, rows: tokens - 1, dim: d, eps: eps)
                }
            }
        }
    }

    /// x (tokens × dim) = [cls; patches·Wᵀ + b] + pos. The stride-p convolution is one
    /// GEMM over im2col rows: cols[patch][(c·p + ky)·p + kx], matching Conv2d's weight
    /// layout dim × 3 × p × p.
    private func embedPatches(image: Int, into x: UnsafeMutablePointer<Float>, cols: UnsafeMutablePointer<Float>) {
        let p = config.patchSize, d = config.dim
        let k = 3 * p * p
        let plane = side * side
        let src = images + image * 3 * plane
        for py in 0..<grid {
            for px in 0..<grid {
                let row = cols + (py * grid + px) * k
                for c in 0..<3 {
                    for ky in 0..<p {
                        let from = src + c * plane + (py * p + ky) * side + px * p
                        (row + (c * p + ky) * p).update(from: from, count: p)
                    }
                }
            }
        }
        BLAS.gemm(cols, weights + layout.patchWeight, x + d, m: grid * grid, n: d, k: k, transB: true)
        let cls = weights + layout.clsToken, bias = weights + layout.patchBias
        for c in 0..<d { x[c] = cls[c] + pos[c] }
        for t in 1...(grid * grid) {
            let row = x + t * d
            addInPlace(row, bias, count: d)
            addInPlace(row, pos + t * d, count: d)
        }
    }
}
