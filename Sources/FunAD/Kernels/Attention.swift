/// Multi-head scaled dot-product self-attention (Vaswani et al. 2017) as DINO's
/// `Attention.forward`, after the qkv projection and before the output projection:
/// per head h, O_h = softmax(Q_h·K_hᵀ · d^-½) · V_h, heads concatenated.
///
/// The heads are read in place from the qkv buffer as strided views (leading dimension
/// 3·dim) and written in place into `out` (leading dimension dim): no packing copies.
/// The d^-½ scale rides on the first sgemm's alpha, and the softmax's division by the row
/// sum is applied to the N×d output rather than the N×N probabilities (Softmax.swift).

/// qkv: tokens × 3·dim, each row [q | k | v] with each part heads × headDim (PyTorch's
/// `reshape(B, N, 3, H, d)` order). out: tokens × dim.
/// scores: tokens × (tokens + 1) scratch (one head's N×N matrix, then its N row sums).
/// `headRange` limits the work to some heads (threads splitting one image's heads write
/// disjoint column blocks of `out`, each with its own `scores`). `threads`: OpenBLAS threads
/// for each head's products (nil: the process default).
func multiHeadAttention(
    qkv: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
    tokens: Int, dim: Int, heads: Int, headRange: Range<Int>? = nil, threads: Int? = nil
) {
    let headDim = dim / heads
    let scale = 1 / Float(headDim).squareRoot()
    let ld = 3 * dim
    let rowSums = scores + tokens * tokens
    for h in headRange ?? 0..<heads {
        let q = qkv + h * headDim
        let k = qkv + dim + h * headDim
        let v = qkv + 2 * dim + h * headDim
        // scores[N×N] = scale · Q_h[N×d] · K_h[N×d]ᵀ
        BLAS.gemm(q, k, scores, m: tokens, n: tokens, k: headDim, transB: true,
                  alpha: scale, lda: ld, ldb: ld, ldc: tokens, threads: threads)
        softmaxNumerators(scores, rows: tokens, cols: tokens, rowSums: rowSums)
        // out[:, h·d ..< (h+1)·d] = diag(1/rowSums) · E[N×N] · V_h[N×d]
        let o = out + h * headDim
        BLAS.gemm(scores, v, o, m: tokens, n: headDim, k: tokens,
                  lda: tokens, ldb: ld, ldc: dim, threads: threads)
        for r in 0..<tokens { scaleInPlace(o + r * dim, by: 1 / rowSums[r], count: headDim) }
    }
}
