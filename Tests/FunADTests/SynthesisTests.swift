import Foundation
import Testing
@testable import FunAD

@Suite struct SynthesisTests {
    static func readLE<T>(_ name: String, as: T.Type, _ convert: (UInt64) -> T, width: Int) throws -> [T] {
        let raw = try ImagingFixtures.bytes(name)
        return stride(from: 0, to: raw.count, by: width).map { o in
            var v: UInt64 = 0
            for b in 0..<width { v |= UInt64(raw[o + b]) << (8 * UInt64(b)) }
            return convert(v)
        }
    }

    /// Same lattice angles as DRAEM's numpy code → same noise (float32 rounding: 1e-5).
    @Test(arguments: ImagingFixtures.names("perlin"))
    func perlinMatchesDRAEMReference(_ name: String) throws {
        let e = try ImagingFixtures.entry(name)
        let angles = try Self.readLE(name + ".angles.f64", as: Double.self, { Double(bitPattern: $0) }, width: 8)
        let expected = try Self.readLE(name + ".f32", as: Float.self, { Float(bitPattern: UInt32($0)) }, width: 4)
        let noise = PerlinNoise.noise(height: e["height"] as! Int, width: e["width"] as! Int,
                                      resY: e["res_y"] as! Int, resX: e["res_x"] as! Int, angles: angles)
        let diff = maxAbsDifference(noise, expected)
        print("perlin \(name): max abs error \(diff)")
        #expect(diff < 1e-5)
    }

    @Test func rotationByZeroIsIdentityAndBy180ReversesThePlane() {
        var rng = SplitMix64(seed: 1)
        let plane = (0..<(9 * 7)).map { _ in rng.nextFloat() }
        #expect(PlaneWarp.rotate(plane, height: 9, width: 7, degrees: 0) == plane)
        let half = PlaneWarp.rotate(plane, height: 9, width: 7, degrees: 180)
        #expect(maxAbsDifference(half, plane.reversed()) < 1e-5)
    }

    @Test func masksAreNonEmptyBinaryAndReproducible() throws {
        for seed: UInt64 in 0..<20 {
            var a = SplitMix64(seed: seed), b = SplitMix64(seed: seed)
            let m1 = try PerlinAnomalySynthesizer.mask(size: 224, rng: &a)
            let m2 = try PerlinAnomalySynthesizer.mask(size: 224, rng: &b)
            #expect(m1.mask == m2.mask)
            #expect(m1.mask.contains(1))
            #expect(m1.mask.allSatisfy { $0 == 0 || $0 == 1 })
            #expect(m1.res.0 >= 1 && m1.res.0 <= 32 && m1.res.1 >= 1 && m1.res.1 <= 32)
            #expect(abs(m1.angle) <= 90)
        }
    }

    /// Smooth synthetic "training images" (3 × 64 × 64) that differ per index.
    static func trainingImage(_ i: Int) -> ImagePlanes {
        var data = [Float](repeating: 0, count: 3 * 64 * 64)
        for c in 0..<3 { for y in 0..<64 { for x in 0..<64 {
            data[(c * 64 + y) * 64 + x] = 0.5 + 0.4 * sin(Float(x + 3 * i) * 0.1 + Float(c)) * cos(Float(y) * 0.07)
        } } }
        return ImagePlanes(width: 64, height: 64, channels: 3, data: data)
    }

    @Test func synthesisCountBlendAndReproducibility() throws {
        let synth = try PerlinAnomalySynthesizer(ratio: 0.05, seed: 4)
        #expect(synth.count(trainingSize: 219) == 10)   // ⌊0.05 · 219⌋ = ⌊10.95⌋
        let a = try synth.synthesize(trainingCount: 100) { Self.trainingImage($0) }
        let b = try synth.synthesize(trainingCount: 100) { Self.trainingImage($0) }
        let c = try PerlinAnomalySynthesizer(ratio: 0.05, seed: 5).synthesize(trainingCount: 100) { Self.trainingImage($0) }
        #expect(a.count == 5)
        #expect(a == b)
        #expect(a.map(\.mask) != c.map(\.mask))
        #expect(Set(a.map(\.baseIndex)).count == 5)
        for s in a {
            #expect(s.textureIndex != s.baseIndex)
            #expect(s.beta >= 0 && s.beta < 0.8)
            #expect(s.augmentations.count == 3 && Set(s.augmentations).count == 3)
            #expect(s.mask.data.contains(1))
            #expect(s.record.maskPixels == s.mask.data.filter { $0 == 1 }.count && s.record.maskPixels > 0)
            let base = Self.trainingImage(s.baseIndex)
            let n = 64 * 64
            // Outside the mask the image is untouched; inside it is a β-blend, so it lies
            // between the original value and some texture value in [0, 1].
            for i in 0..<n {
                for ch in 0..<3 {
                    let v = s.image.data[ch * n + i], x = base.data[ch * n + i]
                    if s.mask.data[i] == 0 {
                        #expect(v == x)
                    } else {
                        #expect(v >= s.beta * x - 1e-6 && v <= s.beta * x + (1 - s.beta) + 1e-6)
                    }
                }
            }
        }
    }

    @Test func rejectsImagesOfTheWrongShape() throws {
        let synth = try PerlinAnomalySynthesizer(ratio: 0.5, seed: 0)
        #expect(throws: SynthesisError.self) {
            try synth.synthesize(trainingCount: 4) { _ in ImagePlanes(width: 50, height: 50, channels: 3) }
        }
        #expect(throws: SynthesisError.self) { try PerlinAnomalySynthesizer(ratio: 2, seed: 0) }
    }
}
