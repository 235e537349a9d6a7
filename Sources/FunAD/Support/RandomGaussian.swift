import Foundation

extension Xoshiro256StarStar {
    /// One standard normal draw by the Box–Muller transform in Double precision.
    ///
    /// Box–Muller makes two normals per pair of uniforms; this returns the cosine one and
    /// discards the sine one so that the generator holds no hidden cached value: a
    /// checkpoint's four state words are then the whole story (bit-exact resume).
    /// u1 is taken in (0, 1] so that log(u1) is finite.
    public mutating func nextGaussian() -> Double {
        let u1 = 1.0 - nextUnitDouble()
        let u2 = nextUnitDouble()
        return (-2.0 * Foundation.log(u1)).squareRoot() * Foundation.cos(2.0 * Double.pi * u2)
    }

    /// Fills `buffer[0..<count]` with N(mean, std²) draws as Float.
    public mutating func fillGaussian(_ buffer: UnsafeMutablePointer<Float>, count: Int, mean: Float = 0, std: Float = 1) {
        for i in 0..<count { buffer[i] = mean + std * Float(nextGaussian()) }
    }

    /// Fills `buffer[0..<count]` with standard normal draws using BOTH Box–Muller outputs
    /// (cosine then sine) of each pair of uniforms: half the transcendental work of
    /// `fillGaussian`, for bulk draws such as the perturbation ε. An odd count's last value
    /// uses the cosine output alone. Nothing is cached between calls, so the generator
    /// state stays the whole story.
    public mutating func fillStandardNormalPairs(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i < count {
            let u1 = 1.0 - nextUnitDouble()
            let u2 = nextUnitDouble()
            let r = (-2.0 * Foundation.log(u1)).squareRoot()
            let t = 2.0 * Double.pi * u2
            buffer[i] = Float(r * Foundation.cos(t))
            if i + 1 < count { buffer[i + 1] = Float(r * Foundation.sin(t)) }
            i += 2
        }
    }
}
