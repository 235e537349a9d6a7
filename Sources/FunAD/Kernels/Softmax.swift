/// Row-wise softmax, as `torch.softmax(x, dim=-1)`: subtract the row maximum (so no
/// exponential overflows), exponentiate, divide by the sum.

/// x: rows × cols with row stride `stride` (≥ cols), in place.
func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, stride: Int? = nil) {
    let stride = stride ?? cols
    for r in 0..<rows {
        let row = x + r * stride
        let inv = 1 / softmaxNumeratorsRow(row, count: cols)
        scaleInPlace(row, by: inv, count: cols)
    }
}

/// The first two passes of softmax: x[r,:] = exp(x[r,:] − max_r), rowSums[r] = Σ_j x[r,j].
/// Attention divides its (much narrower) output rows by the sums instead of the N×N
/// probabilities: softmax(S)·V = diag(1/sum)·(exp(S − max)·V).
/// x: rows × cols (row stride `cols`), in place; rowSums: rows.
func softmaxNumerators(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, rowSums: UnsafeMutablePointer<Float>) {
    for r in 0..<rows { rowSums[r] = softmaxNumeratorsRow(x + r * cols, count: cols) }
}

/// a[i] *= s for i < count.
@inline(__always)
func scaleInPlace(_ a: UnsafeMutablePointer<Float>, by s: Float, count: Int) {
    let full = count & ~7
    let s8 = Float8(repeating: s)
    var i = 0
    while i < full { store8(load8(a + i) * s8, a + i); i += 8 }
    while i < count { a[i] *= s; i += 1 }
}

@inline(__always)
private func softmaxNumeratorsRow(_ x: UnsafeMutablePointer<Float>, count: Int) -> Float {
    let full = count & ~7
    let rest = count - full
    var m8 = Float8(repeating: -.infinity)
    var i = 0
    while i < full { m8 = maxLanes(m8, load8(x + i)); i += 8 }
    if rest > 0 { m8 = maxLanes(m8, loadPartial8(x + full, count: rest, pad: -.infinity)) }
    let mx = Float8(repeating: m8.max())
    var s8 = Float8()
    i = 0
    while i < full { let e = exp8(load8(x + i) - mx); store8(e, x + i); s8 += e; i += 8 }
    if rest > 0 {
        // Padding lanes would give e^-87 ≈ 1.6e-38 (negligible), but mask them anyway.
        var e = exp8(loadPartial8(x + full, count: rest, pad: 0) - mx)
        for j in rest..<8 { e[j] = 0 }
        storePartial8(e, x + full, count: rest)
        s8 += e
    }
    return s8.sum()
}
