import Foundation
import Testing
@testable import FunAD

/// Loads a safetensors fixture from Fixtures/vit/.
func vitFixture(_ file: String) throws -> [String: WeightTensor] {
    let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("vit/\(file)")
    return try SafeTensors.read(url)
}


/// Each kernel against PyTorch's output for the same inputs (scripts/fixtures/vit.py).
/// Tolerances: float32 rounding of O(1) values over ≤ 48-term sums is ~1e-6; each test
/// allows a few times that, far below any real bug (a wrong eps, a missing bias or a
/// wrong head stride gives errors ≥ 1e-2).
@Suite struct KernelTests {
    let t: [String: WeightTensor]
    init() throws { t = try vitFixture("kernels.safetensors") }

    @Test(arguments: ["ln", "ln_tail"])
    func layerNormMatchesPyTorch(_ tag: String) throws {
        let x = t["\(tag).x"]!, w = t["\(tag).weight"]!.values, b = t["\(tag).bias"]!.values
        let (rows, dim) = (x.shape[0], x.shape[1])
        var y = [Float](repeating: 0, count: rows * dim)
        layerNorm(x.values, &y, weight: w, bias: b, rows: rows, dim: dim, eps: 1e-6)
        #expect(maxAbsDifference(y, t["\(tag).y"]!.values) < 1e-5)
    }

    /// The fused residual step: x += rowBias, then LayerNorm(x). Expected: x + bias by hand,
    /// and LayerNorm of that from the fixture with the bias folded into a shifted input.
    @Test func addBiasLayerNormUpdatesTheStreamAndNormalises() throws {
        let x0 = t["ln.x"]!, w = t["ln.weight"]!.values, b = t["ln.bias"]!.values
        let (rows, dim) = (x0.shape[0], x0.shape[1])
        // Split the fixture's input into (x − 0.5) + 0.5 so that the fused result must equal ln.y.
        var x = x0.values.map { $0 - 0.5 }
        let rowBias = [Float](repeating: 0.5, count: dim)
        var y = [Float](repeating: 0, count: rows * dim)
        addBiasLayerNorm(&x, rowBias: rowBias, &y, weight: w, bias: b, rows: rows, dim: dim, eps: 1e-6)
        #expect(maxAbsDifference(x, x0.values) < 1e-6)
        #expect(maxAbsDifference(y, t["ln.y"]!.values) < 2e-5)
    }

    @Test func geluIsTheExactErfForm() throws {
        var x = t["gelu.x"]!.values
        gelu(&x, count: x.count)
        #expect(maxAbsDifference(x, t["gelu.y"]!.values) < 2e-6)
        var xb = t["bias_gelu.x"]!
        addBiasGELU(&xb.values, bias: t["bias_gelu.bias"]!.values, rows: xb.shape[0], cols: xb.shape[1])
        #expect(maxAbsDifference(xb.values, t["bias_gelu.y"]!.values) < 2e-6)
    }

    @Test func softmaxMatchesPyTorchIncludingHugeLogits() throws {
        var x = t["softmax.x"]!
        softmaxRows(&x.values, rows: x.shape[0], cols: x.shape[1])
        #expect(maxAbsDifference(x.values, t["softmax.y"]!.values) < 1e-6)
        for r in 0..<x.shape[0] {
            let sum = x.values[r * x.shape[1]..<(r + 1) * x.shape[1]].reduce(0, +)
            #expect(abs(sum - 1) < 1e-5)
        }
    }

    @Test func linearIsXTimesWTransposedPlusBias() throws {
        let x = t["linear.x"]!, w = t["linear.weight"]!, b = t["linear.bias"]!.values
        var y = [Float](repeating: 0, count: x.shape[0] * w.shape[0])
        linear(x.values, weight: w.values, bias: b, &y, rows: x.shape[0], inFeatures: x.shape[1], outFeatures: w.shape[0])
        #expect(maxAbsDifference(y, t["linear.y"]!.values) < 1e-4)
        // accumulate: y += x·Wᵀ + b again doubles it.
        linear(x.values, weight: w.values, bias: b, &y, rows: x.shape[0], inFeatures: x.shape[1], outFeatures: w.shape[0],
               accumulate: true)
        #expect(maxAbsDifference(y, t["linear.y"]!.values.map { 2 * $0 }) < 2e-4)
    }

    @Test func multiHeadAttentionMatchesDINO() throws {
        let qkv = t["attention.qkv"]!
        let tokens = qkv.shape[0], dim = qkv.shape[1] / 3
        var out = [Float](repeating: 0, count: tokens * dim)
        var scores = [Float](repeating: 0, count: tokens * (tokens + 1))
        multiHeadAttention(qkv: qkv.values, &out, scores: &scores, tokens: tokens, dim: dim, heads: 3)
        #expect(maxAbsDifference(out, t["attention.out"]!.values) < 1e-5)
    }

    /// The vectorised exp and erf against libm in double precision, over exp's whole
    /// unclamped range [-87, 88]. erf: A&S 7.1.26's 1.5e-7 plus float32 rounding of
    /// 1 − p·e^(−x²) (a few ulp of 1), hence 6e-7.
    @Test func vectorExpAndErfAreAccurate() {
        var worstExp: Double = 0, worstErf: Double = 0
        var x: Float = -87
        while x < 87.9 {
            let v = Float8((0..<8).map { x + Float($0) * 0.0137 })
            let e = exp8(v), f = erf8(v * 0.05)
            for j in 0..<8 {
                let ref = Foundation.exp(Double(v[j]))
                worstExp = max(worstExp, abs(Double(e[j]) - ref) / ref)
                worstErf = max(worstErf, abs(Double(f[j]) - Foundation.erf(Double(v[j] * 0.05))))
            }
            x += 0.1
        }
        #expect(worstExp < 5e-7)
        #expect(worstErf < 6e-7)
    }
}
