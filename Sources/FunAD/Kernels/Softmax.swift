/// Row-wise softmax, as `torch.softmax(x, dim=-1)`: subtract the row maximum (so no
/// exponential overflows), exponentiate, divide by the sum.

/// x: rows × cols with row stride `stride` (≥ cols), in place.
func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, stride: Int? = nil) {
    let stride = stride ?? cols
    for r in 0..<rows { softmaxRow(x + r * stride, count: cols) }
}

@inline(__always)
private func softmaxRow(_ x: UnsafeMutablePointer<Float>, count: Int) {
    let full = count & ~7
    let rest = count - full
    var m8 = Float8(repeating: -.infinity)
    var i = 0
    while i < full { m8 = pointwiseMax(m8, load8(x + i)); i += 8 }
    if rest > 0 { m8 = pointwiseMax(m8, loadPartial8(x + full, count: rest, pad: -.infinity)) }
    let mx = Float8(repeating: m8.max())
    var s8 = Float8()
    i = 0
    while i < full { let e = exp8(load8(x + i) - mx); store8(e, x + i); s8 += e; i += 8 }
    if rest > 0 {
        // Padding lanes hold -inf − max → exp clamps to e^-87 ≈ 1.6e-38: negligible, but mask anyway.
        var e = exp8(loadPartial8(x + full, count: rest, pad: 0) - mx)
        for j in rest..<8 { e[j] = 0 }
        storePartial8(e, x + full, count: rest)
        s8 += e
    }
    let inv = Float8(repeating: 1 / s8.sum())
    i = 0
    while i < full { store8(load8(x + i) * inv, x + i); i += 8 }
    while i < count { x[i] *= inv[0]; i += 1 }
}
