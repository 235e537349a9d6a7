import COpenBLAS
import Foundation

/// Thin, shape-explicit wrappers over OpenBLAS. All matrices are row-major, flat `Float`
/// buffers. Every hot path in FunAD goes through these so that thread control and
/// call conventions live in one place.
///
/// OpenBLAS has one process-wide thread count, and a product's rounding depends on it
/// (with an inner dimension beyond its blocking, 1 and 2 threads sum in another order).
/// So no caller changes that count under another: each call runs with the count it states
/// (`threads:`) or, when it states none, the process default (`BLAS.threads`), and
/// `ThreadCountGate` lets calls run side by side only when they share a count. A
/// product's bits then depend on its own call, never on what another task runs beside it.
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
        lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
        threads: Int? = nil
    ) {
        gate.enter(threads)
        defer { gate.leave() }
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
        transA: Bool = false, transB: Bool = false, alpha: Float = 1, beta: Float = 0,
        threads: Int? = nil
    ) {
        precondition(a.count >= m * k && b.count >= k * n && c.count >= m * n, "gemm: buffer too small")
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    gemm(pa.baseAddress!, pb.baseAddress!, pc.baseAddress!, m: m, n: n, k: k,
                         transA: transA, transB: transB, alpha: alpha, beta: beta, threads: threads)
                }
            }
        }
    }

    /// Threads OpenBLAS uses for a call that states no count: at start, what OpenBLAS
    /// chose (`OPENBLAS_NUM_THREADS`, else every processor). Code that runs its own worker
    /// threads passes `threads: 1` to each call instead of changing this.
    public static var threads: Int {
        get { gate.defaultCount }
        set { gate.defaultCount = max(1, newValue) }
    }

    @usableFromInline static let gate = ThreadCountGate(initial: Int(openblas_get_num_threads()))

    /// The BLAS build and the kernels it chose for this CPU, e.g. "OpenBLAS 0.3.21
    /// NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64; kernels Zen". Run records
    /// carry it: the kernel choice (which `OPENBLAS_CORETYPE` overrides) changes the
    /// summation order and so the decimals of every figure trained on top of it.
    public static var libraryDescription: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "OpenBLAS (configuration unknown)"
        let core = openblas_get_corename().map { String(cString: $0) } ?? "unknown"
        return "\(config); kernels \(core)"
    }
}

/// Admits OpenBLAS calls so that every call runs with the thread count it asked for: calls
/// asking for the library's current count run side by side; a call asking for another
/// waits until none is in flight, then switches the count. When the last call of one count
/// leaves while others wait for another count, every waiter of that count goes in as a
/// group before newcomers, so two tasks with different counts (a ViT on image workers at
/// 1 thread beside a training loop at 2) take turns and neither starves.
@usableFromInline final class ThreadCountGate: @unchecked Sendable {
    private let condition = NSCondition()
    /// The count OpenBLAS is set to.
    private var current: Int
    private var inFlight = 0
    /// Callers waiting, by the count they asked for.
    private var waiting: [Int: Int] = [:]
    /// The count whose waiters go next, while some of them have not gone in yet.
    private var turn: Int?
    private var defaultStorage: Int

    init(initial: Int) {
        current = max(1, initial)
        defaultStorage = current
    }

    @usableFromInline var defaultCount: Int {
        get { condition.lock(); defer { condition.unlock() }; return defaultStorage }
        set { condition.lock(); defaultStorage = max(1, newValue); condition.unlock() }
    }

    /// Waits until a call with `requested` threads (nil: the default count) may run, then
    /// sets OpenBLAS to that count if it is not already. Pair with `leave()`.
    @usableFromInline func enter(_ requested: Int?) {
        condition.lock()
        defer { condition.unlock() }
        let count = max(1, requested ?? defaultStorage)
        if !admitsNewcomer(count) {
            waiting[count, default: 0] += 1
            while !admitsWaiter(count) { condition.wait() }
            waiting[count]! -= 1
            if waiting[count] == 0 {
                waiting[count] = nil
                if turn == count { turn = nil }
            }
        }
        if count != current {
            openblas_set_num_threads(Int32(clamping: count))  // a count beyond Int32 would trap; OpenBLAS caps it anyway
            current = count
        }
        inFlight += 1
    }

    @usableFromInline func leave() {
        condition.lock()
        inFlight -= 1
        if inFlight == 0 {
            turn = waiting.keys.filter { $0 != current }.min()
            condition.broadcast()
        }
        condition.unlock()
    }

    private func othersWaiting(_ count: Int) -> Bool { waiting.keys.contains { $0 != count } }

    private func admitsNewcomer(_ count: Int) -> Bool {
        turn == nil && !othersWaiting(count) && (inFlight == 0 || count == current)
    }

    private func admitsWaiter(_ count: Int) -> Bool {
        if let turn { return count == turn && (inFlight == 0 || count == current) }
        return inFlight == 0 || (count == current && !othersWaiting(count))
    }
}
