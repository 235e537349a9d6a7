import Foundation
import Testing
@testable import Workflow

/// Folder digests follow the files' contents, not their modification times: a dataset
/// copied or unpacked again keeps its cache keys (issue 11's sweeps across sessions).
@Suite struct FileDigestTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("funad-digests-\(UUID().uuidString)")

    func write(_ relative: String, _ text: String, in folder: URL, mtime: Date? = nil) throws {
        let url = folder.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        if let mtime { try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: url.path) }
    }

    func makeSet(_ name: String, mtime: Date) throws -> URL {
        let folder = root.appendingPathComponent(name)
        try write("good/a.txt", "alpha", in: folder, mtime: mtime)
        try write("good/b.txt", "beta", in: folder, mtime: mtime)
        try write("bad/c.txt", "gamma", in: folder, mtime: mtime)
        return folder
    }

    @Test func aCopyWithOtherModificationTimesKeepsItsDigest() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let original = try makeSet("original", mtime: Date(timeIntervalSince1970: 1_600_000_000))
        let copy = try makeSet("copy", mtime: Date(timeIntervalSince1970: 1_700_000_000))
        let digests = FileDigests(memoFile: root.appendingPathComponent("memo.json"))
        let a = try digests.digest(ofPath: original.path), b = try digests.digest(ofPath: copy.path)
        #expect(a == b)
        #expect(a.hasPrefix("tree:"))
        // The same answer from the saved memo, in a fresh instance (a second run).
        digests.save()
        #expect(try FileDigests(memoFile: root.appendingPathComponent("memo.json")).digest(ofPath: original.path) == a)
        // Hand-computed: SHA-256 over "relative path<TAB>SHA-256 of the bytes" lines in path order.
        let lines = [("bad/c.txt", "gamma"), ("good/a.txt", "alpha"), ("good/b.txt", "beta")]
            .map { "\($0.0)\t\(SHA256.hex($0.1))" }.joined(separator: "\n")
        #expect(a == "tree:" + SHA256.hex(lines))
    }

    @Test func contentNamesAndMembershipChangeTheDigest() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = try makeSet("set", mtime: Date(timeIntervalSince1970: 1_600_000_000))
        let before = try FileDigests(memoFile: nil).digest(ofPath: folder.path)

        try write("good/a.txt", "alphA", in: folder)  // same size, new bytes
        let rewritten = try FileDigests(memoFile: nil).digest(ofPath: folder.path)
        #expect(rewritten != before)

        try FileManager.default.moveItem(at: folder.appendingPathComponent("good/a.txt"),
                                         to: folder.appendingPathComponent("bad/a.txt"))
        let moved = try FileDigests(memoFile: nil).digest(ofPath: folder.path)
        #expect(moved != rewritten)

        try write("good/d.txt", "delta", in: folder)
        #expect(try FileDigests(memoFile: nil).digest(ofPath: folder.path) != moved)
    }

    @Test func anOldListingDigestIsExplainedNotCalledAContentChange() {
        func material(_ digest: String) -> CacheKeyMaterial {
            CacheKeyMaterial(stageType: "load", version: 1, parameters: #"{"root":"data"}"#, inputs: [], files: ["root": digest])
        }
        let reasons = material("tree:" + SHA256.hex("new")).differences(from: material("dir:" + SHA256.hex("old")))
        #expect(reasons == ["the digest of root is now made from its files' contents (earlier funad used their modification times)"])
        #expect(material("tree:1").differences(from: material("tree:2")) == ["content of root changed"])
    }
}
