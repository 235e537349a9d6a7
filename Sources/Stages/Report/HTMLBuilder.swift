import Foundation

/// Writes markup that is both valid HTML5 and well-formed XML: every element is closed
/// (empty ones as `<br/>`), attribute values are quoted, text and attribute values are
/// escaped, and no named entity other than XML's five is used. SVG is written with the
/// same builder, inline in the page. Being well-formed XML is what lets the tests parse
/// a report with an XML parser.
///
/// Nothing here knows about anomaly detection; the report pages compose it.
struct HTMLBuilder {
    private(set) var text = ""

    /// Attributes in the order written; a nil value leaves the attribute out.
    typealias Attributes = KeyValuePairs<String, String?>

    /// `&`, `<`, `>`, `"` and `'` as character references, so the result is safe both in
    /// text and in a quoted attribute value.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab and newlines are not allowed in XML 1.0.
                if c.value < 0x20 && c != "\t" && c != "\n" && c != "\r" { out += "\u{FFFD}" } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }

    private mutating func open(_ name: String, _ attributes: Attributes, selfClosing: Bool) {
        text += "<" + name
        for (key, value) in attributes {
            guard let value else { continue }
            text += " \(key)=\"\(Self.escape(value))\""
        }
        text += selfClosing ? "/>" : ">"
    }

    /// `<name attributes>` … `</name>`, with `body` writing the content.
    mutating func element(_ name: String, _ attributes: Attributes = [:], _ body: (inout HTMLBuilder) -> Void) {
        open(name, attributes, selfClosing: false)
        body(&self)
        text += "</\(name)>"
    }

    /// An element holding escaped text only.
    mutating func element(_ name: String, _ attributes: Attributes = [:], text content: String) {
        open(name, attributes, selfClosing: false)
        text += Self.escape(content)
        text += "</\(name)>"
    }

    /// An element without content (`<img/>`, `<line/>`).
    mutating func empty(_ name: String, _ attributes: Attributes = [:]) {
        open(name, attributes, selfClosing: true)
    }

    /// Escaped text.
    mutating func text(_ s: String) { text += Self.escape(s) }

    /// A newline between blocks, so the file reads well in an editor.
    mutating func newline() { text += "\n" }

    /// A whole page: doctype, UTF-8, title, inline style sheet, then `body`.
    static func document(title: String, style: String, _ body: (inout HTMLBuilder) -> Void) -> String {
        var h = HTMLBuilder()
        h.text = "<!DOCTYPE html>\n"
        h.element("html", ["lang": "en"]) { h in
            h.element("head") { h in
                h.empty("meta", ["charset": "utf-8"])
                h.empty("meta", ["name": "viewport", "content": "width=device-width, initial-scale=1"])
                h.element("title", text: title)
                // A style element's content is raw text in HTML (no entity is decoded), so
                // the sheet is written as is; it must hold no "<" or "&", which would break
                // the page as XML.
                precondition(!style.contains("<") && !style.contains("&"), "a report style sheet must not contain < or &")
                h.element("style") { h in h.text += style }
            }
            h.newline()
            h.element("body", [:], body)
            h.newline()
        }
        h.newline()
        return h.text
    }
}
