import Foundation

/// One stage as written in the workflow file, before validation.
public struct StageSpec: Sendable, Equatable {
    public var name: String
    public var location: SourceLocation
    public var type: String?
    public var typeLocation: SourceLocation
    public var needs: [Need]
    /// The `with:` mapping, if any.
    public var with: YAMLNode?

    public struct Need: Sendable, Equatable {
        public var name: String
        public var location: SourceLocation
    }
}

/// A workflow file after YAML parsing and variable substitution.
public struct WorkflowSpec: Sendable {
    public var name: String
    /// The path as the user gave it (used in messages).
    public var file: String
    /// Relative paths in parameters are resolved against this folder.
    public var baseDirectory: URL
    /// Variables in force (defaults, environment and --set merged), recorded in the run record.
    public var variables: [String: String]
    public var stages: [StageSpec]
    /// SHA-256 of the file's bytes, recorded in the run record.
    public var fileDigest: String
}

/// Command-line settings applied on top of a workflow file: `--set NAME=value` sets a
/// variable; `--set stage.param[.sub]=value` overrides a stage parameter.
public struct Overrides: Sendable {
    public var variables: [String: String] = [:]
    public var parameters: [(stage: String, path: [String], value: String)] = []

    public init() {}

    /// Parses `--set` arguments; a malformed one is a usage error.
    public init(settings: [String]) throws {
        for setting in settings {
            guard let eq = setting.firstIndex(of: "="), eq != setting.startIndex else {
                throw Diagnostic("--set '\(setting)': expected NAME=value or stage.param=value")
            }
            let key = String(setting[..<eq])
            let value = String(setting[setting.index(after: eq)...])
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            if parts.contains(where: \.isEmpty) {
                throw Diagnostic("--set '\(setting)': '\(key)' has an empty part; expected stage.param=value")
            }
            if parts.count == 1 {
                variables[key] = value
            } else {
                parameters.append((parts[0], Array(parts.dropFirst()), value))
            }
        }
    }
}
