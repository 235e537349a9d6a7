/// The type of a stage parameter, as declared by its stage type. The validator, the
/// `funad stages` listing and the cache key all read the same declaration.
public indirect enum ParameterType: Sendable, Hashable, CustomStringConvertible {
    case int(range: ClosedRange<Int>? = nil)
    case double(range: ClosedRange<Double>? = nil)
    case bool
    case string
    /// One of a fixed set of words.
    case choice([String])
    /// A file or folder the stage reads; its content is part of the cache key.
    case inputPath
    /// A path the stage only names (not read for the key), e.g. a download target.
    case path
    case list(ParameterType)
    case object([ParameterDeclaration])
    /// Lua hooks: a mapping from hook name (one of the given names) to a script path, or
    /// to `{script: path, with: {...}}`. Each script must exist, compile and define a
    /// global function of the hook's name; its bytes are part of the cache key.
    case luaHooks([String])

    public var description: String {
        switch self {
        case .int(let r): return r.map { "integer in \($0.lowerBound)...\($0.upperBound)" } ?? "integer"
        case .double(let r): return r.map { "number in \($0.lowerBound)...\($0.upperBound)" } ?? "number"
        case .bool: return "boolean"
        case .string: return "string"
        case .choice(let words): return "one of " + words.joined(separator: "|")
        case .inputPath: return "path to an existing file or folder"
        case .path: return "path"
        case .list(let t): return "list of \(t)"
        case .object: return "mapping"
        case .luaHooks(let names): return "mapping of hook (\(names.joined(separator: "|"))) to a Lua script or {script, with}"
        }
    }
}

public struct ParameterDeclaration: Sendable, Hashable {
    public var name: String
    public var type: ParameterType
    /// Used when the workflow does not set the parameter; nil with `required: false`
    /// means the parameter is simply absent.
    public var defaultValue: ParameterValue?
    public var required: Bool
    public var help: String

    public init(_ name: String, _ type: ParameterType, default defaultValue: ParameterValue? = nil,
                required: Bool = false, help: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.required = required
        self.help = help
    }
}

/// What a stage type is: its name, the artifact types it consumes and produces, its
/// parameters, and an implementation version that is part of every cache key (bump it
/// whenever the stage's results would change for the same inputs).
public struct StageDeclaration: Sendable {
    public var type: String
    public var version: Int
    public var summary: String
    public var consumes: [String]
    /// Consumed types that may be absent upstream (the stage works without them).
    public var optionallyConsumes: [String]
    public var produces: [String]
    public var parameters: [ParameterDeclaration]
    /// For a stage type defined by a file (a Lua plugin stage): SHA-256 of that file's
    /// bytes. Its version number alone would not follow a user's edits, so the digest
    /// joins the cache key; nil for compiled-in types, whose keys stay as they were.
    public var implementationDigest: String?
    /// The file that defines the type (as shown to users), nil for compiled-in types.
    public var definitionFile: String?
    /// Side stores the stage keeps across its results, by name (`<cache>/<name>/`, see
    /// `SideStores.swift`): declared so that `funad cache gc` knows the folder is the
    /// cache's and prunes its items by what the kept results used. Not part of any key.
    public var sideStores: [String]

    public init(type: String, version: Int, summary: String, consumes: [String] = [],
                optionallyConsumes: [String] = [], produces: [String], parameters: [ParameterDeclaration],
                implementationDigest: String? = nil, definitionFile: String? = nil, sideStores: [String] = []) {
        self.type = type
        self.version = version
        self.summary = summary
        self.consumes = consumes
        self.optionallyConsumes = optionallyConsumes
        self.produces = produces
        self.parameters = parameters
        self.implementationDigest = implementationDigest
        self.definitionFile = definitionFile
        self.sideStores = sideStores
    }
}

/// A stage type: its declaration plus the work.
public protocol StageType: Sendable {
    var declaration: StageDeclaration { get }
    /// Does the stage's work, writing results only under `context.outputDirectory`.
    /// Throwing fails the stage; nothing it wrote is kept.
    func run(_ context: StageContext) async throws
}

/// The stage types a program offers, by name.
public struct StageRegistry: Sendable {
    public private(set) var types: [String: any StageType] = [:]
    /// Type names that a plugin meant to define but could not (its file failed to load),
    /// with the problem: a workflow naming one is told why it is unknown.
    public private(set) var unavailable: [String: String] = [:]

    public init(_ types: [any StageType] = []) {
        for t in types { register(t) }
    }

    public mutating func register(_ type: any StageType) {
        types[type.declaration.type] = type
    }

    /// Records that type `name` could not be registered, and why (one line).
    public mutating func markUnavailable(_ name: String, problem: String) {
        unavailable[name] = problem
    }

    public subscript(name: String) -> (any StageType)? { types[name] }

    public var sortedNames: [String] { types.keys.sorted() }
}
