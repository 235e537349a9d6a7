import Foundation

/// The built-in demo inspection set: procedural surfaces with painted defects and pixel
/// masks, written in the MVTec AD layout so the MVTec loader reads it:
/// `train/good/NNN.png`, `test/good/NNN.png`, `test/<defect>/NNN.png`,
/// `ground_truth/<defect>/NNN_mask.png`. Defects cycle through scratch, crack, blob and
/// spot. Every image has its own seeded stream, so the output is the same for the same
/// seed whatever the thread count.
public enum DemoDataset {
    public struct Counts: Sendable, Equatable {
        public var trainGood: Int
        public var testGood: Int
        public var defective: Int

        public init(trainGood: Int = 80, testGood: Int = 20, defective: Int = 30) {
            self.trainGood = trainGood
            self.testGood = testGood
            self.defective = defective
        }
    }

    /// What was written.
    public struct Summary: Sendable, Equatable {
        public var root: URL
        public var category: DemoCategory
        public var seed: UInt64
        public var trainGood: Int
        public var testGood: Int
        /// Defective test images per defect type.
        public var defective: [String: Int]
    }

    /// Writes the dataset into `root` (created if needed; it becomes the MVTec category
    /// folder). Throws if `root` already holds files, so nothing is overwritten.
    @discardableResult
    public static func generate(at root: URL, category: DemoCategory, seed: UInt64,
                                counts: Counts = Counts(), size: Int = 256, threads: Int = 2) throws -> Summary {
        guard counts.trainGood > 0, counts.testGood >= 0, counts.defective >= 0, size >= 64, size % 64 == 0 else {
            throw SynthesisError("demo-data: need train_good > 0, non-negative test counts and a size that is a "
                                 + "multiple of 64 (≥ 64), got \(counts) at \(size)")
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: root.path), let existing = try? fm.contentsOfDirectory(atPath: root.path), !existing.isEmpty {
            throw SynthesisError("demo-data: \(root.path) is not empty; choose a new folder")
        }
        let defects = DemoDefect.allCases
        var jobs: [(path: String, mask: String?, defect: DemoDefect?, stream: UInt64)] = []
        for i in 0..<counts.trainGood { jobs.append((String(format: "train/good/%03d.png", i), nil, nil, UInt64(jobs.count))) }
        for i in 0..<counts.testGood { jobs.append((String(format: "test/good/%03d.png", i), nil, nil, UInt64(jobs.count))) }
        var perType: [String: Int] = [:]
        for i in 0..<counts.defective {
            let d = defects[i % defects.count]
            let k = perType[d.rawValue, default: 0]
            perType[d.rawValue] = k + 1
            jobs.append((String(format: "test/\(d.rawValue)/%03d.png", k),
                         String(format: "ground_truth/\(d.rawValue)/%03d_mask.png", k), d, UInt64(jobs.count)))
        }
        var folders: Set<String> = []
        for job in jobs {
            folders.insert((job.path as NSString).deletingLastPathComponent)
            if let m = job.mask { folders.insert((m as NSString).deletingLastPathComponent) }
        }
        do {
            for f in folders { try fm.createDirectory(at: root.appendingPathComponent(f), withIntermediateDirectories: true) }
        } catch {
            throw SynthesisError("demo-data: cannot create folders under \(root.path) (\(error.localizedDescription))")
        }
        let allJobs = jobs
        let results: [Result<Void, any Error>] = parallelMap(allJobs.count, threads: threads) { k in
            Result {
                let job = allJobs[k]
                var rng = SplitMix64.derived(seed: seed, stream: job.stream)
                var image = DemoTextures.render(category, size: size, rng: &rng)
                if let defect = job.defect, let maskPath = job.mask {
                    let mask = defect.paint(on: &image, rng: &rng)
                    try PNGWriter.write(PixelBuffer(width: size, height: size, channels: 1, bytes: mask),
                                        to: root.appendingPathComponent(maskPath), fast: true)
                }
                try PNGWriter.write(image, to: root.appendingPathComponent(job.path), fast: true)
            }
        }
        for r in results { try r.get() }
        return Summary(root: root, category: category, seed: seed, trainGood: counts.trainGood,
                       testGood: counts.testGood, defective: perType)
    }
}
