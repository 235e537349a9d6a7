import Foundation

/// Loaders for the dataset layouts of METHOD.md "Datasets". Each lists items (path, split,
/// label, defect type, mask path) without decoding anything; `DatasetValidation` checks
/// the files afterwards.
public enum DatasetLoader {
    // MARK: MVTec AD

    /// MVTec AD category folder: `train/good/*`, `test/<type>/*`,
    /// `ground_truth/<type>/<stem>_mask.png` (no masks for `test/good`).
    public static func mvtec(category root: URL) throws -> Dataset {
        let train = root.appendingPathComponent("train"), test = root.appendingPathComponent("test")
        guard DirectoryScan.isDirectory(train.appendingPathComponent("good")), DirectoryScan.isDirectory(test) else {
            throw DatasetError("\(root.path): not an MVTec AD category folder (expected train/good/ and test/<defect type>/)")
        }
        var items: [DatasetItem] = []
        for url in try DirectoryScan.images(in: train.appendingPathComponent("good")) {
            items.append(DatasetItem(id: DirectoryScan.relativePath(url, to: root), path: url, split: .train,
                                     label: .normal, defectType: "good", maskPath: nil))
        }
        let truth = root.appendingPathComponent("ground_truth")
        for typeDir in try DirectoryScan.subdirectories(test) {
            let type = typeDir.lastPathComponent
            for url in try DirectoryScan.images(in: typeDir) {
                let isGood = type == "good"
                var mask: URL? = nil
                if !isGood {
                    let candidate = truth.appendingPathComponent(type)
                        .appendingPathComponent(url.deletingPathExtension().lastPathComponent + "_mask.png")
                    mask = DirectoryScan.exists(candidate) ? candidate : nil
                }
                items.append(DatasetItem(id: DirectoryScan.relativePath(url, to: root), path: url, split: .test,
                                         label: isGood ? .normal : .anomalous, defectType: type, maskPath: mask))
            }
        }
        try requireNonEmpty(items, root: root, what: "MVTec AD")
        return Dataset(layout: "mvtec", root: root, items: items)
    }

    // MARK: VisA

    /// VisA root with `split_csv/1cls.csv` (columns object,split,label,image,mask; paths
    /// relative to the root). `category` selects one object (e.g. "candle"); nil loads all.
    public static func visa(root: URL, category: String?, csv: String = "split_csv/1cls.csv") throws -> Dataset {
        let csvURL = root.appendingPathComponent(csv)
        let table = try CSVTable.read(csvURL)
        let cObject = try table.column("object"), cSplit = try table.column("split"), cLabel = try table.column("label")
        let cImage = try table.column("image"), cMask = try table.column("mask")
        var items: [DatasetItem] = []
        var objects = Set<String>()
        for row in table.rows {
            let f = row.fields
            objects.insert(f[cObject])
            if let category, f[cObject] != category { continue }
            guard let split = DatasetSplit(rawValue: f[cSplit].lowercased()) else {
                throw DatasetError("\(csvURL.path):\(row.line): split \"\(f[cSplit])\", expected train or test")
            }
            let label: ItemLabel
            switch f[cLabel].lowercased() {
            case "normal": label = .normal
            case "anomaly", "anomalous": label = .anomalous
            default: throw DatasetError("\(csvURL.path):\(row.line): label \"\(f[cLabel])\", expected normal or anomaly")
            }
            let mask = f[cMask].isEmpty ? nil : root.appendingPathComponent(f[cMask])
            items.append(DatasetItem(id: f[cImage], path: root.appendingPathComponent(f[cImage]), split: split,
                                     label: label, defectType: label == .normal ? "good" : "anomaly", maskPath: mask))
        }
        if let category, items.isEmpty {
            throw DatasetError("\(csvURL.path): no rows for object \"\(category)\" (objects: \(objects.sorted().joined(separator: ", ")))")
        }
        try requireNonEmpty(items, root: root, what: "VisA")
        return Dataset(layout: "visa", root: root, items: items)
    }

    // MARK: MTD

    /// Magnetic Tile Defect dataset: `MT_<Class>/Imgs/<stem>.jpg` with the mask
    /// `<stem>.png` beside it; `MT_Free` is defect-free. No official split: `split` makes one.
    public static func mtd(root: URL, split: SeededSplit) throws -> Dataset {
        let classDirs = try DirectoryScan.subdirectories(root).filter { $0.lastPathComponent.hasPrefix("MT_") }
        guard classDirs.contains(where: { $0.lastPathComponent == "MT_Free" }) else {
            throw DatasetError("\(root.path): not an MTD folder (expected MT_Free/ and MT_<Defect>/ folders with Imgs/ inside)")
        }
        var normal: [DatasetItem] = [], anomalous: [DatasetItem] = []
        for dir in classDirs {
            let className = String(dir.lastPathComponent.dropFirst(3))
            let isFree = className == "Free"
            let imgs = dir.appendingPathComponent("Imgs")
            for url in try DirectoryScan.images(in: imgs) where url.pathExtension.lowercased() == "jpg" {
                let mask = url.deletingPathExtension().appendingPathExtension("png")
                let item = DatasetItem(id: DirectoryScan.relativePath(url, to: root), path: url, split: .test,
                                       label: isFree ? .normal : .anomalous,
                                       defectType: isFree ? "good" : className.lowercased(),
                                       maskPath: DirectoryScan.exists(mask) ? mask : nil)
                if isFree { normal.append(item) } else { anomalous.append(item) }
            }
        }
        let (items, record) = split.apply(normal: normal, anomalous: anomalous)
        try requireNonEmpty(items, root: root, what: "MTD")
        return Dataset(layout: "mtd", root: root, items: items, splitRecord: record)
    }

    // MARK: Generic folders

    /// A folder of `normal/` images and `anomalous/` images (directly, or in one sub-folder
    /// per defect type), with optional masks under `masks/` mirroring `anomalous/`
    /// (`<stem>.png` or `<stem>_mask.png`). Split: `split` (seeded).
    public static func genericFolders(root: URL, split: SeededSplit) throws -> Dataset {
        let normalDir = root.appendingPathComponent("normal")
        let anomalousDir = root.appendingPathComponent("anomalous")
        guard DirectoryScan.isDirectory(normalDir) else {
            throw DatasetError("\(root.path): expected a normal/ folder of defect-free images (and optionally anomalous/, masks/)")
        }
        let maskRoot = root.appendingPathComponent("masks")
        var normal: [DatasetItem] = [], anomalous: [DatasetItem] = []
        for url in try DirectoryScan.images(in: normalDir) {
            normal.append(DatasetItem(id: DirectoryScan.relativePath(url, to: root), path: url, split: .test,
                                      label: .normal, defectType: "good", maskPath: nil))
        }
        if DirectoryScan.isDirectory(anomalousDir) {
            var groups: [(String, URL, String)] = [("anomalous", anomalousDir, "")]
            for sub in try DirectoryScan.subdirectories(anomalousDir) {
                groups.append((sub.lastPathComponent, sub, sub.lastPathComponent))
            }
            for (type, dir, relative) in groups {
                let maskDir = relative.isEmpty ? maskRoot : maskRoot.appendingPathComponent(relative)
                for url in try DirectoryScan.images(in: dir) {
                    let stem = url.deletingPathExtension().lastPathComponent
                    let mask = [maskDir.appendingPathComponent(stem + ".png"),
                                maskDir.appendingPathComponent(stem + "_mask.png")].first(where: DirectoryScan.exists)
                    anomalous.append(DatasetItem(id: DirectoryScan.relativePath(url, to: root), path: url, split: .test,
                                                 label: .anomalous, defectType: type, maskPath: mask))
                }
            }
        }
        let (items, record) = split.apply(normal: normal, anomalous: anomalous)
        try requireNonEmpty(items, root: root, what: "generic")
        return Dataset(layout: "generic", root: root, items: items, splitRecord: record)
    }

    /// A CSV labels file with columns `path,label` and optionally `mask`, `split`
    /// (train/test) and `defect_type`; paths relative to the CSV's folder. Labels:
    /// normal|good|ok|0 or anomalous|anomaly|defect|bad|ng|1. Without a split column the
    /// seeded `split` is applied.
    public static func genericCSV(file: URL, split: SeededSplit) throws -> Dataset {
        let table = try CSVTable.read(file)
        let base = file.deletingLastPathComponent()
        let cPath = try table.column("path"), cLabel = try table.column("label")
        let cMask = table.header.firstIndex(of: "mask"), cSplit = table.header.firstIndex(of: "split")
        let cType = table.header.firstIndex(of: "defect_type")
        var items: [DatasetItem] = []
        var seen = Set<String>()
        for row in table.rows {
            let f = row.fields
            guard !f[cPath].isEmpty else { throw DatasetError("\(file.path):\(row.line): empty path") }
            guard seen.insert(f[cPath]).inserted else {
                throw DatasetError("\(file.path):\(row.line): \(f[cPath]) is listed twice")
            }
            let label: ItemLabel
            switch f[cLabel].lowercased() {
            case "normal", "good", "ok", "0": label = .normal
            case "anomalous", "anomaly", "defect", "defective", "bad", "ng", "1": label = .anomalous
            default:
                throw DatasetError("\(file.path):\(row.line): label \"\(f[cLabel])\", expected normal or anomalous")
            }
            var itemSplit = DatasetSplit.test
            if let cSplit {
                guard let s = DatasetSplit(rawValue: f[cSplit].lowercased()) else {
                    throw DatasetError("\(file.path):\(row.line): split \"\(f[cSplit])\", expected train or test")
                }
                itemSplit = s
            }
            let mask = cMask.flatMap { f[$0].isEmpty ? nil : base.appendingPathComponent(f[$0]) }
            let type = cType.flatMap { f[$0].isEmpty ? nil : f[$0] } ?? (label == .normal ? "good" : "anomalous")
            items.append(DatasetItem(id: f[cPath], path: base.appendingPathComponent(f[cPath]), split: itemSplit,
                                     label: label, defectType: type, maskPath: mask))
        }
        try requireNonEmpty(items, root: base, what: "CSV")
        if cSplit != nil { return Dataset(layout: "generic-csv", root: base, items: items) }
        let (splitItems, record) = split.apply(normal: items.filter { $0.label == .normal },
                                               anomalous: items.filter { $0.label == .anomalous })
        return Dataset(layout: "generic-csv", root: base, items: splitItems, splitRecord: record)
    }

    private static func requireNonEmpty(_ items: [DatasetItem], root: URL, what: String) throws {
        if items.isEmpty { throw DatasetError("\(root.path): no images found in the \(what) layout") }
    }
}
