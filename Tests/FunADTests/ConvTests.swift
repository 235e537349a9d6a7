import Foundation
import Testing
@testable import FunAD

/// Kernels vs PyTorch (scripts/fixtures/effnet.py → Fixtures/effnet/kernels.safetensors).
/// Tolerance 1e-5 absolute: the same float32 sums in a different order (GEMM blocking,
/// tap order) differ by a few ulps of values of order 1–10.
@Suite struct ConvTests {
    static let fixtures = try! SafeTensors.read(
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("effnet/kernels.safetensors"))

    func t(_ name: String) -> WeightTensor { Self.fixtures[name]! }

    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "sizes \(a.count) vs \(b.count)")
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    /// (B, C, H, W) → (C, B, H, W) and back, the layout the kernels use.
    static func channelMajor(_ x: WeightTensor) -> [Float] {
        let (b, c, p) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var y = [Float](repeating: 0, count: x.count)
        x.values.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            ChannelMajor.fromBatchMajor(xp.baseAddress!, batch: b, channels: c, plane: p, into: yp.baseAddress!)
        } }
        return y
    }

    static func batchMajor(_ x: [Float], batch: Int, channels: Int, plane: Int) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            ChannelMajor.toBatchMajor(xp.baseAddress!, batch: batch, channels: channels, plane: plane, into: yp.baseAddress!)
        } }
        return y
    }

    func dense(_ p: String, padding: Padding2D, stride: Int, bias: [Float]?) -> [Float] {
        let x = t(p + "_x"), w = t(p + "_w"), y = t(p + "_y")
        let (b, ci, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (co, k) = (w.shape[0], w.shape[2])
        let (ho, wo) = (y.shape[2], y.shape[3])
        let input = Self.channelMajor(x)
        var out = [Float](repeating: .nan, count: co * b * ho * wo)
        var cols = [Float](repeating: .nan, count: ci * k * k * b * ho * wo)
        input.withUnsafeBufferPointer { ip in w.values.withUnsafeBufferPointer { wp in
            out.withUnsafeMutableBufferPointer { op in cols.withUnsafeMutableBufferPointer { cp in
                let bp = bias.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count) }
                if let bias, let bp { bp.initialize(from: bias, count: bias.count) }
                ConvKernels.conv2d(input: ip.baseAddress!, channels: ci, batch: b, height: h, width: wd,
                                   weight: wp.baseAddress!, outChannels: co, kernel: k, stride: stride, padding: padding,
                                   bias: bp.map { UnsafePointer($0) }, activation: .identity,
                                   output: op.baseAddress!, columns: cp.baseAddress!, workers: 2)
                bp?.deallocate()
            } }
        } }
        return Self.batchMajor(out, batch: b, channels: co, plane: ho * wo)
    }

    @Test func samePaddingMatchesThePackagesFormula() {
        // 9×10 input, k3 s2: out 5×5; pad h = 4·2+3−9 = 2 → (1,1); pad w = 4·2+3−10 = 1 → (0,1).
        #expect(Padding2D.same(height: 9, width: 10, kernel: 3, stride: 2) == Padding2D(top: 1, bottom: 1, left: 0, right: 1))
        // 224, k3 s2 (the stem): pad 1 → (0,1). 112, k5 s1: pad 4 → (2,2).
        #expect(Padding2D.same(height: 224, width: 224, kernel: 3, stride: 2) == Padding2D(top: 0, bottom: 1, left: 0, right: 1))
        #expect(Padding2D.same(height: 112, width: 112, kernel: 5, stride: 1) == .symmetric(2))
    }

    @Test func conv2dWithTFSamePadding() {
        let got = dense("same", padding: .same(height: 9, width: 10, kernel: 3, stride: 2), stride: 2, bias: nil)
        let diff = Self.maxAbsDiff(got, t("same_y").values)
        #expect(diff < 1e-5, "max abs diff \(diff)")
    }

    @Test func conv2dWithSymmetricPaddingAndBias() {
        let got = dense("sym", padding: .symmetric(1), stride: 1, bias: t("sym_b").values)
        let diff = Self.maxAbsDiff(got, t("sym_y").values)
        #expect(diff < 1e-5, "max abs diff \(diff)")
    }

    @Test(arguments: [("dw3", 3, 1), ("dw5", 5, 2)])
    func depthwiseConv(name: String, kernel: Int, stride: Int) {
        let x = t(name + "_x"), w = t(name + "_w"), y = t(name + "_y")
        let (b, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let pad = Padding2D.same(height: h, width: wd, kernel: kernel, stride: stride)
        let input = Self.channelMajor(x)
        var out = [Float](repeating: .nan, count: y.count)
        input.withUnsafeBufferPointer { ip in w.values.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { op in
            ConvKernels.depthwise(input: ip.baseAddress!, channels: c, batch: b, height: h, width: wd,
                                  weight: wp.baseAddress!, kernel: kernel, stride: stride, padding: pad,
                                  bias: nil, activation: .identity, output: op.baseAddress!, workers: 2)
        } } }
        let got = Self.batchMajor(out, batch: b, channels: c, plane: y.shape[2] * y.shape[3])
        let diff = Self.maxAbsDiff(got, y.values)
        #expect(diff < 1e-5, "\(name): max abs diff \(diff)")
    }

    @Test func batchNormFoldsIntoConvolution() {
        let x = t("bn_x"), w = t("bn_w"), y = t("bn_y")
        let (b, ci, p) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let co = w.shape[0]
        let f = BatchNormFolding.fold(weight: w.values, outChannels: co, gamma: t("bn_gamma").values, beta: t("bn_beta").values,
                                      mean: t("bn_mean").values, variance: t("bn_var").values, epsilon: 1e-3)
        let input = Self.channelMajor(x)
        var out = [Float](repeating: .nan, count: co * b * p)
        input.withUnsafeBufferPointer { ip in f.weight.withUnsafeBufferPointer { wp in f.bias.withUnsafeBufferPointer { bp in
            out.withUnsafeMutableBufferPointer { op in
                ConvKernels.pointwise(input: ip.baseAddress!, channels: ci, count: b * p, weight: wp.baseAddress!, outChannels: co,
                                      bias: bp.baseAddress!, activation: .identity, output: op.baseAddress!)
            }
        } } }
        let diff = Self.maxAbsDiff(Self.batchMajor(out, batch: b, channels: co, plane: p), y.values)
        #expect(diff < 1e-5, "max abs diff \(diff)")
    }

    @Test(arguments: ["up", "down"])
    func bilinearResizeMatchesInterpolate(name: String) {
        let x = t(name + "_x"), y = t(name + "_y")
        var out = [Float](repeating: .nan, count: y.count)
        x.values.withUnsafeBufferPointer { ip in out.withUnsafeMutableBufferPointer { op in
            PoolingKernels.resizeBilinear(ip.baseAddress!, planes: x.shape[0] * x.shape[1], height: x.shape[2], width: x.shape[3],
                                          toHeight: y.shape[2], width: y.shape[3], into: op.baseAddress!)
        } }
        let diff = Self.maxAbsDiff(out, y.values)
        #expect(diff < 1e-5, "\(name): max abs diff \(diff)")
    }

    /// ReLU6 by its definition, with the bias fused: hand-computed values.
    @Test func relu6WithBias() {
        var x: [Float] = [-1, 0.5, 5.9, 7, -0.25, 2]
        x.withUnsafeMutableBufferPointer { xp in
            ActivationKernels.biasActivate(xp.baseAddress!, rows: 2, cols: 3, bias: [0.5, -1], activation: .relu6)
        }
        #expect(x == [0, 1, 6, 6, 0, 1])
    }

    /// Global average pool of a (C=2, B=2, 2×2) map: per image, per channel means by hand.
    @Test func globalAveragePool() {
        let x: [Float] = [1, 2, 3, 4,  10, 10, 10, 10,  -1, 1, -1, 1,  0, 0, 0, 8]
        var y = [Float](repeating: .nan, count: 4)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            PoolingKernels.globalAverage(xp.baseAddress!, channels: 2, batch: 2, plane: 4, into: yp.baseAddress!)
        } }
        #expect(y == [2.5, 0, 10, 2])   // (b0: c0, c1), (b1: c0, c1)
    }
}

/// The tuned depthwise kernel against its plain reference on shapes that exercise every
/// path: borders, 8-wide interior chunks, stride-2 even-lane loads, scalar tails, rows
/// shorter than a chunk, and asymmetric 'SAME' padding.
@Suite struct DepthwiseKernelTests {
    @Test(arguments: [(3, 1, 5, 7), (3, 1, 30, 37), (5, 1, 14, 14), (3, 2, 112, 112), (5, 2, 57, 41), (5, 2, 8, 9), (3, 2, 3, 2), (5, 1, 7, 7)])
    func tunedMatchesReference(k: Int, s: Int, h: Int, w: Int) {
        let (c, b) = (3, 2)
        var state: UInt32 = 12345
        func next() -> Float { state = state &* 1_664_525 &+ 1_013_904_223; return Float(state >> 8) / Float(1 << 24) * 4 - 2 }
        let x = (0..<(c * b * h * w)).map { _ in next() }
        let wt = (0..<(c * k * k)).map { _ in next() }
        let bias = (0..<c).map { _ in next() }
        let pad = Padding2D.same(height: h, width: w, kernel: k, stride: s)
        let (ho, wo) = pad.outputSize(height: h, width: w, kernel: k, stride: s)
        for act in [Activation.identity, .relu6] {
            var got = [Float](repeating: .nan, count: c * b * ho * wo)
            var want = got
            ConvKernels.depthwise(input: x, channels: c, batch: b, height: h, width: w, weight: wt, kernel: k, stride: s,
                                  padding: pad, bias: bias, activation: act, output: &got, workers: 2)
            ConvKernels.depthwiseReference(input: x, channels: c, batch: b, height: h, width: w, weight: wt, kernel: k, stride: s,
                                           padding: pad, bias: bias, activation: act, output: &want)
            let diff = ConvTests.maxAbsDiff(got, want)
            #expect(diff < 1e-5, "k\(k) s\(s) \(h)×\(w) \(act): max abs diff \(diff)")
        }
    }
}
