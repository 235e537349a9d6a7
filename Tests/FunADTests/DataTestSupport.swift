import Foundation
@testable import FunAD

/// A temporary folder tree for miniature dataset layouts, removed on deinit.
final class TempTree {
    let root: URL

    init(_ name: String) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("funad-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Writes a small valid PNG (gray, 6×5, value from the path's hash so files differ).
    func png(_ relative: String, value: UInt8 = 100) throws {
        let url = url(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNGWriter.write(PixelBuffer(width: 6, height: 5, channels: 1, bytes: [UInt8](repeating: value, count: 30)), to: url)
    }

    /// Copies a small valid JPEG fixture.
    func jpeg(_ relative: String) throws {
        let url = url(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(ImagingFixtures.bytes("jpeg_gray_baseline.jpg")).write(to: url)
    }

    func text(_ relative: String, _ content: String) throws {
        let url = url(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(content.utf8).write(to: url)
    }
}

/// count(split, class) from a dataset's count table (0 when absent).
func images(_ d: Dataset, _ split: DatasetSplit, _ type: String) -> Int {
    d.counts().first { $0.split == split && $0.defectType == type }?.images ?? 0
}

func masks(_ d: Dataset, _ split: DatasetSplit, _ type: String) -> Int {
    d.counts().first { $0.split == split && $0.defectType == type }?.masks ?? 0
}
