import Foundation

/// A stored stage result as listed by `funad cache ls`.
public struct CacheEntryInfo: Sendable, Codable {
    public var key: String
    public var stageType: String
    public var version: Int
    public var workflow: String
    public var stage: String
    public var created: Date
    public var files: [StoredFile]
    public var material: CacheKeyMaterial
    /// The side-store items (`<name>/<item>`) the stage used while computing this result
    /// (see `SideStores.swift`); nil in a manifest written before funad recorded them.
    public var sideStores: [String]?

    public struct StoredFile: Sendable, Codable, Equatable {
        public var path: String
        public var size: Int64
        public var xxh64: String
    }

    public var totalBytes: Int64 { files.reduce(0) { $0 + $1.size } }
}

/// Why a stored entry was not used.
public struct CacheIntegrityError: Error, CustomStringConvertible, Sendable {
    public var key: String
    public var problem: String
    /// The entry's folder name under `quarantine/` once it has been moved aside (so a
    /// user can look at what was damaged); nil when nothing was moved.
    public var quarantinedAs: String?
    public var description: String {
        "cache entry \(key.prefix(12)) is damaged: \(problem)" + (quarantinedAs.map { "; moved to quarantine/\($0)" } ?? "")
    }
}

/// The content-addressed store of stage results.
///
/// Layout under the cache folder:
/// - `entries/<key>/out/…` the stage's files, `entries/<key>/manifest.json` their sizes and
///   XXH64 digests plus the key material. The manifest is written last, inside a
///   temporary folder that is then renamed into place, so an entry exists whole or not at all.
/// - `tmp/` folders of stages in progress, named `<key>-<pid>-<random>`. A stage computes
///   only while holding its key's lock (`locks/<key>.lock`), so a folder whose key lock is
///   free belongs to a process that died and is removed; one whose lock is held belongs to
///   a live job (possibly on another machine sharing the cache) and is left alone.
/// - `locks/<key>.lock` one flock per key: two jobs that would compute the same key run one
///   after the other (the second then finds the result stored), while jobs on different
///   keys never wait for each other.
/// - `resume/<key>/` a stage's own checkpoints, kept across failures and kills so that the
///   next run resumes; removed when the stage succeeds.
/// - `index/<workflow>/<stage>.json` the key material of the last result, so `plan` can
///   say *what* changed.
/// - `quarantine/` damaged entries moved aside (never silently deleted).
/// - `<name>/<item>/` side stores: data a stage type keeps across its results (see
///   `SideStores.swift`); each entry's manifest names the items it used.
/// - `lock` held by the one `funad run` that uses the cache (single-stage jobs, `funad
///   run-stage`, do not take it; they rely on the key locks and on atomic publication).
public final class CacheStore: @unchecked Sendable {
    public let root: URL
    private let fm = FileManager.default
    private var verified: Set<String> = []
    private let lock = NSLock()

    public init(root: URL) throws {
        self.root = root.standardizedFileURL
        for sub in ["entries", "tmp", "resume", "index", "quarantine", "locks"] {
            do { try fm.createDirectory(at: self.root.appendingPathComponent(sub), withIntermediateDirectories: true) } catch {
                throw Diagnostic("cannot create cache folder '\(self.root.path)': \(error.localizedDescription)")
            }
        }
    }

    public var lockPath: String { root.appendingPathComponent("lock").path }
    public var digestMemo: URL { root.appendingPathComponent("file-digests.json") }

    /// The lock a job holds while it computes `key` (see the layout above).
    public func keyLockPath(_ key: String) -> String { root.appendingPathComponent("locks/\(key).lock").path }

    /// Removes in-progress folders left by a process that died: those whose key lock is
    /// free. Folders of live jobs (this process's or another's) are kept, so this is safe
    /// to call while other jobs share the cache.
    @discardableResult
    public func removeStaleTemporaries() -> Int {
        let tmp = root.appendingPathComponent("tmp")
        var removed = 0
        for item in (try? fm.contentsOfDirectory(atPath: tmp.path)) ?? [] {
            let key = String(item.prefix(64))
            if Self.isKey(key) {
                guard let held = FileLock.attempt(path: keyLockPath(key)) else { continue }  // a live job
                try? fm.removeItem(at: tmp.appendingPathComponent(item))
                withExtendedLifetime(held) {}
            } else {
                try? fm.removeItem(at: tmp.appendingPathComponent(item))
            }
            removed += 1
        }
        return removed
    }

    /// The key under which shard `index` (0-based) of `count` of the stage with `key` is
    /// stored: an entry of its own (atomic and verified like any other), derived from the
    /// stage's key so that it changes whenever the stage's key does.
    public static func shardKey(_ key: String, index: Int, count: Int) -> String {
        SHA256.hex("funad-shard/1\n\(key)\n\(index)/\(count)")
    }

    func entryURL(_ key: String) -> URL { root.appendingPathComponent("entries/\(key)") }
    public func outputURL(_ key: String) -> URL { entryURL(key).appendingPathComponent("out") }
    public func resumeURL(_ key: String) -> URL { root.appendingPathComponent("resume/\(key)") }

    public func contains(_ key: String) -> Bool {
        fm.fileExists(atPath: entryURL(key).appendingPathComponent("manifest.json").path)
    }

    /// Reads an entry's manifest and checks every file's size and XXH64 digest.
    /// A damaged entry is moved to `quarantine/` and reported by the thrown error.
    public func verify(_ key: String) throws -> CacheEntryInfo {
        let info = try readManifest(key)
        lock.lock(); let done = verified.contains(key); lock.unlock()
        if done { return info }
        let out = outputURL(key)
        for f in info.files {
            let url = out.appendingPathComponent(f.path)
            guard let attrs = try? fm.attributesOfItem(atPath: url.path), let size = attrs[.size] as? Int64 else {
                throw quarantine(key, problem: "file \(f.path) is missing")
            }
            guard size == f.size else { throw quarantine(key, problem: "file \(f.path) has \(size) bytes, expected \(f.size)") }
            let digest = (try? XXHash64.hex(fileAt: url)) ?? "unreadable"
            guard digest == f.xxh64 else { throw quarantine(key, problem: "file \(f.path) does not match its recorded digest") }
        }
        lock.lock(); verified.insert(key); lock.unlock()
        return info
    }

    /// Reads an entry's manifest. A manifest that is not valid JSON, belongs to another
    /// key, or lists a file outside the entry is never trusted: the entry is quarantined.
    public func readManifest(_ key: String) throws -> CacheEntryInfo {
        let url = entryURL(key).appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url) else { throw CacheIntegrityError(key: key, problem: "manifest missing") }
        let info: CacheEntryInfo
        do { info = try Self.decoder.decode(CacheEntryInfo.self, from: data) } catch {
            throw quarantine(key, problem: "manifest is not valid JSON")
        }
        guard info.key == key else { throw quarantine(key, problem: "manifest names entry \(info.key.prefix(12))") }
        if let bad = info.files.first(where: { !Self.isContainedPath($0.path) }) {
            throw quarantine(key, problem: "manifest lists a file outside the entry ('\(bad.path)')")
        }
        return info
    }

    /// A relative path with no `..`, `.` or empty component: it stays inside the entry.
    static func isContainedPath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/") else { return false }
        return !path.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty || $0 == "." || $0 == ".." }
    }

    private func quarantine(_ key: String, problem: String) -> CacheIntegrityError {
        let name = moveToQuarantine(entryURL(key), as: key)
        lock.lock(); verified.remove(key); lock.unlock()
        return CacheIntegrityError(key: key, problem: problem, quarantinedAs: name)
    }

    /// Moves a damaged entry or metadata file to `quarantine/` under a unique name;
    /// returns that name, or nil if it could not be moved (it is then left in place and
    /// still not trusted).
    func moveToQuarantine(_ url: URL, as base: String) -> String? {
        let name = "\(base)-\(Int(Date().timeIntervalSince1970))-\(UUID().uuidString.prefix(6))"
        do {
            try fm.createDirectory(at: root.appendingPathComponent("quarantine"), withIntermediateDirectories: true)
            try fm.moveItem(at: url, to: root.appendingPathComponent("quarantine/\(name)"))
            return name
        } catch {
            return nil
        }
    }

    /// A fresh folder for a stage to write into.
    public func beginEntry(_ key: String) throws -> URL {
        let tmp = root.appendingPathComponent("tmp/\(key)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try fm.createDirectory(at: tmp.appendingPathComponent("out"), withIntermediateDirectories: true)
        return tmp
    }

    /// Seals a finished stage's folder: writes the manifest, flushes, renames into place.
    public func commitEntry(_ tmp: URL, key: String, material: CacheKeyMaterial, workflow: String, stage: String) throws -> CacheEntryInfo {
        let out = tmp.appendingPathComponent("out")
        var files: [CacheEntryInfo.StoredFile] = []
        if let e = fm.enumerator(at: out, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey]) {
            let prefix = out.standardizedFileURL.path.count + 1
            for case let url as URL in e {
                let v = try url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
                guard v.isRegularFile == true else { continue }
                files.append(.init(path: String(url.standardizedFileURL.path.dropFirst(prefix)), size: Int64(v.fileSize ?? 0),
                                   xxh64: try XXHash64.hex(fileAt: url)))
                Self.fsync(url.path)
            }
        }
        files.sort { $0.path < $1.path }
        let info = CacheEntryInfo(key: key, stageType: material.stageType, version: material.version, workflow: workflow,
                                  stage: stage, created: Date(), files: files, material: material,
                                  sideStores: Self.sideStoreUses(inProgress: tmp) ?? [])
        let manifest = tmp.appendingPathComponent("manifest.json")
        try Self.encoder.encode(info).write(to: manifest)
        Self.fsync(manifest.path)
        let dest = entryURL(key)
        if fm.fileExists(atPath: dest.path), (try? readManifest(key)) == nil, fm.fileExists(atPath: dest.path) {
            // A folder without a readable manifest (damaged outside funad): never trusted,
            // and it must not block the fresh result from taking its place.
            _ = moveToQuarantine(dest, as: key)
        }
        if fm.fileExists(atPath: dest.path) {
            // Another run stored the same key meanwhile (or a forced re-run): same inputs,
            // same result; keep theirs. A manifest written before side-store uses were
            // recorded learns them from this run, so gc can stop keeping every item for it.
            if let theirs = try? readManifest(key), theirs.sideStores == nil {
                var updated = theirs
                updated.sideStores = info.sideStores
                try? Self.encoder.encode(updated).write(to: dest.appendingPathComponent("manifest.json"), options: .atomic)
            }
            try? fm.removeItem(at: tmp)
        } else {
            do { try fm.moveItem(at: tmp, to: dest) } catch {
                // Lost a race with another job publishing the same key between the check
                // and the rename (rename(2) never replaces a non-empty folder): theirs is
                // whole, so keep it and drop ours. Anything else is a real failure.
                guard contains(key) else { throw error }
                try? fm.removeItem(at: tmp)
            }
        }
        lock.lock(); verified.insert(key); lock.unlock()
        try? fm.removeItem(at: resumeURL(key))
        return info
    }

    public func discardEntry(_ tmp: URL) { try? fm.removeItem(at: tmp) }

    // MARK: index of last results per (workflow, stage)

    private func indexURL(workflow: String, stage: String) -> URL {
        root.appendingPathComponent("index/\(Self.safeName(workflow))/\(Self.safeName(stage)).json")
    }

    public func lastMaterial(workflow: String, stage: String) -> CacheKeyMaterial? {
        guard let data = try? Data(contentsOf: indexURL(workflow: workflow, stage: stage)) else { return nil }
        return try? Self.decoder.decode(CacheKeyMaterial.self, from: data)
    }

    public func recordMaterial(_ material: CacheKeyMaterial, workflow: String, stage: String) {
        let url = indexURL(workflow: workflow, stage: stage)
        try? fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? Self.encoder.encode(material).write(to: url, options: .atomic)
    }

    // MARK: maintenance

    public func listEntries() -> [CacheEntryInfo] {
        let keys = (try? fm.contentsOfDirectory(atPath: root.appendingPathComponent("entries").path)) ?? []
        return keys.compactMap { try? readManifest($0) }.sorted { $0.created < $1.created }
    }

    /// Removes entries whose keys are not in `keep`, and the quarantine; returns the
    /// entries removed. In-progress folders are not touched (`removeStaleTemporaries`
    /// removes those of dead processes; a live job's must stay).
    public func removeEntries(except keep: Set<String>) -> [CacheEntryInfo] {
        var removed: [CacheEntryInfo] = []
        for e in listEntries() where !keep.contains(e.key) {
            if (try? fm.removeItem(at: entryURL(e.key))) != nil { removed.append(e) }
        }
        let quarantine = root.appendingPathComponent("quarantine")
        for item in (try? fm.contentsOfDirectory(atPath: quarantine.path)) ?? [] { try? fm.removeItem(at: quarantine.appendingPathComponent(item)) }
        return removed
    }

    static func safeName(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
    }

    /// A cache key as entries, run records and job records name it: 64 hex digits (SHA-256).
    static func isKey(_ s: String) -> Bool { s.count == 64 && s.allSatisfy(\.isHexDigit) }

    static func fsync(_ path: String) {
        let fd = open(path, O_RDONLY)
        if fd >= 0 { _ = Glibc.fsync(fd); close(fd) }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()
}
