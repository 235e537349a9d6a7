import Foundation

/// A training image as the method sees it: an opaque id and a file. No label, no defect
/// type, no mask, and ids that do not reveal where the image came from, so nothing
/// downstream of the load stage can use ground truth for training (METHOD.md: the
/// training set is unlabelled and contaminated).
public struct UnlabelledItem: Sendable, Equatable, Hashable, Codable {
    public let id: String
    public let path: URL

    public init(id: String, path: URL) {
        self.id = id
        self.path = path
    }
}

/// An evaluation image with its ground truth.
public struct LabelledItem: Sendable, Equatable, Codable {
    public let id: String
    public let path: URL
    public let label: ItemLabel
    public let defectType: String
    public let maskPath: URL?

    public init(_ item: DatasetItem) {
        id = item.id
        path = item.path
        label = item.label
        defectType = item.defectType
        maskPath = item.maskPath
    }
}

/// Ground truth about the training set, kept apart from it: which unlabelled ids are
/// contaminated. Used only for reporting (e.g. bank purity), never for training.
public struct ContaminationAudit: Sendable, Equatable, Codable {
    public var ratio: Double
    public var overlap: Bool
    public var seed: UInt64
    /// N_train_good: defect-free training images before contamination.
    public var trainGoodCount: Int
    /// n_noise = ⌊ratio · N_train_good⌋.
    public var noiseCount: Int
    /// Dataset ids of the defective test images moved into training, in draw order.
    public var movedIDs: [String]
    /// Unlabelled id → dataset id, for every training item.
    public var sourceOfTrainingID: [String: String]
    /// Unlabelled ids whose image is defective (moved anomalies, and any anomalous
    /// images the dataset itself put in its training split).
    public var contaminatedTrainingIDs: [String]

    public func isContaminated(_ unlabelledID: String) -> Bool {
        contaminatedTrainingIDs.contains(unlabelledID)
    }
}

/// The contaminated training set, the evaluation set, and the audit record.
public struct ContaminatedDataset: Sendable, Equatable, Codable {
    public var train: [UnlabelledItem]
    public var test: [LabelledItem]
    public var audit: ContaminationAudit
}

/// SoftPatch's contamination protocol (METHOD.md "Contamination protocol"): draw
/// n_noise = ⌊r · N_train_good⌋ defective test images (seeded) and move them into the
/// unlabelled training set; without overlap they leave the test set, with overlap they
/// stay. The training list is then shuffled with the same seed and given opaque ids
/// ("train-0000" …), so neither order nor id tells a moved image from a normal one.
public struct ContaminationProtocol: Sendable, Equatable {
    public var ratio: Double
    public var overlap: Bool
    public var seed: UInt64

    public init(ratio: Double, overlap: Bool, seed: UInt64) throws {
        guard ratio >= 0, ratio <= 1, ratio.isFinite else {
            throw DatasetError("contamination: ratio must be in [0, 1], got \(ratio)")
        }
        self.ratio = ratio
        self.overlap = overlap
        self.seed = seed
    }

    public func apply(to dataset: Dataset) throws -> ContaminatedDataset {
        let trainItems = dataset.items.filter { $0.split == .train }.sorted { $0.id < $1.id }
        let testItems = dataset.items.filter { $0.split == .test }
        let trainGood = trainItems.filter { $0.label == .normal }.count
        // Same double arithmetic as Python's int(r * N).
        let nNoise = Int((ratio * Double(trainGood)).rounded(.down))
        let pool = testItems.filter { $0.label == .anomalous }.sorted { $0.id < $1.id }
        guard nNoise <= pool.count else {
            throw DatasetError("contamination: ratio \(ratio) of \(trainGood) training images needs \(nNoise) "
                               + "defective test images, the dataset has \(pool.count)")
        }
        var rng = SplitMix64(seed: seed)
        var order = Array(0..<pool.count)
        rng.shuffle(&order)
        let moved = order.prefix(nNoise).map { pool[$0] }
        let movedIDs = Set(moved.map(\.id))

        var combined = trainItems + moved
        rng.shuffle(&combined)
        var train: [UnlabelledItem] = []
        var source: [String: String] = [:]
        var contaminated: [String] = []
        let width = max(4, String(combined.count).count)
        for (i, item) in combined.enumerated() {
            let id = "train-" + String(i).leftPadded(width).replacingOccurrences(of: " ", with: "0")
            train.append(UnlabelledItem(id: id, path: item.path))
            source[id] = item.id
            if item.label == .anomalous { contaminated.append(id) }
        }
        let test = testItems.filter { overlap || !movedIDs.contains($0.id) }.map(LabelledItem.init)
        let audit = ContaminationAudit(ratio: ratio, overlap: overlap, seed: seed, trainGoodCount: trainGood,
                                       noiseCount: nNoise, movedIDs: moved.map(\.id),
                                       sourceOfTrainingID: source, contaminatedTrainingIDs: contaminated)
        return ContaminatedDataset(train: train, test: test, audit: audit)
    }
}
