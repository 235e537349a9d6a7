/// Layer kernels of Local-Net over flat row-major buffers (llm.c style): each is a
/// free function with its shapes in the first comment; forward beside backward.
/// Weights use PyTorch's nn.Linear layout (out × in) so that official checkpoints map
/// one to one. All matrix products go through `BLAS.gemm` (batched over every row).
enum LinearKernels {
    /// y (rows, out) = x (rows, in) · wᵀ + b;  w is (out, in), b is (out).
    /// The bias is written first and the product accumulated onto it (beta = 1).
    static func linearForward(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        guard rows > 0 else { return }
        for r in 0..<rows { (y + r * outFeatures).update(from: b, count: outFeatures) }
        BLAS.gemm(x, w, y, m: rows, n: outFeatures, k: inFeatures, transB: true, beta: 1)
    }

    /// Weight and bias gradients of `linearForward`, accumulated (+=) into dw, db.
    /// dy is (rows, out), x is (rows, in), dw is (out, in), db is (out).
    /// dw += dyᵀ · x;  db += Σ_rows dy (a 1×rows product with a ones vector: sgemv).
    static func linearBackwardParameters(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
        _ dw: UnsafeMutablePointer<Float>, _ db: UnsafeMutablePointer<Float>,
        ones: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        guard rows > 0 else { return }
        BLAS.gemm(dy, x, dw, m: outFeatures, n: inFeatures, k: rows, transA: true, beta: 1)
        BLAS.gemm(ones, dy, db, m: 1, n: outFeatures, k: rows, beta: 1)
    }

    /// dx (rows, in) = dy (rows, out) · w (out, in).
    static func linearBackwardInput(
        _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
        rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        guard rows > 0 else { return }
        BLAS.gemm(dy, w, dx, m: rows, n: inFeatures, k: outFeatures)
    }

    /// In place: v ← v > 0 ? v : slope·v  (nn.LeakyReLU; slope 0.2 in Local-Net).
    static func leakyReLUForward(_ v: UnsafeMutablePointer<Float>, count: Int, slope: Float) {
        for i in 0..<count {
            let a = v[i]
            v[i] = a > 0 ? a : a * slope
        }
    }

    /// In place: g ← h > 0 ? g : slope·g, where h is the layer OUTPUT. With a positive
    /// slope, h > 0 exactly when the pre-activation is > 0, so the output suffices.
    static func leakyReLUBackward(_ g: UnsafeMutablePointer<Float>, output h: UnsafePointer<Float>, count: Int, slope: Float) {
        for i in 0..<count {
            g[i] = h[i] > 0 ? g[i] : g[i] * slope
        }
    }

    /// p[i] = 1 / (1 + exp(−z[i])), written so that large |z| neither overflows nor
    /// loses the tiny tail (same values as torch.sigmoid to float rounding).
    static func sigmoid(_ z: UnsafePointer<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = z[i]
            if v >= 0 {
                p[i] = 1 / (1 + _expf(-v))
            } else {
                let e = _expf(v)
                p[i] = e / (1 + e)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _expf(_ x: Float) -> Float { Glibc.expf(x) }
@inline(__always) func _logf(_ x: Float) -> Float { Glibc.logf(x) }
#else
import Darwin
@inline(__always) func _expf(_ x: Float) -> Float { Darwin.expf(x) }
@inline(__always) func _logf(_ x: Float) -> Float { Darwin.logf(x) }
#endif
