import Foundation
import Testing
@testable import Workflow

/// The workflow YAML reader over LibYAML's events: how scalars resolve (as they did under
/// Yams), how aliases expand, and each limit with its exact message.
@Suite struct YAMLReaderTests {
    /// The message a text gets from `YAMLReader.parse`, or nil when it parses.
    func message(_ text: String, file: String = "w.yaml") -> String? {
        do { _ = try YAMLReader.parse(text, file: file); return nil } catch let d as Diagnostic {
            return d.description
        } catch { return "unexpected \(error)" }
    }

    // MARK: - Alias budget

    /// The bomb: eight levels of anchors, each a list of ten aliases of the one
    /// before. Fully expanded it would be 10⁸ strings.
    static let aliasBomb = """
        a0: &a0 [x, x, x, x, x, x, x, x, x, x]
        a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
        a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
        a3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
        a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
        a5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]
        a6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]
        a7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]
        a8: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]
        stages: {s: {type: emit, with: {value: *a8}}}
        """

    /// Where the budget runs out, by hand: `a_k` is a list of ten `a_(k-1)`, so it has
    /// 1 + 10·|a_(k-1)| nodes: |a0| = 11, |a1| = 111, |a2| = 1111, |a3| = 11111. Lines 1–4
    /// hold the root mapping (1), four keys (4) and a0…a3 (12344): 12349 nodes. Line 5 adds
    /// its key and list (12351), then 11111 per `*a3`: the 8th would make 101239 > 100000.
    /// It starts at column 10 + 7·5 = 45.
    @Test func aliasBombIsRefusedWhereTheBudgetRunsOut() {
        #expect(message(Self.aliasBomb, file: "bomb.yaml")
                == "error: bomb.yaml:5:45: aliases expand to more than 100000 nodes (at *a3); a workflow file may hold at most 100000 YAML nodes once aliases are expanded")
    }

    /// Through the loader too (what `funad plan` runs): one diagnostic, the same words.
    @Test func aliasBombThroughTheWorkflowLoader() throws {
        let s = Scratch()
        let path = s.write("bomb.yaml", Self.aliasBomb)
        #expect(throws: DiagnosticList.self) { try s.session().load(path) }
        do { _ = try s.session().load(path) } catch let list as DiagnosticList {
            #expect(list.diagnostics.count == 1)
            #expect(list.description.hasSuffix("bomb.yaml:5:45: aliases expand to more than 100000 nodes (at *a3); a workflow file may hold at most 100000 YAML nodes once aliases are expanded"))
        }
    }

    @Test func aliasesWithinTheBudgetAreCopiesOfTheirAnchor() throws {
        let root = try YAMLReader.parse("""
            defaults: &d {lr: 0.5, tags: [a, "1"]}
            stages:
              s: {type: emit, with: *d}
            """, file: "w.yaml")
        let original = try #require(root["defaults"])
        let copy = try #require(root["stages"]?["s"]?["with"])
        #expect(copy == original)  // same values and the anchor's locations, as Yams gave them
        #expect(copy["lr"]?.value == .scalar("0.5", .float))
        #expect(copy.location == SourceLocation(file: "w.yaml", line: 1, column: 11))
    }

    @Test func undefinedAliasKeepsYamsWords() {
        #expect(message("a: *nope\n") == "error: w.yaml:1:4: malformed YAML: found undefined alias")
    }

    /// 1001 anchors, one per line from line 2: the 1001st (`&x1000`, line 1002) is refused.
    @Test func anchorCountIsLimited() {
        let text = "a:\n" + (0...1000).map { "  - &x\($0) 1\n" }.joined()
        #expect(message(text) == "error: w.yaml:1002:5: more than 1000 anchors (&x1000); a workflow file may define at most 1000")
        let fine = "a:\n" + (0..<1000).map { "  - &x\($0) 1\n" }.joined()
        #expect(message(fine) == nil)
    }

    // MARK: - Size, depth and node limits

    @Test func documentSizeIsLimited() {
        let limit = 1 << 20
        let filler = "# " + String(repeating: "x", count: limit - 2 - "\na: 1\n".utf8.count) + "\na: 1\n"
        #expect(filler.utf8.count == limit)
        #expect(message(filler) == nil)
        #expect(message(filler + " ") == "error: w.yaml:1:1: the file has 1048577 bytes; a workflow file may have at most 1048576 bytes")
    }

    /// The root mapping is level 1, so the 1000th `[` (column 8 + 1000) opens level 1001.
    @Test func nestingIsLimited() {
        let deep = "stages: " + String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(message(deep) == "error: w.yaml:1:1008: malformed YAML: lists and mappings nested more than 1000 levels deep")
        let fine = "stages: " + String(repeating: "[", count: 999) + String(repeating: "]", count: 999)
        #expect(message(fine) == nil)
    }

    /// Without aliases: root, key and list are 3 nodes, so element k makes 3 + k; element
    /// 99998 (column 10 + 2·99997) is the first over 100000.
    @Test func nodeCountIsLimitedWithoutAliasesToo() {
        let text = "stages: [" + String(repeating: "0,", count: 100_000) + "]"
        #expect(message(text) == "error: w.yaml:1:200004: the file holds more than 100000 YAML nodes; a workflow file may hold at most 100000")
    }

    // MARK: - Scalars, keys and documents as under Yams

    @Test func scalarsResolveAsYAML11WithQuotedTextAlwaysAString() throws {
        let root = try YAMLReader.parse("""
            int: 10
            quoted: "10"
            single: '1.5'
            float: 1.5
            exp: 1e3
            bool: yes
            off: Off
            null1: ~
            null2:
            text: hello world
            block: |
              two
              lines
            tagged: !!str 10
            """, file: "w.yaml")
        func v(_ k: String) -> YAMLValue? { root[k]?.value }
        #expect(v("int") == .scalar("10", .int))
        #expect(v("quoted") == .scalar("10", .quoted))
        #expect(v("single") == .scalar("1.5", .quoted))
        #expect(v("float") == .scalar("1.5", .float))
        #expect(v("exp") == .scalar("1e3", .float))
        #expect(v("bool") == .scalar("yes", .bool))
        #expect(v("off") == .scalar("Off", .bool))
        #expect(v("null1") == .scalar("~", .null))
        #expect(v("null2") == .scalar("", .null))
        #expect(v("text") == .scalar("hello world", .string))
        #expect(v("block") == .scalar("two\nlines\n", .quoted))
        // Tags never changed how funad read a value (the spec reader looks at the style only).
        #expect(v("tagged") == .scalar("10", .int))
        #expect(root.entries?.map(\.key) == ["int", "quoted", "single", "float", "exp", "bool", "off", "null1", "null2", "text", "block", "tagged"])
        #expect(root["block"]?.location == SourceLocation(file: "w.yaml", line: 11, column: 8))
        #expect(root.entries?[10].keyLocation == SourceLocation(file: "w.yaml", line: 11, column: 1))
    }

    /// The second `value` of the same mapping, not the first `value` of the file (the
    /// text search under Yams could point at another mapping's key).
    @Test func duplicateKeyPointsAtTheRepeatInItsOwnMapping() {
        let text = """
            stages:
              a: {type: emit, with: {value: 1}}
              b: {type: emit, with: {value: 2, value: 3}}
            """
        #expect(message(text) == "error: w.yaml:3:36: duplicate key 'value' (first defined at line 3); names in a mapping must be unique")
        // `1` (an integer) and "1" (a string) are different keys, as they were.
        #expect(message("m: {1: a, \"1\": b}\n") == nil)
        #expect(message("m: {a: 1, \"a\": 2}\n") == "error: w.yaml:1:11: duplicate key 'a' (first defined at line 1); names in a mapping must be unique")
    }

    @Test func listAsKeyIsRefusedAfterSyntaxErrors() {
        #expect(message("? [a]\n: 1\n") == "error: w.yaml:1:3: mapping keys must be plain names; found a list as a key")
        #expect(message("? {a: 1}\n: 1\n") == "error: w.yaml:1:3: mapping keys must be plain names; found a mapping as a key")
    }

    @Test func emptyAndMultiDocumentFiles() {
        let empty = "error: w.yaml:1:1: the file is empty; expected a workflow mapping with 'stages'"
        #expect(message("") == empty)
        #expect(message("# only a comment\n\n") == empty)
        #expect(message("a: 1\n---\nb: 2\n")
                == "error: w.yaml:2:1: malformed YAML: but found another document (expected a single document in the stream started at line 1)")
    }

    @Test func readerErrorsAreReportedAtTheStart() {
        #expect(message("a: \u{01}\n") == "error: w.yaml:1:1: malformed YAML: control characters are not allowed")
    }
}
