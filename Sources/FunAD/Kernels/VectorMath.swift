/// Vectorised transcendental functions for the elementwise kernels (softmax, GELU).
///
/// Calling libm's `expf`/`erff` per element costs ~5 ns each; ViT-B/8 needs ~90 M
/// exponentials (softmax) and ~29 M erfs (GELU) per image, which would add ~0.5 s to a
/// ~1.3 s forward pass. These 8-lane versions keep both under a few percent.
/// `SIMD8<Float>` is two SSE registers on the default x86-64 target; written as plain
/// `a * b + c` (never `addProduct`, TOOLCHAIN.md) they compile to packed SSE arithmetic.
typealias Float8 = SIMD8<Float>

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> Float8 {
    UnsafeRawPointer(p).loadUnaligned(as: Float8.self)
}

@inline(__always)
func store8(_ v: Float8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Float8.self)
}

/// Lanewise max/min/clamp through compare-and-select. The standard library's
/// `pointwiseMax`/`pointwiseMin`/`clamped` are not inlined here and run ~9× slower
/// (measured: they showed as 11% of a ViT-S/8 profile).
@inline(__always)
func maxLanes(_ a: Float8, _ b: Float8) -> Float8 {
    var m = a
    m.replace(with: b, where: b .> a)
    return m
}

@inline(__always)
func clampLanes(_ x: Float8, _ lo: Float, _ hi: Float) -> Float8 {
    var v = x
    let l = Float8(repeating: lo), h = Float8(repeating: hi)
    v.replace(with: l, where: v .< l)
    v.replace(with: h, where: v .> h)
    return v
}

/// e^x, lanewise. Cephes `expf` scheme: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two
/// parts for exactness), e^r by a degree-7 polynomial, 2^n built in the exponent bits.
/// Relative error ≤ 2 ulp on [-87, 88]; inputs are clamped there (e^-87 ≈ 1.6e-38,
/// so softmax's tiny tails flush to ~0 exactly as they underflow in float32 anyway).
@inline(__always)
func exp8(_ x: Float8) -> Float8 {
    var x = clampLanes(x, -87.0, 88.0)
    // n = round(x / ln2) via the 1.5·2^23 trick: adding it leaves the integer in the low mantissa bits.
    let magic = Float8(repeating: 12582912.0)
    let t = x * 1.44269504088896341 + magic
    let n = t - magic
    x = x - n * 0.693359375
    x = x - n * -2.12194440e-4
    let z = x * x
    var p = Float8(repeating: 1.9875691500e-4)
    p = p * x + 1.3981999507e-3
    p = p * x + 8.3334519073e-3
    p = p * x + 4.1665795894e-2
    p = p * x + 1.6666665459e-1
    p = p * x + 5.0000001201e-1
    p = p * z + x + 1.0
    // 2^n: the integer n sits in the low bits of t's pattern (offset by magic's 0x4B400000).
    let nBits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: Float8.self)
    return p * scale
}

/// erf(x), lanewise: Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7, the same
/// approximation PyTorch's vectorised CPU GELU uses.
@inline(__always)
func erf8(_ x: Float8) -> Float8 {
    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    let ax = unsafeBitCast(bits & 0x7FFF_FFFF, to: Float8.self)
    let t = 1.0 / (ax * 0.3275911 + 1.0)
    var p = Float8(repeating: 1.061405429)
    p = p * t + -1.453152027
    p = p * t + 1.421413741
    p = p * t + -0.284496736
    p = p * t + 0.254829592
    p = p * t
    let y = Float8(repeating: 1) - p * exp8(-(ax * ax))
    // copysign(y, x): erf is odd.
    let signBit = bits & 0x8000_0000
    return unsafeBitCast(unsafeBitCast(y, to: SIMD8<UInt32>.self) | signBit, to: Float8.self)
}

/// Loads the `count` (< 8) floats at `p` into the low lanes, `pad` elsewhere: row tails.
@inline(__always)
func loadPartial8(_ p: UnsafePointer<Float>, count: Int, pad: Float) -> Float8 {
    var v = Float8(repeating: pad)
    for j in 0..<count { v[j] = p[j] }
    return v
}

/// Stores the low `count` (< 8) lanes of `v` at `p`.
@inline(__always)
func storePartial8(_ v: Float8, _ p: UnsafeMutablePointer<Float>, count: Int) {
    for j in 0..<count { p[j] = v[j] }
}
