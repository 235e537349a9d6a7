import Foundation

/// Scratch buffers for one worker's forward passes, allocated once per `forward` call and
/// reused by every layer and every chunk: no allocation or copy between layers.
/// `@unchecked Sendable`: shared only by the threads of one `ViTForwardPass.run`, which
/// write disjoint rows / head columns / per-thread score buffers.
final class ViTWorkspace: @unchecked Sendable {
    let x: UnsafeMutablePointer<Float>        // rows × dim: the residual stream
    let xn: UnsafeMutablePointer<Float>       // rows × dim: LayerNorm output, sublayer input
    let qkv: UnsafeMutablePointer<Float>      // rows × 3·dim
    let attn: UnsafeMutablePointer<Float>     // rows × dim: heads concatenated
    let hidden: UnsafeMutablePointer<Float>   // rows × hiddenDim: MLP activations
    let scores: UnsafeMutablePointer<Float>   // threads × tokens × (tokens + 1): per thread, one head's attention matrix + row sums
    let cols: UnsafeMutablePointer<Float>     // grid² × 3·patch²: one image's patches (im2col)
    private let sizes: [Int]

    init(config: ViTConfig, grid: Int, images: Int, threads: Int = 1) {
        let tokens = grid * grid + 1
        let rows = images * tokens
        sizes = [rows * config.dim, rows * config.dim, rows * 3 * config.dim, rows * config.dim,
                 rows * config.hiddenDim, threads * tokens * (tokens + 1), grid * grid * 3 * config.patchSize * config.patchSize]
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
    /// `threads` > 1 (the serial path, when images do not pair up across workers) also
    /// splits each image's attention heads and elementwise rows across that many threads,
    /// with BLAS single-threaded inside those sections and `blasThreads` for the linear
    /// layers, so one image alone still keeps every core busy.
    func run(chunk index: Int, of size: Int, batch: Int, workspace: ViTWorkspace, threads: Int = 1, blasThreads: Int = 1) {
        run(images: index * size..<min(index * size + size, batch), workspace: workspace, threads: threads, blasThreads: blasThreads)
    }

    func run(images range: Range<Int>, workspace ws: ViTWorkspace, threads: Int = 1, blasThreads: Int = 1) {
        let d = config.dim, hd = config.hiddenDim, eps = config.layerNormEps
        let tokens = grid * grid + 1
        let rows = range.count * tokens
        let heads = config.heads
        let scoresSize = tokens * (tokens + 1)

        for (slot, image) in range.enumerated() {
            embedPatches(image: image, into: ws.x + slot * tokens * d, cols: ws.cols, blasThreads: blasThreads)
        }

        for (b, o) in layout.blocks.enumerated() {
            // x += proj(attn(norm1(x))). Block 0's norm1 stands alone; later ones are fused
            // with the previous block's fc2 bias (below).
            if b == 0 {
                split(rows, threads) { _, r in
                    layerNorm(ws.x + r.lowerBound * d, ws.xn + r.lowerBound * d, weight: self.weights + o.norm1Weight,
                              bias: self.weights + o.norm1Bias, rows: r.count, dim: d, eps: eps)
                }
            }
            linear(ws.xn, weight: weights + o.qkvWeight, bias: weights + o.qkvBias, ws.qkv, rows: rows, inFeatures: d, outFeatures: 3 * d,
                   threads: blasThreads)
            for slot in 0..<range.count {
                split(heads, threads) { t, headRange in
                    multiHeadAttention(qkv: ws.qkv + slot * tokens * 3 * d, ws.attn + slot * tokens * d,
                                       scores: ws.scores + t * scoresSize, tokens: tokens, dim: d, heads: heads,
                                       headRange: headRange, threads: 1)
                }
            }
            linear(ws.attn, weight: weights + o.projWeight, bias: nil, ws.x, rows: rows, inFeatures: d, outFeatures: d, accumulate: true,
                   threads: blasThreads)
            split(rows, threads) { _, r in
                addBiasLayerNorm(ws.x + r.lowerBound * d, rowBias: self.weights + o.projBias, ws.xn + r.lowerBound * d,
                                 weight: self.weights + o.norm2Weight, bias: self.weights + o.norm2Bias, rows: r.count, dim: d, eps: eps)
            }
            // x += fc2(gelu(fc1(norm2(x))))
            linear(ws.xn, weight: weights + o.fc1Weight, bias: nil, ws.hidden, rows: rows, inFeatures: d, outFeatures: hd,
                   threads: blasThreads)
            split(rows, threads) { _, r in
                addBiasGELU(ws.hidden + r.lowerBound * hd, bias: self.weights + o.fc1Bias, rows: r.count, cols: hd)
            }
            linear(ws.hidden, weight: weights + o.fc2Weight, bias: nil, ws.x, rows: rows, inFeatures: hd, outFeatures: d, accumulate: true,
                   threads: blasThreads)
            // fc2's bias, then the next block's norm1 (or the final norm) in one sweep.
            if b + 1 < layout.blocks.count {
                let next = layout.blocks[b + 1]
                split(rows, threads) { _, r in
                    addBiasLayerNorm(ws.x + r.lowerBound * d, rowBias: self.weights + o.fc2Bias, ws.xn + r.lowerBound * d,
                                     weight: self.weights + next.norm1Weight, bias: self.weights + next.norm1Bias,
                                     rows: r.count, dim: d, eps: eps)
                }
            } else {
                let w = weights
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

    /// Calls body(t, part) for `threads` contiguous parts of 0..<count, concurrently when
    /// threads > 1 (each part ≥ 1 item; fewer parts when count < threads).
    private func split(_ count: Int, _ threads: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
        let parts = min(threads, count)
        if parts <= 1 { body(0, 0..<count); return }
        DispatchQueue.concurrentPerform(iterations: parts) { t in
            body(t, count * t / parts..<count * (t + 1) / parts)
        }
    }

    /// x (tokens × dim) = [cls; patches·Wᵀ + b] + pos. The stride-p convolution is one
    /// GEMM over im2col rows: cols[patch][(c·p + ky)·p + kx], matching Conv2d's weight
    /// layout dim × 3 × p × p.
    private func embedPatches(image: Int, into x: UnsafeMutablePointer<Float>, cols: UnsafeMutablePointer<Float>, blasThreads: Int) {
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
        BLAS.gemm(cols, weights + layout.patchWeight, x + d, m: grid * grid, n: d, k: k, transB: true, threads: blasThreads)
        let cls = weights + layout.clsToken, bias = weights + layout.patchBias
        for c in 0..<d { x[c] = cls[c] + pos[c] }
        for t in 1...(grid * grid) {
            let row = x + t * d
            addInPlace(row, bias, count: d)
            addInPlace(row, pos + t * d, count: d)
        }
    }
}
