import Foundation
import Workflow

/// Finds and loads plugin stage files (`*.lua` in the plugin stage folders) at start-up.
/// A file that fails to load never stops funad: it becomes a one-line warning, and the
/// type it meant to define is remembered as unavailable so that a workflow using it is
/// told why the type is unknown.
public enum PluginStageLoader {
    /// Plugin files are small programs; a larger file is almost certainly the wrong file.
    static let maximumFileBytes = 1 << 20

    /// What loading the plugin folders gave.
    public struct Outcome: Sendable {
        public var types: [any StageType] = []
        /// One line per file that did not load (or folder that could not be read).
        public var warnings: [String] = []
        /// Type name (declared, else the file's base name) → the problem.
        public var unavailable: [String: String] = [:]
    }

    /// The plugin stage folders, first match wins for a type name: the folders of
    /// `$FUNAD_PLUGIN_PATH` (colon-separated; set but empty means no plugin stages), else
    /// `./plugins/stages` and `<folder of the funad executable>/../../plugins/stages` (a
    /// build tree: `.build/release/funad` finds the repository's plugins). Only existing
    /// folders are returned, each once (by real path).
    public static func defaultDirectories(environment: [String: String], executablePath: String?,
                                          currentDirectory: String) -> [URL] {
        let cwd = URL(fileURLWithPath: currentDirectory)
        var candidates: [URL]
        if let path = environment["FUNAD_PLUGIN_PATH"] {
            candidates = path.split(separator: ":").map { URL(fileURLWithPath: String($0), relativeTo: cwd) }
        } else {
            candidates = [cwd.appendingPathComponent("plugins/stages")]
            if let executablePath, executablePath.contains("/") {
                let exe = URL(fileURLWithPath: executablePath, relativeTo: cwd)
                candidates.append(exe.deletingLastPathComponent().appendingPathComponent("../../plugins/stages"))
            }
        }
        var seen: Set<String> = []
        var out: [URL] = []
        for url in candidates {
            var isDirectory: ObjCBool = false
            guard let real = ConfinedFolder.realPath(url.path),
                  FileManager.default.fileExists(atPath: real, isDirectory: &isDirectory), isDirectory.boolValue,
                  seen.insert(real).inserted else { continue }
            out.append(url.standardizedFileURL)
        }
        return out
    }

    /// Loads every `*.lua` directly in `directories` (sorted by name within a folder).
    /// `reserved` are the built-in type names a plugin may not take.
    public static func load(directories: [URL], reserved: Set<String>) -> Outcome {
        var outcome = Outcome()
        var taken = reserved
        var definedBy: [String: String] = [:]
        for directory in directories {
            let files: [String]
            do { files = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
                outcome.warnings.append("cannot list plugin stage folder \(displayName(directory.path))")
                continue
            }
            for file in files.sorted() where file.hasSuffix(".lua") {
                let path = directory.appendingPathComponent(file).path
                let name = displayName(path)
                do {
                    let type = try loadFile(at: path, displayName: name, reserved: reserved)
                    let typeName = type.declaration.type
                    guard !taken.contains(typeName) else {
                        let problem = "\(name): stage.type '\(typeName)' is already defined by \(definedBy[typeName] ?? "funad"); this file is ignored"
                        outcome.warnings.append(problem)
                        continue
                    }
                    taken.insert(typeName)
                    definedBy[typeName] = name
                    outcome.types.append(type)
                } catch let failure as Failure {
                    outcome.warnings.append(failure.message)
                    let typeName = failure.declaredType ?? String(file.dropLast(".lua".count))
                    if !taken.contains(typeName) { outcome.unavailable[typeName] = failure.message }
                } catch {
                    outcome.warnings.append("\(error)")
                }
            }
        }
        return outcome
    }

    /// Why one file did not load, and the type it declared when that much was readable.
    struct Failure: Error {
        var message: String
        var declaredType: String?
    }

    /// Reads, runs (in the sandbox, default hook limits) and checks one plugin file.
    static func loadFile(at path: String, displayName name: String, reserved: Set<String>) throws -> LuaStageType {
        let data: Data
        do { data = try BoundedRead.data(URL(fileURLWithPath: path), limit: maximumFileBytes) } catch let big as BoundedRead.TooLarge {
            throw Failure(message: "\(name): \(big.size) bytes; a plugin stage file may have at most \(maximumFileBytes) bytes")
        } catch {
            throw Failure(message: "\(name): cannot read the file")
        }
        guard let source = String(data: data, encoding: .utf8) else {
            throw Failure(message: "\(name): not UTF-8 text (Lua files are loaded as text only)")
        }
        let site = LuaCallSite(role: "stage-plugin declaration", stage: "(start-up)")
        let script: LuaScript
        let value: LuaValue
        do {
            script = try LuaScript(source: source, chunkName: name, limits: .default, site: site)
            value = try script.global("stage")
        } catch {
            // The call site means nothing at start-up: keep the script's own words.
            let text = "\(error)"
            let suffix = " \(site)"
            throw Failure(message: text.hasSuffix(suffix) ? String(text.dropLast(suffix.count)) : text)
        }
        let declaredType = value.tableValue?.fields["type"]?.stringValue
        var declaration: StageDeclaration
        do throws(PluginStageDeclarationReader.Problem) {
            declaration = try PluginStageDeclarationReader(file: name, reserved: reserved).read(value)
        } catch {
            throw Failure(message: error.description, declaredType: declaredType)
        }
        guard script.hasFunction("run") else {
            let defined = script.globalFunctionNames
            let listing = defined.isEmpty ? "it defines no global function" : "it defines \(defined.joined(separator: ", "))"
            throw Failure(message: "\(name): no global function 'run'\(NameSuggestion.hint(for: "run", among: defined)); a plugin stage defines function run(ctx) (\(listing))",
                          declaredType: declaredType)
        }
        declaration.implementationDigest = SHA256.hex(data)
        declaration.definitionFile = name
        return LuaStageType(declaration: declaration, source: source)
    }

    /// The path relative to the current folder when it lies below it, else absolute.
    static func displayName(_ path: String) -> String {
        let standard = URL(fileURLWithPath: path).standardizedFileURL.path
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL.path + "/"
        return standard.hasPrefix(cwd) ? String(standard.dropFirst(cwd.count)) : standard
    }
}
