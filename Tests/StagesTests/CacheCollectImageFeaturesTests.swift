import Foundation
import Testing
@testable import Stages
@testable import Workflow

/// `funad cache gc` and `clean` and the per-image feature cache of `extract`: gc keeps the
/// recipe folders that the extract results it keeps used, removes the others and the
/// leftovers of interrupted writes; clean removes them all.
@Suite(.serialized) struct CacheCollectImageFeaturesTests {
    static let workflow = ExtractReuseTests.workflow

    /// The keys gc keeps for the scratch folder's runs (what `funad cache gc` computes).
    func keysInUse(_ wf: TinyWorkflow) throws -> Set<String> {
        let runs = wf.dir.appendingPathComponent("runs")
        return RunRecords.keysInUse(runsDirectory: runs).keys.union(try JobRecords.keysInUse(runsDirectory: runs).keys)
    }

    func collector(_ wf: TinyWorkflow) throws -> CacheCollector {
        CacheCollector(store: try CacheStore(root: wf.dir.appendingPathComponent("cache")), registry: FunADStages.registry)
    }

    func contents(_ url: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    }

    /// Per-image entries (`.features` files not starting with `.`) under a recipe folder.
    func entryCount(_ folder: URL) -> Int {
        (FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
            .filter { $0.pathExtension == "features" && !$0.lastPathComponent.hasPrefix(".") }.count
    }

    @Test func gcKeepsTheRecipeFolderOfAKeptExtractAndRemovesAnUnusedOneAndAStalePartialFile() async throws {
        let wf = try TinyWorkflow(Self.workflow)
        defer { wf.remove() }
        let run = try await wf.run(settings: ["RATIO=0"])
        try #require(run.succeeded, "failures: \(run.failureMessages)")
        let store = wf.dir.appendingPathComponent("cache/\(ImageFeatureCache.folder)")
        // One recipe, 20 images: the folder extract made, and the one its manifest names.
        let recipes = contents(store)
        try #require(recipes.count == 1)
        let used = recipes[0]
        let key = try #require(run.stage("features")["key"] as? String)
        let manifest = try CacheStore(root: wf.dir.appendingPathComponent("cache")).readManifest(key)
        #expect(manifest.sideStores == ["\(ImageFeatureCache.folder)/\(used)"])
        #expect(entryCount(store.appendingPathComponent(used)) == 20)

        // A recipe no kept result uses (a hand-made folder with one entry) and, in the used
        // recipe, the temporary file of a write that was interrupted.
        let unused = String(repeating: "0", count: 64)
        try FileManager.default.createDirectory(at: store.appendingPathComponent("\(unused)/ab"), withIntermediateDirectories: true)
        try Data(repeating: 7, count: 1000).write(to: store.appendingPathComponent("\(unused)/ab/ab12.features"))
        let shard = try #require(contents(store.appendingPathComponent(used)).first)
        let partial = store.appendingPathComponent("\(used)/\(shard)/.ab12.features.partial-99999-1")
        try Data(repeating: 1, count: 10).write(to: partial)

        let report = try collector(wf).collect(keeping: try keysInUse(wf))
        #expect(report.removedEntries.isEmpty)
        #expect(report.keptEntries == 3)
        let side = try #require(report.sideStores.first)
        #expect(report.sideStores.count == 1 && side.name == ImageFeatureCache.folder)
        #expect(side.keptItems == [used] && side.removedItems == [unused])
        #expect(side.removedBytes == 1000 && side.removedPartials == 1 && side.keptAllFor == nil)
        #expect(contents(store) == [used])
        #expect(!FileManager.default.fileExists(atPath: partial.path))
        #expect(entryCount(store.appendingPathComponent(used)) == 20)

        // The kept folder still serves the sweep: another ratio runs the backbone on nothing.
        let next = try await wf.run(settings: ["RATIO=0.25"])
        try #require(next.succeeded, "failures: \(next.failureMessages)")
        let count = next.summary("features")["images"] as? [String: Any]
        #expect(count?["computed"] as? Int == 0 && count?["reused"] as? Int == 20)
    }

    /// An extract entry stored before funad recorded side-store uses: gc cannot tell which
    /// recipe it used, so it keeps every recipe folder rather than guess.
    @Test func anEntryWithoutSideStoreRecordKeepsEveryRecipeFolder() async throws {
        let wf = try TinyWorkflow(Self.workflow)
        defer { wf.remove() }
        let run = try await wf.run(settings: ["RATIO=0"])
        try #require(run.succeeded, "failures: \(run.failureMessages)")
        let key = try #require(run.stage("features")["key"] as? String)
        let manifestURL = wf.dir.appendingPathComponent("cache/entries/\(key)/manifest.json")
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as! [String: Any]
        #expect(manifest.removeValue(forKey: "sideStores") != nil)
        try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)
        let store = wf.dir.appendingPathComponent("cache/\(ImageFeatureCache.folder)")
        let other = String(repeating: "f", count: 64)
        try FileManager.default.createDirectory(at: store.appendingPathComponent(other), withIntermediateDirectories: true)

        let report = try collector(wf).collect(keeping: try keysInUse(wf))
        let side = try #require(report.sideStores.first)
        #expect(side.removedItems.isEmpty && side.keptItems.count == 2)
        #expect(side.keptAllFor == "tiny-sweep/features (\(key.prefix(12)))")
        #expect(contents(store).count == 2)

        // Once no kept entry is of unknown use (here: none is kept), the folders go.
        let none = try collector(wf).collect(keeping: [])
        #expect(none.removedEntries.count == 3)
        #expect(none.sideStores.first?.removedItems.count == 2)
    }

    @Test func cleanRemovesTheWholePerImageFeatureCache() async throws {
        let wf = try TinyWorkflow(Self.workflow)
        defer { wf.remove() }
        let run = try await wf.run(settings: ["RATIO=0"])
        try #require(run.succeeded, "failures: \(run.failureMessages)")
        let cache = wf.dir.appendingPathComponent("cache")
        #expect(contents(cache.appendingPathComponent(ImageFeatureCache.folder)).count == 1)

        let report = try collector(wf).clean()
        #expect(report.removedEntries.count == 3)
        #expect(report.sideStores.first?.removedItems.count == 1)
        #expect(report.sideStores.first?.removedBytes ?? 0 > 0)
        #expect(!FileManager.default.fileExists(atPath: cache.appendingPathComponent(ImageFeatureCache.folder).path))
        #expect(contents(cache.appendingPathComponent("entries")).isEmpty)
        // The next run extracts every image again.
        let again = try await wf.run(settings: ["RATIO=0"])
        let count = again.summary("features")["images"] as? [String: Any]
        #expect(count?["computed"] as? Int == 20 && count?["reused"] as? Int == 0)
    }
}
