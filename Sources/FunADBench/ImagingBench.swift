import Foundation
import FunAD

/// Benchmarks for the imaging and data area (wired to `funad bench imaging` by the CLI).
/// The Python side of the comparison is bench/imaging_reference.py (Pillow + NumPy, the
/// torchvision-equivalent pipeline) over the same files.
public enum ImagingBench {
    public struct Measurement: Sendable, CustomStringConvertible {
        public var name: String
        public var images: Int
        public var threads: Int
        public var seconds: Double
        public var imagesPerSecond: Double { Double(images) / seconds }

        public var description: String {
            String(format: "%@: %d images, %d thread(s), %.3f s, %.1f images/s", name, images, threads, seconds, imagesPerSecond)
        }
    }

    /// Decode + Resize(256) + CenterCrop(224) + [0,1] + ImageNet normalisation of every MTD
    /// image (`MT_*/Imgs/*.jpg`), in parallel over `threads` lanes; best of `repeats` runs.
    /// `limit` caps the number of images (nil = all 1344).
    public static func decodeAndPreprocessMTD(root: URL, threads: Int = 2, repeats: Int = 3,
                                              limit: Int? = nil) throws -> Measurement {
        var urls = try DatasetLoader.mtd(root: root, split: SeededSplit()).items.map(\.path)
            .sorted { $0.path < $1.path }
        if let limit { urls = Array(urls.prefix(limit)) }
        return try decodeAndPreprocess(urls: urls, name: "MTD decode+preprocess", threads: threads, repeats: repeats)
    }

    /// The same work over any list of image files.
    public static func decodeAndPreprocess(urls: [URL], name: String, threads: Int = 2, repeats: Int = 3) throws -> Measurement {
        let pre = try Preprocessor()
        let norm = Normalization.imageNet
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            let results = parallelMap(urls.count, threads: threads) { i in
                Result { () throws -> Float in
                    var planes = try pre.image(at: urls[i])
                    try norm.apply(to: &planes)
                    return planes.data[0]
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            for r in results { _ = try r.get() }
            best = min(best, seconds)
        }
        return Measurement(name: name, images: urls.count, threads: threads, seconds: best)
    }

    /// Time to write the default demo dataset (80 + 20 + 30 images at 256²) to a temporary folder.
    public static func demoDataset(category: DemoCategory = .wood, threads: Int = 2) throws -> Measurement {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-bench-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let start = DispatchTime.now().uptimeNanoseconds
        let summary = try DemoDataset.generate(at: dir, category: category, seed: 0, threads: threads)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let images = summary.trainGood + summary.testGood + summary.defective.values.reduce(0, +)
        return Measurement(name: "demo dataset (\(category.rawValue))", images: images, threads: threads, seconds: seconds)
    }
}
