/// Train/test split for datasets without an official one (MTD, generic folders): a seeded
/// shuffle of the defect-free images, the first ⌊fraction · N⌋ for training; every
/// defective image goes to test. Recorded in `SplitRecord`.
public struct SeededSplit: Sendable, Equatable {
    public var trainFraction: Double
    public var seed: UInt64

    public init(trainFraction: Double = 0.8, seed: UInt64 = 0) throws {
        guard trainFraction > 0, trainFraction < 1 else {
            throw DatasetError("split: train_fraction must be in (0, 1), got \(trainFraction)")
        }
        self.trainFraction = trainFraction
        self.seed = seed
    }

    /// Assigns train/test to the normal items (by id order, so the input order does not
    /// matter) and returns all items plus the record.
    func apply(normal: [DatasetItem], anomalous: [DatasetItem]) -> ([DatasetItem], SplitRecord) {
        var normals = normal.sorted { $0.id < $1.id }
        let nTrain = Int((trainFraction * Double(normals.count)).rounded(.down))
        var order = Array(0..<normals.count)
        var rng = SplitMix64(seed: seed)
        rng.shuffle(&order)
        let trainSet = Set(order.prefix(nTrain))
        for i in 0..<normals.count { normals[i].split = trainSet.contains(i) ? .train : .test }
        var anomalies = anomalous.sorted { $0.id < $1.id }
        for i in 0..<anomalies.count { anomalies[i].split = .test }
        let record = SplitRecord(seed: seed, trainFraction: trainFraction,
                                 trainIDs: normals.filter { $0.split == .train }.map(\.id).sorted())
        return (normals + anomalies, record)
    }
}
