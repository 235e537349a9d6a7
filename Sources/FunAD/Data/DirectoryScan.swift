import Foundation

/// Listing helpers shared by the layout loaders. Listings are sorted by file name so a
/// dataset loads in the same order on every machine.
enum DirectoryScan {
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"]

    static func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    static func exists(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.path)
    }

    /// Sub-folders of `dir` (not hidden), sorted by name.
    static func subdirectories(_ dir: URL) throws -> [URL] {
        try contents(dir).filter { isDirectory($0) }
    }

    /// Image files directly in `dir` (by extension, case-insensitive), sorted by name.
    static func images(in dir: URL) throws -> [URL] {
        try contents(dir).filter { !isDirectory($0) && imageExtensions.contains($0.pathExtension.lowercased()) }
    }

    static func contents(_ dir: URL) throws -> [URL] {
        guard isDirectory(dir) else {
            throw DatasetError("\(dir.path): expected a folder, found \(exists(dir) ? "a file" : "nothing")")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        } catch {
            throw DatasetError("\(dir.path): cannot list folder (\(error.localizedDescription))")
        }
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// `url`'s path relative to `root` (used as item ids).
    static func relativePath(_ url: URL, to root: URL) -> String {
        let base = root.standardizedFileURL.path
        let full = url.standardizedFileURL.path
        if full.hasPrefix(base + "/") { return String(full.dropFirst(base.count + 1)) }
        return full
    }
}
