/// GELU (Hendrycks & Gimpel 2016) in its exact form, PyTorch's default
/// (`nn.GELU()`, approximate='none'): gelu(v) = ½·v·(1 + erf(v/√2)).
/// erf is the vectorised A&S 7.1.26 form (|error| ≤ 1.5e-7, VectorMath.swift).

/// x: count values, in place.
func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
    geluRow(x, bias: nil, count: count)
}

/// The MLP's first layer epilogue: x[r,:] = gelu(x[r,:] + bias). x: rows × cols, bias: cols.
func addBiasGELU(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int) {
    for r in 0..<rows { geluRow(x + r * cols, bias: bias, count: cols) }
}

@inline(__always)
private func gelu8(_ v: Float8) -> Float8 {
    0.5 * v * (1.0 + erf8(v * 0.70710678118654752))
}

@inline(__always)
private func geluRow(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, count: Int) {
    let full = count & ~7
    var i = 0
    if let bias {
        while i < full { store8(gelu8(load8(x + i) + load8(bias + i)), x + i); i += 8 }
    } else {
        while i < full { store8(gelu8(load8(x + i)), x + i); i += 8 }
    }
    let rest = count - full
    if rest > 0 {
        var v = loadPartial8(x + full, count: rest, pad: 0)
        if let bias { v += loadPartial8(bias + full, count: rest, pad: 0) }
        storePartial8(gelu8(v), x + full, count: rest)
    }
}
