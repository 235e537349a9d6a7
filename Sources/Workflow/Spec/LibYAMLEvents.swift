import CYAML

/// One parse event with the place it starts (1-based line and column, as LibYAML counts
/// them: columns in Unicode scalars).
struct YAMLEvent {
    enum Kind {
        case streamStart, streamEnd, documentStart, documentEnd
        case alias(anchor: String)
        /// `plain` is false for quoted, literal (`|`) and folded (`>`) text.
        case scalar(text: String, plain: Bool, anchor: String?)
        case sequenceStart(anchor: String?), sequenceEnd
        case mappingStart(anchor: String?), mappingEnd
    }

    var kind: Kind
    var line: Int
    var column: Int
}

/// LibYAML's event parser over a UTF-8 buffer that outlives it. Errors become the same
/// diagnostics users saw when Yams drove LibYAML ("malformed YAML: …", with LibYAML's own
/// words and the place it reports).
final class LibYAMLEvents {
    /// Heap-allocated: LibYAML keeps pointers into the parser struct itself, so it must not move.
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let file: String
    /// LibYAML asserts a non-null input pointer, which an empty buffer may not have.
    private let emptyInput = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

    /// False when LibYAML could not allocate its buffers; `next()` then reports it.
    private let ready: Bool

    init(_ bytes: UnsafeBufferPointer<UInt8>, file: String) {
        self.file = file
        parser = .allocate(capacity: 1)
        ready = yaml_parser_initialize(parser) == 1
        if ready {
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(parser, bytes.baseAddress ?? UnsafePointer(emptyInput), bytes.count)
        }
    }

    deinit {
        if ready { yaml_parser_delete(parser) }
        parser.deallocate()
        emptyInput.deallocate()
    }

    func next() throws -> YAMLEvent {
        guard ready else {
            throw Diagnostic("malformed YAML: Memory error", at: SourceLocation(file: file, line: 1, column: 1))
        }
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else { throw failure() }
        defer { yaml_event_delete(&event) }
        let line = Int(event.start_mark.line) + 1, column = Int(event.start_mark.column) + 1
        let kind: YAMLEvent.Kind
        switch event.type {
        case YAML_STREAM_START_EVENT: kind = .streamStart
        case YAML_STREAM_END_EVENT: kind = .streamEnd
        case YAML_DOCUMENT_START_EVENT: kind = .documentStart
        case YAML_DOCUMENT_END_EVENT: kind = .documentEnd
        case YAML_ALIAS_EVENT: kind = .alias(anchor: Self.string(event.data.alias.anchor) ?? "")
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let text = s.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: s.length), as: UTF8.self) } ?? ""
            kind = .scalar(text: text, plain: s.style == YAML_PLAIN_SCALAR_STYLE, anchor: Self.string(s.anchor))
        case YAML_SEQUENCE_START_EVENT: kind = .sequenceStart(anchor: Self.string(event.data.sequence_start.anchor))
        case YAML_SEQUENCE_END_EVENT: kind = .sequenceEnd
        case YAML_MAPPING_START_EVENT: kind = .mappingStart(anchor: Self.string(event.data.mapping_start.anchor))
        case YAML_MAPPING_END_EVENT: kind = .mappingEnd
        default:
            throw Diagnostic("malformed YAML: unexpected parser event \(event.type.rawValue)", at: SourceLocation(file: file, line: line, column: column))
        }
        return YAMLEvent(kind: kind, line: line, column: column)
    }

    private static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        p.map { String(cString: $0) }
    }

    /// The parser's error in the words Yams gave it: the problem, LibYAML's context
    /// ("while parsing a flow mapping") with the line it started on, at the problem's mark.
    private func failure() -> Diagnostic {
        let p = parser.pointee
        let problem = p.problem.map { String(cString: $0) } ?? "unknown error"
        switch p.error {
        case YAML_MEMORY_ERROR:
            return Diagnostic("malformed YAML: Memory error", at: SourceLocation(file: file, line: 1, column: 1))
        case YAML_READER_ERROR:
            return Diagnostic("malformed YAML: \(problem)", at: SourceLocation(file: file, line: 1, column: 1))
        default:
            let context = p.context.map { " (\(String(cString: $0)) started at line \(p.context_mark.line + 1))" } ?? ""
            return Diagnostic("malformed YAML: \(problem)\(context)",
                              at: SourceLocation(file: file, line: Int(p.problem_mark.line) + 1, column: Int(p.problem_mark.column) + 1))
        }
    }
}
