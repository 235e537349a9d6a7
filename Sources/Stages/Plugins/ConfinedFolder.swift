import Foundation

/// One folder a plugin stage may read or write, and the only way its file names become
/// paths: a name must be relative, free of `..`, `.`, empty components and NUL, and what
/// it resolves to — symbolic links followed — must lie inside the folder. A plugin thus
/// reaches its own inputs and output and nothing else, whatever it passes.
struct ConfinedFolder {
    /// How messages name the folder: "input 1", "the output folder".
    let label: String
    /// The folder with symbolic links resolved.
    let root: String

    struct Violation: Error, CustomStringConvertible {
        var description: String
    }

    init(_ url: URL, label: String) {
        self.label = label
        root = Self.realPath(url.path) ?? url.standardizedFileURL.path
    }

    /// The path of an existing file `name` in the folder (its real path).
    func existingFile(_ name: String, function: String) throws -> String {
        try checkName(name, function: function)
        let joined = root + "/" + name
        guard let real = Self.realPath(joined) else {
            throw Violation(description: "\(function): '\(name)' does not exist in \(label)")
        }
        try checkInside(real, name: name, function: function)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: real, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw Violation(description: "\(function): '\(name)' in \(label) is a folder, not a file")
        }
        return real
    }

    /// The path to write `name` at: missing parent folders are created inside the folder,
    /// and an existing link at the target is refused (it could point anywhere).
    func writableFile(_ name: String, function: String) throws -> String {
        try checkName(name, function: function)
        let components = name.split(separator: "/").map(String.init)
        var parent = root
        for folder in components.dropLast() {
            parent += "/" + folder
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) {
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: false)
            } else if !isDirectory.boolValue {
                throw Violation(description: "\(function): '\(name)': \(parent.dropFirst(root.count + 1)) is a file, not a folder")
            }
        }
        guard let realParent = Self.realPath(parent) else {
            throw Violation(description: "\(function): cannot resolve the folder of '\(name)' in \(label)")
        }
        try checkInside(realParent + "/", name: name, function: function)
        let target = realParent + "/" + components.last!
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: target)) != nil {
            throw Violation(description: "\(function): '\(name)' in \(label) is a symbolic link; a plugin writes plain files only")
        }
        return target
    }

    /// Every regular file below the folder, as sorted relative names.
    func listing() throws -> [String] {
        let rootURL = URL(fileURLWithPath: root)
        guard let e = FileManager.default.enumerator(at: rootURL, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var names: [String] = []
        for case let url as URL in e where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let path = url.standardizedFileURL.path
            if path.hasPrefix(root + "/") { names.append(String(path.dropFirst(root.count + 1))) }
        }
        return names.sorted()
    }

    private func checkName(_ name: String, function: String) throws {
        if name.isEmpty { throw Violation(description: "\(function): the file name is empty") }
        if name.utf8.contains(0) { throw Violation(description: "\(function): the file name contains a NUL byte") }
        if name.hasPrefix("/") || name.hasPrefix("~") {
            throw Violation(description: "\(function): '\(name)' is an absolute path; names are relative to \(label)")
        }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") {
            throw Violation(description: "\(function): '\(name)' leaves \(label); names may not contain '..'")
        }
        if parts.contains(where: { $0.isEmpty || $0 == "." }) {
            throw Violation(description: "\(function): '\(name)' is not a plain relative name (empty or '.' component)")
        }
    }

    private func checkInside(_ real: String, name: String, function: String) throws {
        guard real.hasPrefix(root + "/") else {
            throw Violation(description: "\(function): '\(name)' resolves to \(real), outside \(label)")
        }
    }

    /// realpath(3): the absolute path with every link resolved, or nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
