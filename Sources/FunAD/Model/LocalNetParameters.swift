/// Layer sizes of Local-Net φ (METHOD.md "Local-Net φ"): adaptor D→D, head D→h1→h2→1.
/// The paper's sizes are h1 = 1024, h2 = 128; tests use smaller heads to keep fixtures small.
public struct LocalNetShape: Sendable, Equatable, Codable {
    public var dimension: Int
    public var hidden1: Int
    public var hidden2: Int

    public init(dimension: Int, hidden1: Int = 1024, hidden2: Int = 128) {
        self.dimension = dimension
        self.hidden1 = hidden1
        self.hidden2 = hidden2
    }

    /// Names, shapes (PyTorch nn.Linear layout: out × in) and fan-in of the eight
    /// parameter tensors, in storage order. The names are the official implementation's
    /// state_dict keys (model.localnet), so its checkpoints load directly.
    var tensors: [(name: String, shape: [Int], fanIn: Int)] {
        let (d, h1, h2) = (dimension, hidden1, hidden2)
        return [
            ("adaptor.0.weight", [d, d], d), ("adaptor.0.bias", [d], d),
            ("discriminator.0.weight", [h1, d], d), ("discriminator.0.bias", [h1], d),
            ("discriminator.2.weight", [h2, h1], h1), ("discriminator.2.bias", [h2], h1),
            ("discriminator.4.weight", [1, h2], h2), ("discriminator.4.bias", [1], h2),
        ]
    }

    /// Offsets of each tensor in the flat parameter buffer, plus the total count.
    var offsets: (starts: [Int], total: Int) {
        var starts: [Int] = []
        var total = 0
        for t in tensors {
            starts.append(total)
            total += t.shape.reduce(1, *)
        }
        return (starts, total)
    }
}

/// All Local-Net parameters in ONE flat buffer (llm.c style), so that the optimiser,
/// gradient accumulation and checkpoints are single loops / single copies. Views of
/// the eight tensors are by offset (`LocalNetShape.tensors` order).
public struct LocalNetParameters: Sendable, Equatable {
    public let shape: LocalNetShape
    public var values: [Float]

    /// Zero parameters (used for gradient buffers).
    public init(zeros shape: LocalNetShape) {
        self.shape = shape
        self.values = [Float](repeating: 0, count: shape.offsets.total)
    }

    /// PyTorch's default nn.Linear initialisation: weight kaiming_uniform_(a = √5),
    /// i.e. U(−b, b) with b = gain·√(3/fan_in), gain = √(2/(1+5)), so b = 1/√fan_in;
    /// bias U(−1/√fan_in, 1/√fan_in). Drawn from `Xoshiro256StarStar(seed:)`, tensor by
    /// tensor in storage order (same distribution as PyTorch, not its bit stream).
    public init(pytorchDefault shape: LocalNetShape, seed: UInt64) {
        var rng = Xoshiro256StarStar(seed: seed)
        self.init(pytorchDefault: shape, rng: &rng)
    }

    public init(pytorchDefault shape: LocalNetShape, rng: inout Xoshiro256StarStar) {
        self.init(zeros: shape)
        var k = 0
        for t in shape.tensors {
            let bound = 1 / Float(t.fanIn).squareRoot()
            for _ in 0..<t.shape.reduce(1, *) {
                values[k] = (2 * rng.nextUnitFloat() - 1) * bound
                k += 1
            }
        }
    }

    /// Builds parameters from named tensors (official state_dict names); every tensor
    /// must be present with the expected shape. `source` names the file in errors.
    public init(tensors: [String: WeightTensor], source: String) throws {
        guard let w = tensors["adaptor.0.weight"], w.shape.count == 2 else {
            throw WeightsError("\(source): missing 'adaptor.0.weight' (a D×D matrix)")
        }
        guard let h1 = tensors["discriminator.0.weight"], h1.shape.count == 2,
              let h2 = tensors["discriminator.2.weight"], h2.shape.count == 2 else {
            throw WeightsError("\(source): missing 'discriminator.0.weight' or 'discriminator.2.weight' (head matrices)")
        }
        let shape = LocalNetShape(dimension: w.shape[1], hidden1: h1.shape[0], hidden2: h2.shape[0])
        self.init(zeros: shape)
        let starts = shape.offsets.starts
        for (i, t) in shape.tensors.enumerated() {
            guard let v = tensors[t.name] else { throw WeightsError("\(source): missing tensor '\(t.name)' of shape \(t.shape)") }
            guard v.shape == t.shape else {
                throw WeightsError("\(source): tensor '\(t.name)' has shape \(v.shape); expected \(t.shape)")
            }
            values.replaceSubrange(starts[i]..<(starts[i] + v.count), with: v.values)
        }
    }

    /// The eight tensors by their official names.
    public var namedTensors: [String: WeightTensor] {
        var out: [String: WeightTensor] = [:]
        let starts = shape.offsets.starts
        for (i, t) in shape.tensors.enumerated() {
            let n = t.shape.reduce(1, *)
            out[t.name] = WeightTensor(shape: t.shape, values: Array(values[starts[i]..<(starts[i] + n)]))
        }
        return out
    }
}
