import Foundation

/// Semantic anomaly detection, one class against the rest (the paper's CIFAR-10 protocol,
/// supplement Sec. 2): a folder-per-class set, `train/<class>/*` and `test/<class>/*`.
/// The chosen class is normal; the training set is its training images plus
/// ⌊r · N_normal⌋ training images drawn (seeded) from the other classes, unlabelled; the
/// test set is every test image, anomalous unless it belongs to the normal class.
public enum SemanticFolders {
    /// The listed set: the normal class's training images and every test image as a
    /// `Dataset`, and the other classes' training images as the pool anomalies are drawn from.
    public struct Listing: Sendable, Equatable {
        public var dataset: Dataset
        public var pool: [DatasetItem]
        public var classes: [String]
    }

    public static func list(root: URL, normalClass: String) throws -> Listing {
        let train = root.appendingPathComponent("train"), test = root.appendingPathComponent("test")
        guard DirectoryScan.isDirectory(train), DirectoryScan.isDirectory(test) else {
            throw DatasetError("\(root.path): not a folder-per-class set (expected train/<class>/ and test/<class>/)")
        }
        let classes = try DirectoryScan.subdirectories(train).map(\.lastPathComponent).sorted()
        guard classes.contains(normalClass) else {
            throw DatasetError("\(root.path): normal class '\(normalClass)' is not a folder of train/ (classes: \(classes.joined(separator: ", ")))")
        }
        guard classes.count >= 2 else {
            throw DatasetError("\(root.path): one-vs-rest needs at least two classes in train/, found \(classes.joined(separator: ", "))")
        }
        var items: [DatasetItem] = []
        var pool: [DatasetItem] = []
        for name in classes {
            for url in try DirectoryScan.images(in: train.appendingPathComponent(name)) {
                let normal = name == normalClass
                let item = DatasetItem(id: DirectoryScan.relativePath(url, to: root), path: url, split: .train,
                                       label: normal ? .normal : .anomalous, defectType: normal ? "good" : name, maskPath: nil)
                if normal { items.append(item) } else { pool.append(item) }
            }
        }
        guard !items.isEmpty else { throw DatasetError("\(train.path)/\(normalClass): no images of the normal class") }
        var testCount = 0
        for typeDir in try DirectoryScan.subdirectories(test) {
            let name = typeDir.lastPathComponent
            for url in try DirectoryScan.images(in: typeDir) {
                items.append(DatasetItem(id: DirectoryScan.relativePath(url, to: root), path: url, split: .test,
                                         label: name == normalClass ? .normal : .anomalous,
                                         defectType: name == normalClass ? "good" : name, maskPath: nil))
                testCount += 1
            }
        }
        guard testCount > 0 else { throw DatasetError("\(test.path): no test images") }
        return Listing(dataset: Dataset(layout: "semantic", root: root, items: items), pool: pool, classes: classes)
    }
}

/// The semantic contamination draw: ⌊ratio · N_normal⌋ images of the pool (the other
/// classes' training images), seeded, join the normal class's training images. The test
/// set is untouched (the pool is not part of it), so overlap does not arise.
public struct SemanticContamination: Sendable, Equatable {
    public var ratio: Double
    public var seed: UInt64

    public init(ratio: Double, seed: UInt64) throws {
        guard ratio >= 0, ratio <= 1, ratio.isFinite else {
            throw DatasetError("contamination: ratio must be in [0, 1], got \(ratio)")
        }
        self.ratio = ratio
        self.seed = seed
    }

    /// Ids of the drawn pool items, in draw order.
    public func draw(from pool: [DatasetItem], normalCount: Int) throws -> [DatasetItem] {
        let n = Int((ratio * Double(normalCount)).rounded(.down))
        let sorted = pool.sorted { $0.id < $1.id }
        guard n <= sorted.count else {
            throw DatasetError("contamination: ratio \(ratio) of \(normalCount) normal training images needs \(n) images of the other classes, the set has \(sorted.count)")
        }
        var rng = SplitMix64(seed: seed)
        var order = Array(0..<sorted.count)
        rng.shuffle(&order)
        return order.prefix(n).map { sorted[$0] }
    }

    /// The unlabelled training set and the audit. `dataset` holds the normal class's
    /// training images, the drawn images (split train, label anomalous) and the test set.
    public func apply(to dataset: Dataset, drawn: [DatasetItem]) throws -> ContaminatedDataset {
        // The SoftPatch protocol at ratio 0 shuffles the training list (the drawn images
        // included) and gives it opaque ids; its audit is then completed with the draw.
        var result = try ContaminationProtocol(ratio: 0, overlap: false, seed: seed).apply(to: dataset)
        let drawnIDs = Set(drawn.map(\.id))
        result.audit.ratio = ratio
        result.audit.trainGoodCount = dataset.items.filter { $0.split == .train && !drawnIDs.contains($0.id) }.count
        result.audit.noiseCount = drawn.count
        result.audit.movedIDs = drawn.map(\.id)
        return result
    }
}
