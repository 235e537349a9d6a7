/// Hyper-parameters of torch.optim.RMSprop as FUN-AD uses it (METHOD.md step 6):
/// lr 2e-5, momentum 0.2, alpha 0.99, eps 1e-8, no weight decay, not centred.
public struct RMSPropConfiguration: Sendable, Equatable, Codable {
    public var learningRate: Float = 2e-5
    public var momentum: Float = 0.2
    public var alpha: Float = 0.99
    public var epsilon: Float = 1e-8
    public init() {}
}

/// RMSProp with torch.optim.RMSprop's exact update (single-tensor path, foreach=False):
///   v ← α·v + (1 − α)·g²
///   a ← √v + ε
///   if momentum > 0:  b ← μ·b + g / a;  θ ← θ − lr·b
///   else:             θ ← θ − lr·g / a
/// Both buffers start at zero. State is flat, in the parameters' layout.
public struct RMSProp: Sendable, Equatable {
    public var configuration: RMSPropConfiguration
    /// torch's `square_avg`.
    public var squareAverage: [Float]
    /// torch's `momentum_buffer`.
    public var momentumBuffer: [Float]
    /// Steps taken (torch's `step`; informative only for RMSProp).
    public var steps: Int = 0

    public init(parameterCount: Int, configuration: RMSPropConfiguration = .init()) {
        self.configuration = configuration
        squareAverage = [Float](repeating: 0, count: parameterCount)
        momentumBuffer = [Float](repeating: 0, count: parameterCount)
    }

    /// One update of `parameters` (count n) by `gradients` (count n).
    public mutating func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count n: Int) {
        precondition(n == squareAverage.count, "RMSProp.step: \(n) parameters, state holds \(squareAverage.count)")
        let c = configuration
        let oneMinusAlpha = 1 - c.alpha
        steps += 1
        squareAverage.withUnsafeMutableBufferPointer { v in
            momentumBuffer.withUnsafeMutableBufferPointer { b in
                for i in 0..<n {
                    let g = gradients[i]
                    // torch: square_avg.mul_(alpha).addcmul_(grad, grad, value=1-alpha)
                    let vi = v[i] * c.alpha + oneMinusAlpha * (g * g)
                    v[i] = vi
                    // torch: avg = square_avg.sqrt().add_(eps)
                    let avg = vi.squareRoot() + c.epsilon
                    if c.momentum > 0 {
                        // torch: buf.mul_(momentum).addcdiv_(grad, avg); param.add_(buf, alpha=-lr)
                        let bi = b[i] * c.momentum + g / avg
                        b[i] = bi
                        parameters[i] = parameters[i] + (-c.learningRate) * bi
                    } else {
                        parameters[i] = parameters[i] + (-c.learningRate) * (g / avg)
                    }
                }
            }
        }
    }
}
