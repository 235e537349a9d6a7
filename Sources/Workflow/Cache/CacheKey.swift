import Foundation

/// What a stage's result depends on, in a form that hashes the same on every machine:
/// the engine's cache format, the stage type and its implementation version, the
/// canonical parameters, the keys of its inputs, and the content digests of the files
/// and folders it reads. Change any of these and the key changes; nothing else does.
public struct CacheKeyMaterial: Sendable, Equatable, Codable {
    /// Bump when the way keys are made changes (as Snakemake's provenance hash does).
    public static let format = 1

    public var format: Int = CacheKeyMaterial.format
    public var stageType: String
    public var version: Int
    /// Canonical JSON of the parameters; paths under the workflow folder are relative.
    public var parameters: String
    /// Upstream stage name → its key, in `needs` order.
    public var inputs: [Input]
    /// Parameter name → digest of the file or folder it names.
    public var files: [String: String]
    /// The stage type's own source digest (plugin stages only; see
    /// `StageDeclaration.implementationDigest`). Absent for compiled-in types, and then
    /// left out of the key text, so their keys are those of earlier funad versions.
    public var implementationDigest: String?
    /// The file the digest was taken of, for the plan's reason (not part of the key).
    public var implementationFile: String?

    public init(stageType: String, version: Int, parameters: String, inputs: [Input], files: [String: String],
                implementationDigest: String? = nil, implementationFile: String? = nil) {
        self.stageType = stageType
        self.version = version
        self.parameters = parameters
        self.inputs = inputs
        self.files = files
        self.implementationDigest = implementationDigest
        self.implementationFile = implementationFile
    }

    public struct Input: Sendable, Equatable, Codable {
        public var stage: String
        public var key: String
    }

    /// The key: SHA-256 of the material with upstream stage *names* left out, so that
    /// renaming a stage does not invalidate results.
    public var key: String {
        var text = "funad-cache-key/\(format)\n\(stageType)@\(version)\n\(parameters)\n"
        text += inputs.map(\.key).joined(separator: ",") + "\n"
        text += files.keys.sorted().map { "\($0)=\(files[$0]!)" }.joined(separator: "\n")
        if let implementationDigest { text += "\nimplementation=\(implementationDigest)" }
        return SHA256.hex(text)
    }

    /// Why `self` differs from `previous`, for `funad plan` and the run log.
    public func differences(from previous: CacheKeyMaterial) -> [String] {
        var out: [String] = []
        if previous.format != format { out.append("the cache key format changed") }
        if previous.stageType != stageType { out.append("stage type changed from \(previous.stageType) to \(stageType)") }
        else if previous.version != version { out.append("the \(stageType) implementation changed (version \(previous.version) → \(version))") }
        else if previous.implementationDigest != implementationDigest {
            out.append("the \(stageType) plugin changed\(implementationFile.map { " (\($0))" } ?? "")")
        }
        if previous.parameters != parameters {
            let before = Self.flatten(previous.parameters), after = Self.flatten(parameters)
            for k in Set(before.keys).union(after.keys).sorted() where before[k] != after[k] {
                out.append("parameter \(k) changed: \(before[k] ?? "unset") → \(after[k] ?? "unset")")
            }
        }
        let oldInputs = Dictionary(previous.inputs.map { ($0.stage, $0.key) }, uniquingKeysWith: { a, _ in a })
        for i in inputs where oldInputs[i.stage] != nil && oldInputs[i.stage] != i.key {
            out.append("input from '\(i.stage)' changed")
        }
        if Set(inputs.map(\.stage)) != Set(oldInputs.keys) { out.append("its needs changed") }
        let current = Self.flatten(parameters)
        for (name, digest) in files.sorted(by: { $0.key < $1.key }) where previous.files[name] != nil && previous.files[name] != digest {
            if name.hasPrefix("hooks."), let script = current["\(name).script"] {
                // A Lua hook's script: say which hook and which file, as users edit scripts often.
                let path = (try? JSONSerialization.jsonObject(with: Data(script.utf8), options: [.fragmentsAllowed]) as? String) ?? script
                out.append("hook \(name.dropFirst("hooks.".count)): \(LuaHookCheck.displayName(path)) changed")
            } else if previous.files[name]!.hasPrefix(FileDigests.listingDigestPrefix), digest.hasPrefix(FileDigests.folderDigestPrefix) {
                out.append("the digest of \(name) is now made from its files' contents (earlier funad used their modification times)")
            } else {
                out.append("content of \(name) changed")
            }
        }
        return out
    }

    /// Dotted paths → JSON text of leaf values, from a canonical parameter JSON.
    static func flatten(_ json: String) -> [String: String] {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]) else { return [:] }
        var out: [String: String] = [:]
        func walk(_ v: Any, _ prefix: String) {
            if let d = v as? [String: Any], !d.isEmpty {
                for (k, c) in d { walk(c, prefix.isEmpty ? k : "\(prefix).\(k)") }
            } else if let data = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .sortedKeys]) {
                out[prefix] = String(decoding: data, as: UTF8.self)
            }
        }
        walk(obj, "")
        return out
    }
}

/// Digests of the files and folders stages read. A file's digest is SHA-256 of its
/// bytes, remembered per (path, size, mtime, inode) in the cache folder so that a large
/// unchanged file is hashed once (as DVC does). A folder's digest is made of its files'
/// relative paths and content digests (each remembered the same way), never of their
/// modification times: a dataset copied again, unpacked anew or checked out on another
/// machine keeps its key and its cached results, and any added, removed or rewritten
/// file still changes it. The first look at a new folder reads every byte once
/// (about 60 MB for MTD); later runs only stat the files.
public final class FileDigests: @unchecked Sendable {
    private struct Memo: Codable { var size: Int64; var mtime: Double; var inode: UInt64; var digest: String }
    private let memoURL: URL?
    private var memo: [String: Memo]
    private var dirty = false
    private let lock = NSLock()

    /// Set when the memo file existed but could not be read as digests (truncated or
    /// garbled): it was moved to `quarantine/` next to it, never trusted, and every input
    /// is hashed afresh. One line for the user saying so.
    public private(set) var damagedMemoNote: String?

    public init(memoFile: URL?) {
        memoURL = memoFile
        memo = [:]
        guard let memoFile, FileManager.default.fileExists(atPath: memoFile.path) else { return }
        // About 150 bytes a file: 256 MiB is well over a million remembered files.
        if let data = try? BoundedRead.data(memoFile, limit: 256 << 20),
           let m = try? JSONDecoder().decode([String: Memo].self, from: data) { memo = m; return }
        let quarantine = memoFile.deletingLastPathComponent().appendingPathComponent("quarantine")
        let name = "\(memoFile.lastPathComponent)-\(Int(Date().timeIntervalSince1970))-\(UUID().uuidString.prefix(6))"
        let moved = (try? FileManager.default.createDirectory(at: quarantine, withIntermediateDirectories: true)) != nil
            && (try? FileManager.default.moveItem(at: memoFile, to: quarantine.appendingPathComponent(name))) != nil
        damagedMemoNote = "funad: \(memoFile.lastPathComponent) is damaged (not a valid digest list)"
            + (moved ? "; moved to quarantine/\(name)" : "; ignored") + "; input digests are recomputed"
        dirty = true  // write a sound memo back even if no digest changes
    }

    public func digest(ofPath path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw Diagnostic("input '\(path)' no longer exists")
        }
        return isDir.boolValue ? try folderDigest(path) : try fileDigest(path)
    }

    private func fileDigest(_ path: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw Diagnostic("cannot stat input '\(path)'") }
        let size = Int64(st.st_size)
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        let inode = UInt64(st.st_ino)
        lock.lock()
        if let m = memo[path], m.size == size, m.mtime == mtime, m.inode == inode { lock.unlock(); return m.digest }
        lock.unlock()
        let digest = try SHA256.hex(fileAt: URL(fileURLWithPath: path))
        lock.lock()
        memo[path] = Memo(size: size, mtime: mtime, inode: inode, digest: digest)
        dirty = true
        lock.unlock()
        return digest
    }

    private func folderDigest(_ path: String) throws -> String {
        let root = URL(fileURLWithPath: path)
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw Diagnostic("cannot list input folder '\(path)'")
        }
        var files: [(relative: String, absolute: String)] = []
        let prefix = root.standardizedFileURL.path.count + 1
        for case let url as URL in e {
            guard try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true else { continue }
            let absolute = url.standardizedFileURL.path
            files.append((String(absolute.dropFirst(prefix)), absolute))
        }
        files.sort { $0.relative < $1.relative }
        var lines: [String] = []
        lines.reserveCapacity(files.count)
        for f in files { lines.append("\(f.relative)\t\(try fileDigest(f.absolute))") }
        return Self.folderDigestPrefix + SHA256.hex(lines.joined(separator: "\n"))
    }

    /// Marks a folder digest made of file contents. Earlier funad versions wrote `dir:`
    /// digests made of sizes and modification times; `CacheKeyMaterial.differences` names
    /// that change instead of claiming the folder's content changed.
    static let folderDigestPrefix = "tree:"
    static let listingDigestPrefix = "dir:"

    /// Writes remembered digests back (atomically) for the next run.
    public func save() {
        lock.lock(); defer { lock.unlock() }
        guard dirty, let memoURL, let data = try? JSONEncoder().encode(memo) else { return }
        try? data.write(to: memoURL, options: .atomic)
        dirty = false
    }
}
