import Foundation
import Testing
@testable import FunAD

@Suite struct LocalNetTests {
    /// One- and two-step parity with PyTorch (scripts/fixtures/train.py): same initial
    /// weights, batch, pseudo-labels, perturbed copies and mutual pairs → same loss,
    /// gradients and RMSProp updates. Tolerances: Float32 on both sides with different
    /// summation orders; loss to 1e-5 relative, gradients to 1e-5 absolute (their scale
    /// is ~1e-2), weights after a step to 1e-6 (lr 1e-3 moves them by ~1e-3).
    @Test func oneStepMatchesPyTorch() throws {
        let t = try SafeTensors.read(TrainingTestSupport.fixture("step.safetensors"))
        func named(_ prefix: String) -> [String: WeightTensor] {
            Dictionary(uniqueKeysWithValues: t.compactMap { k, v in k.hasPrefix(prefix) ? (String(k.dropFirst(prefix.count)), v) : nil })
        }
        var params = try LocalNetParameters(tensors: named("init."), source: "init")
        let shape = params.shape
        #expect(shape == LocalNetShape(dimension: 12, hidden1: 32, hidden2: 8))
        let x = t["x"]!.values, perturbed = t["perturbed"]!.values
        let n = x.count / shape.dimension
        let labels = t["labels"]!.values.map { UInt8($0) }
        let rows = t["perturbed_rows"]!.values.map { Int($0) }
        let pv = t["pairs"]!.values
        let pairs = MutualPairs(first: stride(from: 0, to: pv.count, by: 2).map { Int32(pv[$0]) },
                                second: stride(from: 1, to: pv.count, by: 2).map { Int32(pv[$0]) })
        var config = RMSPropConfiguration()
        config.learningRate = 1e-3
        var optimizer = RMSProp(parameterCount: params.values.count, configuration: config)
        let step = TrainingStep(shape: shape, rows: n)
        step.inputs.update(from: x, count: x.count)
        (step.inputs + n * shape.dimension).update(from: perturbed, count: perturbed.count)
        var worst: [String: Float] = [:]
        for s in 1...2 {
            step.forwardClean(parameters: params, rows: n)
            let loss = step.lossAndGradients(parameters: params, rows: n, labels: labels, perturbedRows: rows,
                                             pairs: pairs, lambda: 2.5, reduction: .halfMean)
            let ref = t["step\(s).loss"]!.values
            #expect(abs(loss.total - ref[0]) <= 1e-5 * abs(ref[0]), "step \(s) loss \(loss.total) vs \(ref[0])")
            #expect(abs(loss.bce - ref[1]) <= 1e-5 * abs(ref[1]))
            #expect(abs(loss.mutualSmoothness - ref[2]) <= 1e-5 * abs(ref[2]) + 1e-8)
            if s == 1 {
                let g = LocalNetParameters(zeros: shape)
                var grads = g
                grads.values = step.gradients
                for (name, ref) in named("grad.") {
                    let mine = grads.namedTensors[name]!.values
                    let err = zip(mine, ref.values).map { abs($0 - $1) }.max()!
                    worst["grad " + name] = err
                    #expect(err <= 1e-5, "gradient \(name): max abs error \(err)")
                }
            }
            let count = params.values.count
            params.values.withUnsafeMutableBufferPointer { w in
                step.gradients.withUnsafeBufferPointer { g in optimizer.step(parameters: w.baseAddress!, gradients: g.baseAddress!, count: count) }
            }
            for (name, ref) in named("step\(s).") where name != "loss" {
                let err = zip(params.namedTensors[name]!.values, ref.values).map { abs($0 - $1) }.max()!
                worst["step\(s) " + name] = err
                #expect(err <= 1e-6, "weights \(name) after step \(s): max abs error \(err)")
            }
        }
        print("LocalNet parity vs PyTorch, max abs errors:", worst.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }

    /// Analytic gradients (Float kernels) against central finite differences of an
    /// independent Double implementation of the same loss. h = 1e-5 in Double gives
    /// FD errors ~1e-9; the analytic side is Float, so agreement to 2e-4·(1 + |g|)
    /// is expected (observed ~1e-6) unless a gradient term is wrong or missing.
    /// Run twice: on unstructured rows (plain path) and on rows laid out as 3 images of
    /// 3 patches sharing a 3-value global prefix (the split-adaptor path, `SharedPrefix`).
    @Test(arguments: [false, true]) func gradientsMatchFiniteDifferences(sharedGlobalPrefix: Bool) throws {
        let shape = LocalNetShape(dimension: 6, hidden1: 10, hidden2: 5)
        var rng = Xoshiro256StarStar(seed: 7)
        let params = LocalNetParameters(pytorchDefault: shape, rng: &rng)
        let n = 9, d = shape.dimension
        var x = [Float](repeating: 0, count: n * d)
        rng.fillGaussian(&x, count: x.count, std: 1.5)
        if sharedGlobalPrefix {
            for r in 0..<n where r % 3 != 0 { for k in 0..<3 { x[r * d + k] = x[(r - r % 3) * d + k] } }
        }
        let labels: [UInt8] = [0, 1, 0, 0, 1, 0, 0, 1, 0]
        let perturbedRows = [1, 7]
        var perturbed = [Float](repeating: 0, count: 2 * d)
        for (k, r) in perturbedRows.enumerated() { for j in 0..<d { perturbed[k * d + j] = x[r * d + j] + Float(rng.nextGaussian()) * 0.5 } }
        let pairs = MutualPairs(first: [0, 2, 5], second: [3, 4, 8])
        let lambda: Float = 2.5

        let step = TrainingStep(shape: shape, rows: n)
        step.inputs.update(from: x, count: x.count)
        (step.inputs + n * d).update(from: perturbed, count: perturbed.count)
        step.forwardClean(parameters: params, rows: n, imageRows: 3)
        #expect(step.prefix.length == (sharedGlobalPrefix ? 3 : 0))
        _ = step.lossAndGradients(parameters: params, rows: n, labels: labels, perturbedRows: perturbedRows,
                                  pairs: pairs, lambda: lambda, reduction: .halfMean)

        // Double loss: BCE on perturbed predictions for perturbed rows, clean otherwise; ½-mean L_MS.
        var xp = x.map(Double.init)
        for (k, r) in perturbedRows.enumerated() { for j in 0..<d { xp[r * d + j] = Double(perturbed[k * d + j]) } }
        let xc = x.map(Double.init)
        func loss(_ w: [Double]) -> Double {
            let clean = TrainingTestSupport.referenceForward(w, shape: shape, x: xc, rows: n).scores
            let pert = TrainingTestSupport.referenceForward(w, shape: shape, x: xp, rows: n).scores
            var la = 0.0, ln = 0.0, na = 0.0, nn = 0.0
            for i in 0..<n {
                if labels[i] == 1 { la -= Foundation.log(pert[i]); na += 1 } else { ln -= Foundation.log(1 - pert[i]); nn += 1 }
            }
            var ms = 0.0
            for k in 0..<pairs.count { ms += abs(clean[Int(pairs.first[k])] - clean[Int(pairs.second[k])]) }
            return la / na + ln / nn + Double(lambda) * 0.5 * ms / Double(pairs.count)
        }
        var w = params.values.map(Double.init)
        let h = 1e-5
        var worst = 0.0
        for i in w.indices {
            let keep = w[i]
            w[i] = keep + h; let up = loss(w)
            w[i] = keep - h; let down = loss(w)
            w[i] = keep
            let numeric = (up - down) / (2 * h)
            let analytic = Double(step.gradients[i])
            let err = abs(numeric - analytic)
            worst = max(worst, err)
            #expect(err <= 2e-4 * (1 + abs(numeric)), "parameter \(i): analytic \(analytic) vs numeric \(numeric)")
        }
        print("LocalNet gradient check (shared prefix \(sharedGlobalPrefix)): max |analytic − finite difference| = \(worst) over \(w.count) parameters")
    }

    /// nn.Linear's default init: U(−1/√fan_in, 1/√fan_in) for weights and biases.
    /// Invariants: every value inside its bound, and per tensor the sample variance
    /// close to bound²/3 (4 standard errors for the larger tensors).
    @Test func initialisationFollowsPyTorchDefault() {
        let shape = LocalNetShape(dimension: 64, hidden1: 96, hidden2: 32)
        let p = LocalNetParameters(pytorchDefault: shape, seed: 3)
        for t in shape.tensors {
            let v = p.namedTensors[t.name]!.values
            let bound = 1 / Float(t.fanIn).squareRoot()
            #expect(v.allSatisfy { abs($0) <= bound }, "\(t.name) exceeds ±\(bound)")
            if v.count >= 1000 {
                let mean = v.reduce(0, +) / Float(v.count)
                let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(v.count)
                let expected = bound * bound / 3
                // Var of the sample variance of U(−b,b): (b⁴/5 − b⁴/9)/n = 4b⁴/(45n).
                let se = (4 * pow(bound, 4) / (45 * Float(v.count))).squareRoot()
                #expect(abs(variance - expected) <= 4 * se, "\(t.name): variance \(variance), expected \(expected)")
                #expect(abs(mean) <= 4 * bound / (3 * Float(v.count)).squareRoot())
            }
        }
        #expect(LocalNetParameters(pytorchDefault: shape, seed: 3) == p)
        #expect(LocalNetParameters(pytorchDefault: shape, seed: 4) != p)
    }

    /// The frozen scorer (PatchScorer) against the Double reference forward, across a
    /// chunk boundary; and a save/load round trip under the official tensor names.
    @Test func scorerMatchesReferenceAndRoundTrips() throws {
        let shape = LocalNetShape(dimension: 20, hidden1: 24, hidden2: 6)
        let params = LocalNetParameters(pytorchDefault: shape, seed: 11)
        var net = LocalNet(parameters: params)
        net.chunkRows = 7
        let n = 30
        var rng = Xoshiro256StarStar(seed: 12)
        var x = [Float](repeating: 0, count: n * shape.dimension)
        rng.fillGaussian(&x, count: x.count)
        var scores = [Float](repeating: 0, count: n)
        var adapted = [Float](repeating: 0, count: n * shape.dimension)
        try net.scoreAndAdapt(x, count: n, scores: &scores, adapted: &adapted)
        let ref = TrainingTestSupport.referenceForward(params.values.map(Double.init), shape: shape, x: x.map(Double.init), rows: n)
        let scoreErr = zip(scores, ref.scores).map { abs(Double($0) - $1) }.max()!
        let adaptErr = zip(adapted, ref.adapted).map { abs(Double($0) - $1) }.max()!
        #expect(scoreErr < 1e-6 && adaptErr < 1e-5, "score error \(scoreErr), adapted error \(adaptErr)")
        var again = [Float](repeating: 0, count: n)
        try net.scorePatches(x, count: n, into: &again)
        #expect(again == scores)

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("localnet-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try net.save(to: url)
        let loaded = try LocalNet(contentsOf: url)
        #expect(loaded.parameters == params)
        #expect(Set(try SafeTensors.read(url).keys) == Set(shape.tensors.map(\.name)))
    }

    @Test func loadingReportsMissingOrMisshapedTensors() throws {
        var tensors = LocalNetParameters(pytorchDefault: LocalNetShape(dimension: 4, hidden1: 5, hidden2: 3), seed: 1).namedTensors
        tensors["discriminator.4.bias"] = nil
        #expect(throws: WeightsError.self) { try LocalNetParameters(tensors: tensors, source: "w.safetensors") }
        do { _ = try LocalNetParameters(tensors: tensors, source: "w.safetensors") } catch {
            #expect("\(error)" == "w.safetensors: missing tensor 'discriminator.4.bias' of shape [1]")
        }
        tensors["discriminator.4.bias"] = WeightTensor(shape: [2], values: [0, 0])
        do { _ = try LocalNetParameters(tensors: tensors, source: "w.safetensors") } catch {
            #expect("\(error)" == "w.safetensors: tensor 'discriminator.4.bias' has shape [2]; expected [1]")
        }
    }

    /// torch.optim.RMSprop by hand for two steps on one parameter:
    /// g = 0.5: v = 0.01·0.25 = 0.0025, avg = 0.05 + 1e-8, b = 0.5/avg ≈ 10, θ = 1 − 0.1·10 = 0;
    /// g = −1: v = 0.99·0.0025 + 0.01 = 0.012475, b = 0.2·b₁ − 1/(√v + 1e-8), θ₂ = θ₁ − 0.1·b.
    @Test func rmspropMatchesHandComputation() {
        var c = RMSPropConfiguration()
        c.learningRate = 0.1
        var opt = RMSProp(parameterCount: 1, configuration: c)
        var theta: [Float] = [1]
        opt.step(parameters: &theta, gradients: [0.5], count: 1)
        let b1 = 0.5 / (0.0025.squareRoot() + 1e-8)
        #expect(abs(Double(theta[0]) - (1 - 0.1 * b1)) < 1e-6)
        opt.step(parameters: &theta, gradients: [-1], count: 1)
        let v2 = 0.99 * 0.0025 + 0.01
        let b2 = 0.2 * b1 - 1 / (v2.squareRoot() + 1e-8)
        #expect(abs(Double(theta[0]) - (1 - 0.1 * b1 - 0.1 * b2)) < 1e-5)
        #expect(abs(Double(opt.squareAverage[0]) - v2) < 1e-7) // Float32 state: ~10 ulp
    }

    /// The split-adaptor path (`SharedPrefix`) against the plain path at a realistic
    /// ratio (global half of D = 64, 4 images × 12 patches): scores, adapted features and
    /// gradients agree to float rounding (1e-5 of each quantity's scale), and
    /// `scoreImages` agrees with `scorePatches`.
    @Test func sharedPrefixPathMatchesPlainPath() throws {
        let shape = LocalNetShape(dimension: 64, hidden1: 48, hidden2: 16)
        let params = LocalNetParameters(pytorchDefault: shape, seed: 9)
        let (b, p, d) = (4, 12, 64)
        var rng = Xoshiro256StarStar(seed: 10)
        var x = [Float](repeating: 0, count: b * p * d)
        rng.fillGaussian(&x, count: x.count)
        for i in 0..<b { for j in 1..<p { for k in 0..<32 { x[(i * p + j) * d + k] = x[i * p * d + k] } } }
        let rows = b * p
        var labels = [UInt8](repeating: 0, count: rows)
        for i in stride(from: 0, to: rows, by: 5) { labels[i] = 1 }
        let pert = [3, 17]
        func run(_ exploit: Bool) -> (scores: [Float], adapted: [Float], grads: [Float]) {
            let step = TrainingStep(shape: shape, rows: rows)
            step.exploitSharedPrefix = exploit
            step.inputs.update(from: x, count: x.count)
            for (k, r) in pert.enumerated() { for j in 0..<d { step.inputs[(rows + k) * d + j] = x[r * d + j] + 0.3 } }
            step.forwardClean(parameters: params, rows: rows, imageRows: p)
            #expect(step.prefix.length == (exploit ? 32 : 0))
            let scores = Array(UnsafeBufferPointer(start: step.workspace.scores, count: rows))
            let adapted = Array(UnsafeBufferPointer(start: step.workspace.adapted, count: rows * d))
            _ = step.lossAndGradients(parameters: params, rows: rows, labels: labels, perturbedRows: pert,
                                      pairs: MutualPairs(first: [0, 5], second: [9, 30]), lambda: 2.5, reduction: .halfMean)
            return (scores, adapted, step.gradients)
        }
        let plain = run(false), split = run(true)
        func relErr(_ a: [Float], _ b: [Float]) -> Float {
            zip(a, b).map { abs($0 - $1) }.max()! / max(1e-12, b.map { abs($0) }.max()!)
        }
        #expect(relErr(split.scores, plain.scores) < 1e-5)
        #expect(relErr(split.adapted, plain.adapted) < 1e-5)
        #expect(relErr(split.grads, plain.grads) < 1e-5)
        let net = LocalNet(parameters: params)
        var byImage = [Float](repeating: 0, count: rows), byPatch = [Float](repeating: 0, count: rows)
        try net.scoreImages(x, images: b, patchesPerImage: p, scores: &byImage)
        try net.scorePatches(x, count: rows, into: &byPatch)
        #expect(relErr(byImage, byPatch) < 1e-5)
    }
}
