import Foundation

/// Side stores: folders beside the cache's entries that outlive any one result.
///
/// A stage type may keep data across its results, outside its cache entries: e.g. a
/// feature extractor that keeps each image's features so that a sweep re-splitting the
/// same images runs its network once per image. It declares the store's name
/// (`StageDeclaration.sideStores`) and opens one *item* of it per run
/// (`StageContext.sideStore`): the folder `<cache>/<name>/<item>`, e.g. one per feature
/// recipe. The engine does not know what is inside; it records which items a result
/// used, so that `funad cache gc` can keep the items that the results it keeps used and
/// remove the others:
///
/// - while the stage runs, its uses are listed in `tmp/<entry>/side-stores.json`, so a
///   `gc` meanwhile sees that a live job uses the item;
/// - when the stage succeeds, the list moves into the entry's manifest (`sideStores`,
///   `"<name>/<item>"` each). A manifest without the field predates side-store records:
///   gc then cannot tell which items its entry used and keeps them all.
///
/// Inside an item, a name that starts with `.` is a file being written (a writer makes it
/// and renames it into place): gc removes such leftovers of interrupted writes from the
/// items it keeps, unless a live job uses the item.
extension CacheStore {
    /// The file in a stage's in-progress folder listing the side-store items it uses.
    static let sideStoreUsesFile = "side-stores.json"

    /// Names the store itself uses at the cache root; a side store cannot take one.
    static let reservedNames: Set<String> = ["entries", "tmp", "resume", "index", "quarantine", "locks", "lock", "file-digests.json"]

    /// A side-store name or item: one plain path component (letters, digits, `-`, `_`,
    /// `.`), not starting with `.` (those are temporaries), so it cannot reach outside.
    static func isSideStoreComponent(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 200 && !s.hasPrefix(".")
            && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    /// `<cache>/<name>/<item>`.
    public func sideStoreURL(_ name: String, item: String) -> URL {
        root.appendingPathComponent(name).appendingPathComponent(item)
    }

    /// Notes in the in-progress folder `tmp` that the stage computing it uses `name/item`
    /// (see the type's comment). Callers serialise calls for one folder.
    func recordSideStoreUse(_ name: String, item: String, inProgress tmp: URL) throws {
        let file = tmp.appendingPathComponent(Self.sideStoreUsesFile)
        var uses = Set(Self.sideStoreUses(inProgress: tmp) ?? [])
        guard uses.insert("\(name)/\(item)").inserted else { return }
        try Self.encoder.encode(uses.sorted()).write(to: file, options: .atomic)
    }

    /// The side-store items listed in an in-progress folder; nil when it lists none.
    static func sideStoreUses(inProgress tmp: URL) -> [String]? {
        guard let data = try? Data(contentsOf: tmp.appendingPathComponent(sideStoreUsesFile)) else { return nil }
        return try? decoder.decode([String].self, from: data)
    }

    /// Side-store items used by stages now computing (the in-progress folders present).
    func liveSideStoreUses() -> Set<String> {
        let tmp = root.appendingPathComponent("tmp")
        var uses: Set<String> = []
        for item in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] {
            uses.formUnion(Self.sideStoreUses(inProgress: tmp.appendingPathComponent(item)) ?? [])
        }
        return uses
    }
}
