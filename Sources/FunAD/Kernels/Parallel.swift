import Foundation

/// Splits `0..<count` into at most `workers` contiguous chunks and runs them concurrently.
/// Used by the memory-bound kernels (depthwise convolution, bias + activation) whose
/// GEMM neighbours are already threaded by OpenBLAS. The chunks write disjoint parts of
/// the output, which is why handing the (non-Sendable) body to worker threads is sound.
func parallelChunks(_ count: Int, workers: Int, _ body: (Range<Int>) -> Void) {
    let w = max(1, min(workers, count))
    if w == 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { escapable in
        nonisolated(unsafe) let run = escapable
        DispatchQueue.concurrentPerform(iterations: w) { i in
            let lo = count * i / w, hi = count * (i + 1) / w
            if lo < hi { run(lo..<hi) }
        }
    }
}
