import Foundation

public enum DatasetSplit: String, Sendable, Codable, CaseIterable {
    case train, test
}

public enum ItemLabel: String, Sendable, Codable {
    case normal, anomalous
}

/// One image of a loaded dataset, as its layout describes it (nothing is decoded here;
/// decoding happens in the extract stage, streaming). `id` is the path relative to the
/// dataset root: stable, unique, and what run records refer to.
public struct DatasetItem: Sendable, Equatable, Codable {
    public var id: String
    public var path: URL
    public var split: DatasetSplit
    public var label: ItemLabel
    /// "good" for normal images; the defect folder / class name otherwise.
    public var defectType: String
    public var maskPath: URL?

    public init(id: String, path: URL, split: DatasetSplit, label: ItemLabel, defectType: String, maskPath: URL?) {
        self.id = id
        self.path = path
        self.split = split
        self.label = label
        self.defectType = defectType
        self.maskPath = maskPath
    }
}

/// How a split was made for a dataset that ships without one (MTD, generic folders):
/// seeded and parameterised, so that it can be recorded and reproduced.
public struct SplitRecord: Sendable, Equatable, Codable {
    public var seed: UInt64
    /// Fraction of the defect-free images used for training.
    public var trainFraction: Double
    /// Ids of the defect-free images put in the training split, sorted.
    public var trainIDs: [String]
}

/// A loaded dataset: its items plus where they came from.
public struct Dataset: Sendable, Equatable, Codable {
    /// "mvtec", "visa", "mtd", "generic" or "generic-csv".
    public var layout: String
    public var root: URL
    public var items: [DatasetItem]
    public var splitRecord: SplitRecord?

    public init(layout: String, root: URL, items: [DatasetItem], splitRecord: SplitRecord? = nil) {
        self.layout = layout
        self.root = root
        self.items = items
        self.splitRecord = splitRecord
    }

    /// One row of the per-split, per-class count table.
    public struct Count: Sendable, Equatable, Hashable, Codable {
        public var split: DatasetSplit
        public var defectType: String
        public var label: ItemLabel
        public var images: Int
        public var masks: Int
    }

    /// Counts per split and class (defect type), sorted by split then class.
    public func counts() -> [Count] {
        var table: [String: Count] = [:]
        for item in items {
            let key = "\(item.split.rawValue)/\(item.defectType)/\(item.label.rawValue)"
            var row = table[key] ?? Count(split: item.split, defectType: item.defectType, label: item.label, images: 0, masks: 0)
            row.images += 1
            if item.maskPath != nil { row.masks += 1 }
            table[key] = row
        }
        return table.values.sorted {
            ($0.split == .train ? 0 : 1, $0.defectType, $0.label.rawValue)
                < ($1.split == .train ? 0 : 1, $1.defectType, $1.label.rawValue)
        }
    }

    /// Number of items in a split (optionally only one label).
    public func count(split: DatasetSplit, label: ItemLabel? = nil) -> Int {
        items.filter { $0.split == split && (label == nil || $0.label == label) }.count
    }

    /// The count table as aligned text, for logs and the stage report.
    public var countsDescription: String {
        var lines = ["split  class                 label      images  masks"]
        for c in counts() {
            lines.append(c.split.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
                         + c.defectType.padding(toLength: 22, withPad: " ", startingAt: 0)
                         + c.label.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
                         + String(c.images).leftPadded(6) + "  " + String(c.masks).leftPadded(5))
        }
        lines.append("total  \(items.count) images")
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
