/// Fully connected layers as `torch.nn.Linear`: y = x·Wᵀ + b with W stored out × in
/// (PyTorch's layout, so checkpoints load without transposing). One sgemm over all rows:
/// callers stack every token of a chunk of images so that M is in the hundreds or more,
/// the shape OpenBLAS runs at full speed (TOOLCHAIN.md: ~80 GFLOP/s per thread).

/// x: rows × inFeatures, weight: outFeatures × inFeatures, bias: outFeatures (or nil),
/// y: rows × outFeatures. With `accumulate`, y += x·Wᵀ (+ b): residual connections write
/// straight into the residual stream instead of through a temporary. `threads`: OpenBLAS
/// threads for the product (nil: the process default).
func linear(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    _ y: UnsafeMutablePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int,
    accumulate: Bool = false, threads: Int? = nil
) {
    BLAS.gemm(x, weight, y, m: rows, n: outFeatures, k: inFeatures,
              transB: true, beta: accumulate ? 1 : 0, threads: threads)
    if let bias { addRowBias(y, bias, rows: rows, cols: outFeatures) }
}
