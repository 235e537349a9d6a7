/// A YAML value with the place it came from. The engine's own tree (built from LibYAML's
/// events by `YAMLComposer`) so that every later step — substitution, validation, overrides — keeps a
/// location to report, and so that values are plain Sendable data.
public indirect enum YAMLValue: Sendable, Equatable {
    /// A scalar keeps its text and how YAML resolved it (int, float, bool, null, str).
    case scalar(String, ScalarKind)
    case sequence([YAMLNode])
    case mapping([YAMLEntry])

    /// `quoted` is text written in quotes: always a string, never re-read as a number.
    public enum ScalarKind: String, Sendable, Equatable { case string, quoted, int, float, bool, null }
}

public struct YAMLNode: Sendable, Equatable {
    public var value: YAMLValue
    public var location: SourceLocation

    public init(_ value: YAMLValue, at location: SourceLocation) {
        self.value = value
        self.location = location
    }

    /// Mapping entries in file order, or nil when this is not a mapping.
    public var entries: [YAMLEntry]? {
        if case .mapping(let e) = value { return e }
        return nil
    }

    public subscript(key: String) -> YAMLNode? {
        entries?.first(where: { $0.key == key })?.value
    }

    /// What the node is, in the words of an error message ("a mapping", "the string 'x'").
    public var kindDescription: String {
        switch value {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let text, let kind):
            switch kind {
            case .null: return "nothing (null)"
            case .string, .quoted: return "the string '\(text)'"
            case .int: return "the integer \(text)"
            case .float: return "the number \(text)"
            case .bool: return "the boolean \(text)"
            }
        }
    }
}

public struct YAMLEntry: Sendable, Equatable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: YAMLNode
}

/// Parses YAML text into `YAMLNode`s with LibYAML's event parser (the system's libyaml,
/// through `CYAML`), turning the parser's errors into diagnostics with `file:line:column`.
/// Aliases are expanded here, against the budgets of `YAMLLimits`, so that a small hostile
/// file cannot make funad build an exponentially large tree ("billion laughs").
public enum YAMLReader {
    public static func parse(_ text: String, file: String) throws -> YAMLNode {
        let size = text.utf8.count
        guard size <= YAMLLimits.maximumDocumentBytes else {
            throw Diagnostic("the file has \(size) bytes; a workflow file may have at most \(YAMLLimits.maximumDocumentBytes) bytes",
                             at: SourceLocation(file: file, line: 1, column: 1))
        }
        var text = text
        let root = try text.withUTF8 { bytes in
            var composer = YAMLComposer(file: file)
            return try composer.compose(bytes)
        }
        guard let root else {
            throw Diagnostic("the file is empty; expected a workflow mapping with 'stages'",
                             at: SourceLocation(file: file, line: 1, column: 1))
        }
        return root
    }
}

/// What a workflow file may make the reader build. Each bound keeps the time and memory of
/// reading a file proportional to its size, whatever the file says.
enum YAMLLimits {
    /// Workflow files are written by hand: the shipped ones are 1–3 KB. 1 MiB is hundreds of
    /// times that, and LibYAML scans it in milliseconds.
    static let maximumDocumentBytes = 1 << 20
    /// Lists and mappings open at once. The same depth as the LibYAML copy inside Yams
    /// refused before; workflows use 4–6 levels. Later steps (substitution, validation) walk
    /// the tree recursively, so the bound also keeps their stacks small.
    static let maximumDepth = 1000
    /// Nodes in the tree once aliases are expanded (an alias counts as every node of the
    /// value it copies). Shipped workflows have a few hundred; 100,000 nodes take ~10 MB
    /// and are walked by substitution and validation in a few milliseconds. Expansion
    /// itself shares storage, so refusing costs no more than counting.
    static let maximumNodes = 100_000
    /// Anchors (`&name`) defined in one file: each keeps a value alive for later aliases.
    /// A workflow that shares settings needs a handful.
    static let maximumAnchors = 1000
}
