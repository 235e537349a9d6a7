/// Elementwise passes over flat buffers that the layers fuse around their GEMMs.

/// a[i] += b[i] for i < count.
@inline(__always)
func addInPlace(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    let full = count & ~7
    var i = 0
    while i < full { store8(load8(a + i) + load8(b + i), a + i); i += 8 }
    while i < count { a[i] += b[i]; i += 1 }
}

/// x[r,:] += bias for every row. x: rows × cols, bias: cols.
func addRowBias(_ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, cols: Int) {
    for r in 0..<rows { addInPlace(x + r * cols, bias, count: cols) }
}
