import Foundation

/// Prunes a cache: `funad cache gc` (keep what is in use) and `funad cache clean` (keep
/// nothing). Both remove in-progress folders of dead processes only, so a job running on
/// the cache meanwhile (`run-stage` does not take the cache's run lock) keeps its work
/// and the side-store items it uses.
public struct CacheCollector {
    public let store: CacheStore
    /// Side-store name → the stage types that declare it.
    let sideStores: [String: Set<String>]

    public init(store: CacheStore, registry: StageRegistry) {
        var names: [String: Set<String>] = [:]
        for type in registry.types.values {
            for name in type.declaration.sideStores { names[name, default: []].insert(type.declaration.type) }
        }
        self.store = store
        sideStores = names
    }

    /// What one pass removed and kept.
    public struct Report: Sendable {
        public var removedEntries: [CacheEntryInfo] = []
        public var keptEntries = 0
        /// In-progress folders of processes that died.
        public var staleTemporaries = 0
        public var sideStores: [SideStoreReport] = []

        public var removedBytes: Int64 {
            removedEntries.reduce(0) { $0 + $1.totalBytes } + sideStores.reduce(0) { $0 + $1.removedBytes }
        }
    }

    /// One side store's part of a pass.
    public struct SideStoreReport: Sendable {
        public var name: String
        public var keptItems: [String] = []
        public var removedItems: [String] = []
        public var removedBytes: Int64 = 0
        /// Leftovers of interrupted writes (names starting with `.`) removed from kept items.
        public var removedPartials = 0
        /// A kept entry of this type whose manifest predates side-store records: every item
        /// was kept, since which one it used is unknown.
        public var keptAllFor: String?
    }

    /// Removes every entry not in `keys`, the quarantine, dead in-progress folders, and the
    /// side-store items that neither a remaining entry nor a live job uses.
    public func collect(keeping keys: Set<String>) -> Report {
        var report = Report()
        report.staleTemporaries = store.removeStaleTemporaries()
        report.removedEntries = store.removeEntries(except: keys)
        let kept = store.listEntries()
        report.keptEntries = kept.count
        let live = store.liveSideStoreUses()
        let used = Set(kept.flatMap { $0.sideStores ?? [] })
        for name in sideStores.keys.sorted() {
            let unknown = kept.first { $0.sideStores == nil && sideStores[name]!.contains($0.stageType) }
            let side = prune(name) { item in
                if unknown != nil { return true }
                return used.contains("\(name)/\(item)") || live.contains("\(name)/\(item)")
            } live: { live.contains("\(name)/\($0)") }
            if var side {
                side.keptAllFor = unknown.map { "\($0.workflow)/\($0.stage) (\($0.key.prefix(12)))" }
                report.sideStores.append(side)
            }
        }
        return report
    }

    /// Removes every entry, the checkpoints of interrupted stages, the quarantine, dead
    /// in-progress folders and every side-store item that no live job uses.
    public func clean() -> Report {
        var report = Report()
        report.staleTemporaries = store.removeStaleTemporaries()
        report.removedEntries = store.removeEntries(except: [])
        try? FileManager.default.removeItem(at: store.root.appendingPathComponent("resume"))
        let live = store.liveSideStoreUses()
        for name in sideStores.keys.sorted() {
            let isLive: (String) -> Bool = { live.contains("\(name)/\($0)") }
            if let side = prune(name, keep: isLive, live: isLive) { report.sideStores.append(side) }
        }
        return report
    }

    /// Removes the items of side store `name` that `keep` rejects, and the partial files
    /// of kept items that no live job writes into; nil when the store has no folder.
    private func prune(_ name: String, keep: (String) -> Bool, live: (String) -> Bool) -> SideStoreReport? {
        let fm = FileManager.default
        let folder = store.root.appendingPathComponent(name)
        guard CacheStore.isSideStoreComponent(name), !CacheStore.reservedNames.contains(name),
              let items = try? fm.contentsOfDirectory(atPath: folder.path) else { return nil }
        var report = SideStoreReport(name: name)
        for item in items.sorted() {
            let url = folder.appendingPathComponent(item)
            // A name that is not an item (e.g. a partial file at the top) is never kept.
            if CacheStore.isSideStoreComponent(item), keep(item) {
                report.keptItems.append(item)
                if !live(item) { report.removedPartials += Self.removePartials(in: url) }
            } else {
                let bytes = Self.size(of: url)
                if (try? fm.removeItem(at: url)) != nil {
                    report.removedItems.append(item)
                    report.removedBytes += bytes
                }
            }
        }
        // Nothing left (e.g. after clean): no empty folder stays behind.
        if (try? fm.contentsOfDirectory(atPath: folder.path))?.isEmpty == true { try? fm.removeItem(at: folder) }
        return report
    }

    /// Removes files and folders whose names start with `.` anywhere under `folder`.
    static func removePartials(in folder: URL) -> Int {
        var removed = 0
        guard let walk = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return 0 }
        var partials: [URL] = []
        for case let url as URL in walk where url.lastPathComponent.hasPrefix(".") {
            partials.append(url)
            walk.skipDescendants()
        }
        for url in partials where (try? FileManager.default.removeItem(at: url)) != nil { removed += 1 }
        return removed
    }

    /// Bytes of the regular files under `url` (or of `url` itself).
    static func size(of url: URL) -> Int64 {
        let keys: [URLResourceKey] = [.isRegularFileKey, .fileSizeKey]
        if let v = try? url.resourceValues(forKeys: Set(keys)), v.isRegularFile == true { return Int64(v.fileSize ?? 0) }
        var total: Int64 = 0
        guard let walk = FileManager.default.enumerator(at: url, includingPropertiesForKeys: keys) else { return 0 }
        for case let file as URL in walk {
            if let v = try? file.resourceValues(forKeys: Set(keys)), v.isRegularFile == true { total += Int64(v.fileSize ?? 0) }
        }
        return total
    }
}
