import Foundation

/// Which layout to read and where (the `load` stage's `layout` + `path` parameters).
public enum DatasetLayout: Sendable, Equatable {
    /// An MVTec AD category folder.
    case mvtec(category: URL)
    /// A VisA root (with split_csv/1cls.csv) and one object, or all when nil.
    case visa(root: URL, object: String?)
    /// The MTD root (MT_* folders).
    case mtd(root: URL)
    /// normal/ + anomalous/ (+ masks/) folders.
    case genericFolders(root: URL)
    /// A CSV labels file (path,label[,mask][,split][,defect_type]).
    case genericCSV(file: URL)

    /// The layout names accepted in workflow files.
    public static let names = ["mvtec", "visa", "mtd", "generic", "csv"]

    /// Builds a layout from its workflow name, a path and an optional VisA object.
    public static func named(_ name: String, path: URL, object: String? = nil) throws -> DatasetLayout {
        switch name {
        case "mvtec": return .mvtec(category: path)
        case "visa": return .visa(root: path, object: object)
        case "mtd": return .mtd(root: path)
        case "generic": return .genericFolders(root: path)
        case "csv": return .genericCSV(file: path)
        default:
            throw DatasetError("layout \"\(name)\" is not known; expected one of \(names.joined(separator: ", "))")
        }
    }

    /// Lists the items (no decoding). `split` applies to layouts without an official split.
    public func load(split: SeededSplit) throws -> Dataset {
        switch self {
        case .mvtec(let category): return try DatasetLoader.mvtec(category: category)
        case .visa(let root, let object): return try DatasetLoader.visa(root: root, category: object)
        case .mtd(let root): return try DatasetLoader.mtd(root: root, split: split)
        case .genericFolders(let root): return try DatasetLoader.genericFolders(root: root, split: split)
        case .genericCSV(let file): return try DatasetLoader.genericCSV(file: file, split: split)
        }
    }
}

/// A file left out by `on_bad_image: skip`, for the run record.
public struct SkippedFile: Sendable, Equatable, Codable {
    public var path: String
    public var reason: String
}

/// Everything the load stage decided, as one JSON-encodable record: counts before
/// contamination, the split (if made here), skipped files and the contamination audit.
public struct LoadRecord: Sendable, Equatable, Codable {
    public var layout: String
    public var root: String
    public var counts: [Dataset.Count]
    public var split: SplitRecord?
    public var skipped: [SkippedFile]
    public var contamination: ContaminationAudit
    public var trainCount: Int
    public var testCount: Int
}

/// The load stage's work in one call: list → validate images (in parallel; fail or skip)
/// → contaminate (seeded). The result keeps the training set unlabelled and the ground
/// truth in the audit.
public enum DatasetLoad {
    public struct Result: Sendable {
        /// Validated dataset (skipped items removed), before contamination.
        public var dataset: Dataset
        public var contaminated: ContaminatedDataset
        public var record: LoadRecord
    }

    public static func run(_ layout: DatasetLayout, split: SeededSplit, validation: DatasetValidation,
                           contamination: ContaminationProtocol) throws -> Result {
        let listed = try layout.load(split: split)
        let report = try validation.run(listed)
        let contaminated = try contamination.apply(to: report.dataset)
        let record = LoadRecord(layout: listed.layout, root: listed.root.path, counts: report.dataset.counts(),
                                split: listed.splitRecord,
                                skipped: report.skipped.map { SkippedFile(path: $0.path, reason: $0.description) },
                                contamination: contaminated.audit,
                                trainCount: contaminated.train.count, testCount: contaminated.test.count)
        return Result(dataset: report.dataset, contaminated: contaminated, record: record)
    }
}
