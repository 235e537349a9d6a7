import Foundation

/// A report page: one column per `evaluate` result, the same sections in the same order
/// in every column (so FUN-AD and PatchCore line up plot for plot). The stage's own
/// `report.html` is this page with one column; `funad report` puts every evaluation of a
/// run side by side. Self-contained: inline CSS and SVG, no script, no network; the
/// overlay images are linked relative to the page.
struct ReportPage {
    /// A column: an evaluation and the folder the page should link its files through
    /// (the run's `outputs/<stage>` link rather than the cache path it points at).
    struct Column {
        var folder: EvaluationFolder
        var linkDirectory: URL
    }

    var title: String
    /// Lines under the title (what was run, when).
    var intro: [String]
    var columns: [Column]
    /// Where the page is written; links are relative to it.
    var pageDirectory: URL

    func html() -> String {
        HTMLBuilder.document(title: title, style: Self.style) { h in
            h.element("h1", text: title)
            for line in intro { h.element("p", ["class": "intro"], text: line) }
            h.newline()
            let sections = ReportSections.all
            h.element("nav") { h in
                h.text("Sections: ")
                for (i, s) in sections.enumerated() {
                    if i > 0 { h.text(" · ") }
                    h.element("a", ["href": "#" + s.anchor], text: s.title)
                }
            }
            for section in sections {
                h.newline()
                h.element("section", ["id": section.anchor]) { h in
                    h.element("h2", text: section.title)
                    if let note = section.note { h.element("p", ["class": "note"], text: note) }
                    h.element("div", ["class": "row", "style": "grid-template-columns: repeat(\(columns.count), minmax(0, 1fr))"]) { h in
                        for column in columns {
                            h.element("div", ["class": "cell"]) { h in
                                section.render(&h, ReportSections.Cell(folder: column.folder, link: link(column)))
                            }
                        }
                    }
                }
            }
            h.newline()
        }
    }

    /// Writes the page atomically to `pageDirectory/name` and returns its URL.
    @discardableResult
    func write(named name: String = "report.html") throws -> URL {
        let url = pageDirectory.appendingPathComponent(name)
        do { try Data(html().utf8).write(to: url, options: .atomic) } catch {
            throw StageError("\(url.path): cannot write the report (\(error.localizedDescription))")
        }
        return url
    }

    /// A function from a file path inside the column's folder to a link relative to the page.
    func link(_ column: Column) -> (String) -> String {
        let base = Self.relativePath(from: pageDirectory, to: column.linkDirectory)
        return { file in
            let encoded = file.split(separator: "/").map(Self.encodeSegment).joined(separator: "/")
            return base.isEmpty ? encoded : base + "/" + encoded
        }
    }

    /// The path of `target` relative to the folder `base` ("" when they are the same),
    /// from their path components as given (symbolic links are not resolved, so a link
    /// through the run's `outputs/` stays one).
    static func relativePath(from base: URL, to target: URL) -> String {
        let b = base.standardizedFileURL.pathComponents, t = target.standardizedFileURL.pathComponents
        var i = 0
        while i < b.count && i < t.count && b[i] == t[i] { i += 1 }
        return (Array(repeating: "..", count: b.count - i) + t[i...].map(encodeSegment)).joined(separator: "/")
    }

    /// Percent-encodes one path segment for use in `src`/`href` (letters, digits and
    /// `-._~` stay as they are).
    static func encodeSegment<S: StringProtocol>(_ s: S) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return String(s).addingPercentEncoding(withAllowedCharacters: allowed) ?? String(s)
    }

    /// No "<" or "&" (the sheet is written raw).
    static let style = """
    body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 18px 24px; background: #fff; }
    h1 { font-size: 22px; margin: 0 0 4px; }
    h2 { font-size: 17px; margin: 22px 0 6px; border-bottom: 1px solid #ccc; padding-bottom: 2px; }
    h3 { font-size: 15px; margin: 4px 0 6px; }
    h4 { font-size: 13px; margin: 10px 0 4px; }
    p { margin: 4px 0; }
    p.intro { color: #444; }
    p.note, .small { color: #555; font-size: 12px; }
    nav { margin: 8px 0; font-size: 13px; }
    a { color: #1f5fa8; }
    .row { display: grid; gap: 22px; align-items: start; }
    .cell { min-width: 0; }
    .plots { display: flex; flex-wrap: wrap; gap: 6px; }
    svg.plot { max-width: 100%; height: auto; background: #fff; }
    svg.plot text { font-size: 11px; fill: #333; }
    svg.plot text.title { font-size: 12px; font-weight: 600; }
    svg.plot text.axis { font-size: 11px; fill: #444; }
    svg.plot text.tick { font-size: 10px; fill: #555; }
    svg.plot rect.frame { fill: none; stroke: #999; }
    svg.plot line.grid { stroke: #e6e6e6; }
    svg.plot polyline { fill: none; stroke-width: 1.6; }
    svg.plot polyline.reference { stroke-dasharray: 4 3; stroke-width: 1; }
    svg.plot line.marker { stroke: #111; stroke-width: 1.4; stroke-dasharray: 5 3; }
    svg.plot text.marker-label { font-size: 10px; font-weight: 600; }
    svg.plot g.legend rect { fill: #fff; fill-opacity: 0.9; stroke: #bbb; }
    svg.plot g.legend line { stroke-width: 2; }
    table { border-collapse: collapse; font-size: 12.5px; margin: 4px 0; }
    th, td { border: 1px solid #d4d4d4; padding: 2px 6px; text-align: right; }
    th { background: #f3f3f3; font-weight: 600; }
    td.name, th.name { text-align: left; }
    tr.overall td { font-weight: 600; }
    td.undefined { color: #999; }
    td.good { background: #e6f4e6; }
    td.bad { background: #fbe6e3; }
    .overlays { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px; }
    figure { margin: 2px 0 6px; }
    figure img { width: 100%; height: auto; border: 1px solid #ccc; image-rendering: auto; }
    figcaption { font-size: 12px; color: #333; }
    .flag { font-weight: 600; }
    .flag.miss, .flag.alarm { color: #b3261e; }
    .flag.hit, .flag.pass { color: #1e7b34; }
    ul { margin: 4px 0; padding-left: 20px; }
    li { margin: 1px 0; }
    details { margin: 4px 0; }
    summary { cursor: pointer; }
    code { font-size: 12px; }
    """
}
