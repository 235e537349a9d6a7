/// Element-wise activations, fused with a per-row bias where a convolution's folded
/// batch norm leaves one (llm.c style: flat buffers, sizes as arguments).
enum Activation: Sendable, Equatable {
    case identity
    /// min(max(x, 0), 6): EfficientNet-Lite's activation (chosen by its authors for
    /// quantisation), as torch.nn.ReLU6.
    case relu6
    case relu

    @inline(__always)
    func apply(_ x: Float) -> Float {
        switch self {
        case .identity: x
        case .relu6: min(max(x, 0), 6)
        case .relu: max(x, 0)
        }
    }
}

enum ActivationKernels {
    /// x is (rows, cols); x[r, :] = act(x[r, :] + bias[r]). The layout of a channel-major
    /// convolution output, where each row is one channel over all images and positions.
    static func biasActivate(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                             bias: UnsafePointer<Float>?, activation: Activation, workers: Int = 1) {
        parallelChunks(rows, workers: cols >= 4096 ? workers : 1) { range in
            for r in range {
                let row = x + r * cols
                let b = bias?[r] ?? 0
                switch activation {
                case .identity:
                    if bias != nil { for i in 0..<cols { row[i] += b } }
                case .relu6:
                    for i in 0..<cols { row[i] = min(max(row[i] + b, 0), 6) }
                case .relu:
                    for i in 0..<cols { row[i] = max(row[i] + b, 0) }
                }
            }
        }
    }
}
