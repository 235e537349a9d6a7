import COpenBLAS

/// Thin, shape-explicit wrappers over OpenBLAS. All matrices are row-major, flat `Float`
/// buffers. Every hot path in FunAD goes through these so that thread control and
/// call conventions live in one place.
public enum BLAS {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major.
    /// A is m×k (or k×m when `transA`), B is k×n (or n×k when `transB`).
    /// A single-row product is routed to sgemv: Debian's OpenBLAS does not do that
    /// itself and is ~3× slower for m = 1 through sgemm (TOOLCHAIN.md).
    @inlinable
    public static func gemm(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int,
        transA: Bool = false, transB: Bool = false,
        alpha: Float = 1, beta: Float = 0,
        lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
    ) {
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        if m == 1 && !transA && ldc >= n {
            // y[n] = op(B)ᵀ·a: with B k×n row-major, Bᵀ·a is sgemv with Trans.
            cblas_sgemv(CblasRowMajor, transB ? CblasNoTrans : CblasTrans,
                        Int32(transB ? n : k), Int32(transB ? k : n),
                        alpha, b, Int32(ldb), a, 1, beta, c, 1)
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Array convenience for `gemm`; `c` must already hold m·n elements.
    @inlinable
    public static func gemm(
        _ a: [Float], _ b: [Float], _ c: inout [Float], m: Int, n: Int, k: Int,
        transA: Bool = false, transB: Bool = false, alpha: Float = 1, beta: Float = 0
    ) {
        precondition(a.count >= m * k && b.count >= k * n && c.count >= m * n, "gemm: buffer too small")
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    gemm(pa.baseAddress!, pb.baseAddress!, pc.baseAddress!, m: m, n: n, k: k,
                         transA: transA, transB: transB, alpha: alpha, beta: beta)
                }
            }
        }
    }

    /// Number of threads OpenBLAS uses for each call. Callers that run their own
    /// worker threads set this to 1 so that the cores are not oversubscribed.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }
}
