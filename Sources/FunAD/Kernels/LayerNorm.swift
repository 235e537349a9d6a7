/// Layer normalisation over the last dimension (Ba et al. 2016), as `torch.nn.LayerNorm`:
/// y = (x − mean) / √(var + eps) · weight + bias, with the biased variance.
/// Two passes over each row (mean, then centred squares) in float32 with 8 running lanes:
/// rows are ≤ 3 KB and stay in L1, and the centred second pass avoids the cancellation of
/// the one-pass E[x²] − E[x]² form.

/// x, out: rows × dim; weight, bias: dim. `out` may equal `x`.
func layerNorm(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    rows: Int, dim: Int, eps: Float
) {
    for r in 0..<rows {
        layerNormRow(x + r * dim, out + r * dim, weight: weight, bias: bias, dim: dim, eps: eps)
    }
}

/// The residual-stream step between sublayers, fused into one sweep per row:
/// x[r,:] += rowBias (the bias of the linear layer whose product was accumulated into x),
/// then out[r,:] = LayerNorm(x[r,:]). x: rows × dim (updated in place), out: rows × dim.
func addBiasLayerNorm(
    _ x: UnsafeMutablePointer<Float>, rowBias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    rows: Int, dim: Int, eps: Float
) {
    for r in 0..<rows {
        let row = x + r * dim
        addInPlace(row, rowBias, count: dim)
        layerNormRow(row, out + r * dim, weight: weight, bias: bias, dim: dim, eps: eps)
    }
}

@inline(__always)
private func layerNormRow(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, dim: Int, eps: Float
) {
    let full = dim & ~7
    var acc = Float8()
    var i = 0
    while i < full { acc += load8(x + i); i += 8 }
    var sum = acc.sum()
    while i < dim { sum += x[i]; i += 1 }
    let mean = sum / Float(dim)
    let m8 = Float8(repeating: mean)
    acc = Float8()
    i = 0
    while i < full { let d = load8(x + i) - m8; acc += d * d; i += 8 }
    var sq = acc.sum()
    while i < dim { let d = x[i] - mean; sq += d * d; i += 1 }
    let inv = 1 / (sq / Float(dim) + eps).squareRoot()
    let inv8 = Float8(repeating: inv)
    i = 0
    while i < full {
        store8((load8(x + i) - m8) * inv8 * load8(weight + i) + load8(bias + i), out + i)
        i += 8
    }
    while i < dim { out[i] = (x[i] - mean) * inv * weight[i] + bias[i]; i += 1 }
}
