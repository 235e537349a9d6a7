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
    static func forward(
        parameters: UnsafePointer<Float>, shape: LocalNetShape,
        x: UnsafePointer<Float>, rows: Int, into ws: LocalNetWorkspace, firstRow first: Int = 0
    ) {
        precondition(first + rows <= ws.capacity, "LocalNetPass.forward: workspace too small")
        guard rows > 0 else { return }
        let (d, h1, h2) = (shape.dimension, shape.hidden1, shape.hidden2)
        let o = shape.offsets.starts
        let a0 = ws.adapted + first * d, a1 = ws.hidden1 + first * h1, a2 = ws.hidden2 + first * h2
        LinearKernels.linearForward(x, parameters + o[0], parameters + o[1], a0, rows: rows, inFeatures: d, outFeatures: d)
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
    static func backward(
        parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>, shape: LocalNetShape,
        x: UnsafePointer<Float>, gradLogits dz: UnsafePointer<Float>, rows: Int, workspace ws: LocalNetWorkspace
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
        LinearKernels.linearBackwardParameters(ws.gradAdapted, x, gradients + o[0], gradients + o[1], ones: ws.ones, rows: rows, inFeatures: d, outFeatures: d)
    }
}
