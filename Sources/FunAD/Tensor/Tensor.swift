/// A dense float tensor: explicit shape plus a flat, row-major buffer.
/// Deliberately minimal: kernels are free functions over flat buffers with their
/// sizes as arguments (llm.c style); this type just carries a buffer with its shape
/// between layers and to and from files.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count,
                     "Tensor: shape \(shape) holds \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }
}
