/// A place in a workflow file: 1-based line and column, as editors count them.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One finding about a workflow: where, which stage and field, and what was expected.
/// Diagnostics are values; `description` renders the one-line message users see.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation?
    public var stage: String?
    public var field: String?
    public var message: String

    public init(_ message: String, at location: SourceLocation? = nil, stage: String? = nil, field: String? = nil) {
        self.message = message
        self.location = location
        self.stage = stage
        self.field = field
    }

    public var description: String {
        var parts: [String] = []
        if let location { parts.append("\(location)") }
        var subject = ""
        if let stage { subject = "stage '\(stage)'" }
        if let field { subject += subject.isEmpty ? "field '\(field)'" : ", field '\(field)'" }
        if !subject.isEmpty { parts.append(subject) }
        parts.append(Self.shortened(message))
        return "error: " + parts.joined(separator: ": ")
    }

    /// Messages quote the values they refuse; a value of megabytes must not make a
    /// megabyte error line.
    static let maxMessageCharacters = 1000

    static func shortened(_ message: String) -> String {
        guard message.utf8.count > maxMessageCharacters else { return message }
        let total = message.count
        guard total > maxMessageCharacters else { return message }
        return String(message.prefix(maxMessageCharacters)) + "… (\(total - maxMessageCharacters) more characters)"
    }
}

/// Several diagnostics reported together: validation collects every finding before
/// anything runs, so that a user fixes a file in one pass.
public struct DiagnosticList: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
