import Foundation

/// What to do with image files that fail validation (`on_bad_image`).
public enum BadImagePolicy: String, Sendable, Codable {
    /// Stop, reporting every bad file at once.
    case fail
    /// Leave the items out and list them.
    case skip
}

/// The `validate images` pass of the load stage: every image and mask file is checked in
/// parallel (2 lanes by default) so that a bad file is found at load time, all at once,
/// not in the middle of feature extraction.
public struct DatasetValidation: Sendable {
    public enum Depth: String, Sendable, Codable {
        /// Magic bytes + header (size limit) only: fast, misses truncated pixel data.
        case header
        /// Full decode: finds truncation and corrupt data too.
        case decode
    }

    public var depth: Depth
    public var policy: BadImagePolicy
    public var threads: Int
    public var decoder: ImageDecoder

    public init(depth: Depth = .decode, policy: BadImagePolicy = .fail, threads: Int = 2,
                decoder: ImageDecoder = ImageDecoder()) {
        self.depth = depth
        self.policy = policy
        self.threads = max(1, threads)
        self.decoder = decoder
    }

    /// The outcome: the dataset without skipped items, and the failures (one per bad file;
    /// an item whose image or mask failed is skipped as a whole).
    public struct Report: Sendable {
        public var dataset: Dataset
        public var skipped: [ImageError]
        public var skippedIDs: [String]
        public var checkedFiles: Int
    }

    /// Checks every image and mask of `dataset`. With `.fail`, throws `BadImagesError`
    /// listing all bad files; with `.skip`, returns the dataset without them.
    public func run(_ dataset: Dataset) throws -> Report {
        var files: [(item: Int, url: URL)] = []
        for (i, item) in dataset.items.enumerated() {
            files.append((i, item.path))
            if let mask = item.maskPath { files.append((i, mask)) }
        }
        let decoder = self.decoder, depth = self.depth
        let urls = files.map(\.url)
        let outcomes: [ImageError?] = parallelMap(urls.count, threads: threads) { k in
            do {
                switch depth {
                case .header: _ = try decoder.header(at: urls[k])
                case .decode: _ = try decoder.decodePixels(at: urls[k])
                }
                return nil
            } catch let error as ImageError {
                return error
            } catch {
                return ImageError(path: urls[k].path, reason: .unreadable(String(describing: error)))
            }
        }
        var failures: [ImageError] = []
        var badItems = Set<Int>()
        for (k, outcome) in outcomes.enumerated() {
            if let outcome {
                failures.append(outcome)
                badItems.insert(files[k].item)
            }
        }
        if !failures.isEmpty && policy == .fail { throw BadImagesError(failures: failures) }
        var kept = dataset
        kept.items = dataset.items.enumerated().filter { !badItems.contains($0.offset) }.map(\.element)
        let skippedIDs = badItems.sorted().map { dataset.items[$0].id }
        return Report(dataset: kept, skipped: failures, skippedIDs: skippedIDs, checkedFiles: urls.count)
    }
}
