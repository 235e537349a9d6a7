/// Builds the `YAMLNode` tree of one YAML document from LibYAML's events, without recursion.
///
/// Aliases are resolved here: an alias becomes a copy of its anchor's value (sharing its
/// storage, so copying is cheap) and counts as every node of that value against
/// `YAMLLimits.maximumNodes`. Counting happens before anything is built, so an alias bomb
/// is refused after a few events instead of after an exponential expansion.
///
/// Resolution follows what Yams did before (workflows mean the same): quoted, literal and
/// folded scalars are strings, plain ones are resolved as YAML 1.1 (`PlainScalar`), tags
/// are ignored, an aliased value keeps the locations of its anchor, a later anchor of the
/// same name replaces an earlier one, and an anchor is usable once its value has ended.
struct YAMLComposer {
    let file: String

    /// A list or mapping whose end event has not come yet.
    private struct Open {
        var isMapping: Bool
        var location: SourceLocation
        var anchor: String?
        var items: [YAMLNode] = []
        var entries: [YAMLEntry] = []
        /// A mapping's key waiting for its value.
        var pendingKey: (text: String, location: SourceLocation)?
        /// Keys seen so far, with where each was first defined; and repeated keys.
        var firstDefinition: [KeyIdentity: SourceLocation] = [:]
        var repeats: [(name: String, first: SourceLocation, again: SourceLocation)] = []
        /// Nodes in this value so far, itself included (aliases count their whole value).
        var size = 1
    }

    /// Two keys are the same when their text and resolved type are (as Yams compared them):
    /// `1` and `"1"` are different keys, `a` and `"a"` the same.
    private struct KeyIdentity: Hashable {
        var text: String
        var kind: YAMLValue.ScalarKind
    }

    private var open: [Open] = []
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    private var anchorCount = 0
    private var nodeCount = 0
    private var root: YAMLNode?
    /// A key that is a list or mapping. Yams reported these after reading the whole
    /// stream (syntax errors first), so the reader does too; the earliest one wins.
    private var badKey: Diagnostic?

    init(file: String) { self.file = file }

    /// The document's root, or nil for a stream without documents.
    mutating func compose(_ bytes: UnsafeBufferPointer<UInt8>) throws -> YAMLNode? {
        let events = LibYAMLEvents(bytes, file: file)
        _ = try events.next()  // stream start
        let first = try events.next()
        if case .streamEnd = first.kind { return nil }
        while root == nil {
            try handle(try events.next())
        }
        _ = try events.next()  // document end
        let after = try events.next()
        if case .documentStart = after.kind {
            throw Diagnostic("malformed YAML: but found another document (expected a single document in the stream started at line 1)",
                             at: location(after))
        }
        if let badKey { throw badKey }
        return root
    }

    private func location(_ e: YAMLEvent) -> SourceLocation {
        SourceLocation(file: file, line: e.line, column: e.column)
    }

    private mutating func handle(_ event: YAMLEvent) throws {
        let at = location(event)
        switch event.kind {
        case .scalar(let text, let plain, let anchor):
            try count(1, at: at)
            let node = YAMLNode(.scalar(text, plain ? PlainScalar.kind(of: text) : .quoted), at: at)
            if let anchor { try define(anchor, node, size: 1, at: at) }
            attach(node, size: 1)
        case .alias(let name):
            guard let target = anchors[name] else {
                throw Diagnostic("malformed YAML: found undefined alias", at: at)
            }
            guard target.size <= YAMLLimits.maximumNodes - nodeCount else {
                throw Diagnostic("aliases expand to more than \(YAMLLimits.maximumNodes) nodes (at *\(name)); a workflow file may hold at most \(YAMLLimits.maximumNodes) YAML nodes once aliases are expanded",
                                 at: at)
            }
            nodeCount += target.size
            attach(target.node, size: target.size)
        case .sequenceStart(let anchor), .mappingStart(let anchor):
            guard open.count < YAMLLimits.maximumDepth else {
                throw Diagnostic("malformed YAML: lists and mappings nested more than \(YAMLLimits.maximumDepth) levels deep", at: at)
            }
            try count(1, at: at)
            var isMapping = false
            if case .mappingStart = event.kind { isMapping = true }
            open.append(Open(isMapping: isMapping, location: at, anchor: anchor))
        case .sequenceEnd, .mappingEnd:
            let done = open.removeLast()
            if let r = done.repeats.min(by: { $0.name < $1.name }) {
                throw Diagnostic("duplicate key '\(r.name)' (first defined at line \(r.first.line)); names in a mapping must be unique", at: r.again)
            }
            let node = YAMLNode(done.isMapping ? .mapping(done.entries) : .sequence(done.items), at: done.location)
            if let anchor = done.anchor { try define(anchor, node, size: done.size, at: done.location) }
            attach(node, size: done.size)
        case .streamStart, .streamEnd, .documentStart, .documentEnd:
            throw Diagnostic("malformed YAML: unexpected end of the document", at: at)
        }
    }

    /// Counts nodes written out in the file (aliases are counted where they are resolved).
    private mutating func count(_ n: Int, at: SourceLocation) throws {
        guard nodeCount + n <= YAMLLimits.maximumNodes else {
            throw Diagnostic("the file holds more than \(YAMLLimits.maximumNodes) YAML nodes; a workflow file may hold at most \(YAMLLimits.maximumNodes)", at: at)
        }
        nodeCount += n
    }

    private mutating func define(_ anchor: String, _ node: YAMLNode, size: Int, at: SourceLocation) throws {
        anchorCount += 1
        guard anchorCount <= YAMLLimits.maximumAnchors else {
            throw Diagnostic("more than \(YAMLLimits.maximumAnchors) anchors (&\(anchor)); a workflow file may define at most \(YAMLLimits.maximumAnchors)", at: at)
        }
        anchors[anchor] = (node, size)
    }

    /// Adds a finished value to the list or mapping that holds it (or makes it the root).
    private mutating func attach(_ node: YAMLNode, size: Int) {
        guard let top = open.indices.last else { root = node; return }
        open[top].size += size
        guard open[top].isMapping else { open[top].items.append(node); return }
        if let key = open[top].pendingKey {
            open[top].entries.append(YAMLEntry(key: key.text, keyLocation: key.location, value: node))
            open[top].pendingKey = nil
            return
        }
        switch node.value {
        case .scalar(let text, let kind):
            let identity = KeyIdentity(text: text, kind: kind == .quoted ? .string : kind)
            if let first = open[top].firstDefinition[identity] {
                if !open[top].repeats.contains(where: { $0.name == text }) {
                    open[top].repeats.append((text, first, node.location))
                }
            } else {
                open[top].firstDefinition[identity] = node.location
            }
        case .sequence, .mapping:
            let what = node.entries != nil ? "mapping" : "list"
            let d = Diagnostic("mapping keys must be plain names; found a \(what) as a key", at: node.location)
            if badKey.map({ ($0.location!.line, $0.location!.column) > (node.location.line, node.location.column) }) ?? true {
                badKey = d
            }
        }
        open[top].pendingKey = (node.scalarText ?? "", node.location)
    }
}

extension YAMLNode {
    /// The text of a scalar, nil for a list or mapping.
    var scalarText: String? {
        if case .scalar(let text, _) = value { return text }
        return nil
    }
}
