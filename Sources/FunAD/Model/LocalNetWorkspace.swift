/// Activation and gradient buffers for Local-Net passes over up to `capacity` rows.
/// A forward pass keeps what its backward needs (llm.c style): the adapted features
/// H0 = φ_a(x), the two hidden activations, the logits and the scores. Owned by one
/// trainer or one scoring call; grows on demand and never shrinks.
final class LocalNetWorkspace {
    let shape: LocalNetShape
    private(set) var capacity = 0
    /// (capacity, D) adapted features φ_a(x) = LReLU(x·W0ᵀ + b0).
    private(set) var adapted: UnsafeMutablePointer<Float>
    /// (capacity, h1) and (capacity, h2) head activations (after LReLU).
    private(set) var hidden1: UnsafeMutablePointer<Float>
    private(set) var hidden2: UnsafeMutablePointer<Float>
    /// (capacity) logits z and scores p = σ(z).
    private(set) var logits: UnsafeMutablePointer<Float>
    private(set) var scores: UnsafeMutablePointer<Float>
    /// Backward buffers: dL/dH2, dL/dH1, dL/dH0, and a ones vector for bias sums.
    private(set) var gradHidden2: UnsafeMutablePointer<Float>
    private(set) var gradHidden1: UnsafeMutablePointer<Float>
    private(set) var gradAdapted: UnsafeMutablePointer<Float>
    private(set) var ones: UnsafeMutablePointer<Float>
    private let withBackward: Bool

    init(shape: LocalNetShape, capacity: Int, withBackward: Bool) {
        self.shape = shape
        self.withBackward = withBackward
        adapted = .allocate(capacity: 1); hidden1 = .allocate(capacity: 1); hidden2 = .allocate(capacity: 1)
        logits = .allocate(capacity: 1); scores = .allocate(capacity: 1)
        gradHidden2 = .allocate(capacity: 1); gradHidden1 = .allocate(capacity: 1)
        gradAdapted = .allocate(capacity: 1); ones = .allocate(capacity: 1)
        reserve(rows: capacity)
    }

    deinit { release() }

    private func release() {
        for p in [adapted, hidden1, hidden2, logits, scores, gradHidden2, gradHidden1, gradAdapted, ones] {
            p.deallocate()
        }
    }

    /// Makes room for `rows` rows; existing contents are NOT kept.
    func reserve(rows: Int) {
        guard rows > capacity else { return }
        release()
        let (d, h1, h2) = (shape.dimension, shape.hidden1, shape.hidden2)
        let b = withBackward ? rows : 1
        adapted = .allocate(capacity: rows * d)
        hidden1 = .allocate(capacity: rows * h1)
        hidden2 = .allocate(capacity: rows * h2)
        logits = .allocate(capacity: rows)
        scores = .allocate(capacity: rows)
        gradHidden2 = .allocate(capacity: b * h2)
        gradHidden1 = .allocate(capacity: b * h1)
        gradAdapted = .allocate(capacity: b * d)
        ones = .allocate(capacity: b)
        ones.initialize(repeating: 1, count: b)
        capacity = rows
    }
}

/// Forward and backward passes of Local-Net φ over many rows at once (METHOD.md
/// "Local-Net φ"): every layer is one GEMM over all B×P patches, no per-sample loops.
enum LocalNetPass {
    static let slope: Float = 0.2

    /// Forward for x (rows, D) into workspace rows [first, first + rows).
    /// H0 = LReLU(x W0ᵀ + b0); H1 = LReLU(H0 W1ᵀ + b1); H2 = LReLU(H1 W2ᵀ + b2);
    /// z = H2 W3ᵀ + b3; p = σ(z).
    ///
    /// `prefix` (see `SharedPrefix`): when every image's `imageRows` consecutive rows share
    /// their first g values (the global vector of f_ij = [global ‖ local_j]), the adaptor
    /// is computed as x W0ᵀ = G·W0[:, :g]ᵀ (once per image) + X_local·W0[:, g:]ᵀ, the same
    /// product with (D − g)/D of the work.
    static func forward(
        parameters: UnsafePointer<Float>, shape: LocalNetShape,
        x: UnsafePointer<Float>, rows: Int, into ws: LocalNetWorkspace, firstRow first: Int = 0,
        prefix: SharedPrefix = .none
    ) {
        precondition(first + rows <= ws.capacity, "LocalNetPass.forward: workspace too small")
        guard rows > 0 else { return }
        let (d, h1, h2) = (shape.dimension, shape.hidden1, shape.hidden2)
        let o = shape.offsets.starts
        let a0 = ws.adapted + first * d, a1 = ws.hidden1 + first * h1, a2 = ws.hidden2 + first * h2
        if prefix.length > 0 {
            let (g, p) = (prefix.length, prefix.imageRows)
            let images = rows / p
            // perImage (images, D) = b0 + G · W0[:, :g]ᵀ, G = the first row's prefix of each image.
            let perImage = UnsafeMutablePointer<Float>.allocate(capacity: images * d)
            defer { perImage.deallocate() }
            for i in 0..<images { (perImage + i * d).update(from: parameters + o[1], count: d) }
            BLAS.gemm(x, parameters + o[0], perImage, m: images, n: d, k: g, transB: true, beta: 1, lda: p * d, ldb: d, ldc: d)
            for r in 0..<rows { (a0 + r * d).update(from: perImage + (r / p) * d, count: d) }
            // a0 += X_local · W0[:, g:]ᵀ
            BLAS.gemm(x + g, parameters + o[0] + g, a0, m: rows, n: d, k: d - g, transB: true, beta: 1, lda: d, ldb: d, ldc: d)
        } else {
            LinearKernels.linearForward(x, parameters + o[0], parameters + o[1], a0, rows: rows, inFeatures: d, outFeatures: d)
        }
        LinearKernels.leakyReLUForward(a0, count: rows * d, slope: slope)
        LinearKernels.linearForward(a0, parameters + o[2], parameters + o[3], a1, rows: rows, inFeatures: d, outFeatures: h1)
        LinearKernels.leakyReLUForward(a1, count: rows * h1, slope: slope)
        LinearKernels.linearForward(a1, parameters + o[4], parameters + o[5], a2, rows: rows, inFeatures: h1, outFeatures: h2)
        LinearKernels.leakyReLUForward(a2, count: rows * h2, slope: slope)
        LinearKernels.linearForward(a2, parameters + o[6], parameters + o[7], ws.logits + first, rows: rows, inFeatures: h2, outFeatures: 1)
        LinearKernels.sigmoid(ws.logits + first, ws.scores + first, count: rows)
    }

    /// Backward over workspace rows [0, rows) whose forward inputs are x (rows, D),
    /// given dL/dz (rows). Parameter gradients are ACCUMULATED into `gradients`
    /// (same flat layout as the parameters). The input gradient is not formed
    /// (the backbone is frozen).
    /// With `prefix`, the first `prefixRows` rows are images whose rows share a prefix (as
    /// in `forward`); the adaptor's weight gradient then splits the same way:
    /// dW0[:, g:] += dH0ᵀ·X_local and dW0[:, :g] += (Σ_image dH0)ᵀ·G. Rows after
    /// `prefixRows` (the perturbed copies) take the plain path.
    static func backward(
        parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>, shape: LocalNetShape,
        x: UnsafePointer<Float>, gradLogits dz: UnsafePointer<Float>, rows: Int, workspace ws: LocalNetWorkspace,
        prefix: SharedPrefix = .none, prefixRows: Int = 0
    ) {
        guard rows > 0 else { return }
        let (d, h1, h2) = (shape.dimension, shape.hidden1, shape.hidden2)
        let o = shape.offsets.starts
        // Layer 3: z = H2 W3ᵀ + b3.
        LinearKernels.linearBackwardParameters(dz, ws.hidden2, gradients + o[6], gradients + o[7], ones: ws.ones, rows: rows, inFeatures: h2, outFeatures: 1)
        LinearKernels.linearBackwardInput(dz, parameters + o[6], ws.gradHidden2, rows: rows, inFeatures: h2, outFeatures: 1)
        LinearKernels.leakyReLUBackward(ws.gradHidden2, output: ws.hidden2, count: rows * h2, slope: slope)
        // Layer 2: H2 = LReLU(H1 W2ᵀ + b2).
        LinearKernels.linearBackwardParameters(ws.gradHidden2, ws.hidden1, gradients + o[4], gradients + o[5], ones: ws.ones, rows: rows, inFeatures: h1, outFeatures: h2)
        LinearKernels.linearBackwardInput(ws.gradHidden2, parameters + o[4], ws.gradHidden1, rows: rows, inFeatures: h1, outFeatures: h2)
        LinearKernels.leakyReLUBackward(ws.gradHidden1, output: ws.hidden1, count: rows * h1, slope: slope)
        // Layer 1: H1 = LReLU(H0 W1ᵀ + b1).
        LinearKernels.linearBackwardParameters(ws.gradHidden1, ws.adapted, gradients + o[2], gradients + o[3], ones: ws.ones, rows: rows, inFeatures: d, outFeatures: h1)
        LinearKernels.linearBackwardInput(ws.gradHidden1, parameters + o[2], ws.gradAdapted, rows: rows, inFeatures: d, outFeatures: h1)
        LinearKernels.leakyReLUBackward(ws.gradAdapted, output: ws.adapted, count: rows * d, slope: slope)
        // Adaptor: H0 = LReLU(x W0ᵀ + b0).
        guard prefix.length > 0, prefixRows > 0 else {
            LinearKernels.linearBackwardParameters(ws.gradAdapted, x, gradients + o[0], gradients + o[1], ones: ws.ones, rows: rows, inFeatures: d, outFeatures: d)
            return
        }
        let (g, p, s) = (prefix.length, prefix.imageRows, prefixRows)
        let images = s / p
        let dw0 = gradients + o[0], dh0 = ws.gradAdapted
        // dW0[:, g:] += dH0[0..<s]ᵀ · X_local
        BLAS.gemm(dh0, x + g, dw0 + g, m: d, n: d - g, k: s, transA: true, beta: 1, lda: d, ldb: d, ldc: d)
        // dW0[:, :g] += (per-image Σ dH0)ᵀ · G
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: images * d)
        defer { sums.deallocate() }
        sums.initialize(repeating: 0, count: images * d)
        for r in 0..<s {
            let src = dh0 + r * d, dst = sums + (r / p) * d
            for k in 0..<d { dst[k] += src[k] }
        }
        BLAS.gemm(sums, x, dw0, m: d, n: g, k: images, transA: true, beta: 1, lda: d, ldb: p * d, ldc: d)
        // Remaining (perturbed) rows: plain weight gradient.
        if rows > s {
            BLAS.gemm(dh0 + s * d, x + s * d, dw0, m: d, n: d, k: rows - s, transA: true, beta: 1)
        }
        // db0 += Σ_rows dH0 over all rows.
        BLAS.gemm(ws.ones, dh0, gradients + o[1], m: 1, n: d, k: rows, beta: 1)
    }
}

/// Rows grouped by image (`imageRows` consecutive rows each) whose first `length`
/// values are identical within every image: the global vector that the feature
/// contract puts first in f_ij = [global ‖ local_j] (METHOD.md step 2). Detected from
/// the data, never assumed; `length` 0 means no structure (the plain path).
struct SharedPrefix: Sendable, Equatable {
    var length: Int
    var imageRows: Int
    static let none = SharedPrefix(length: 0, imageRows: 0)

    /// The longest prefix shared (bit for bit) by all rows of each image in x
    /// (images·imageRows, D); `.none` when shorter than D/8 (not worth a split) or when
    /// images have a single row. Capped at D − 1 so the local product is never empty.
    static func detect(_ x: UnsafePointer<Float>, images: Int, imageRows p: Int, dimension d: Int) -> SharedPrefix {
        guard p > 1, images > 0, d > 1 else { return .none }
        var g = d - 1
        let raw = UnsafeRawPointer(x).assumingMemoryBound(to: UInt32.self)
        for i in 0..<images {
            let first = raw + i * p * d
            for j in 1..<p {
                let row = first + j * d
                var k = 0
                while k < g && row[k] == first[k] { k += 1 }
                g = k
                if g < max(1, d / 8) { return .none }
            }
        }
        return SharedPrefix(length: g, imageRows: p)
    }
}
