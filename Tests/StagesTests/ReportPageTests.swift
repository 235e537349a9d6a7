import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Stages
import FunAD
import Workflow

/// The HTML reports as a reader's tools see them: each page parses as XML, links nothing
/// outside itself but files that exist, and its SVG curves are the CSV files beside it.
/// Runs a tiny FUN-AD + PatchCore workflow (random backbone weights, 64 px).
@Suite(.serialized) struct ReportPageTests {
    static let workflow = TinyWorkflow.head(name: "tiny-report", overlap: true) + """
      model:
        type: train
        needs: [features]
        with: {epochs: 3, batch_size: 4, hidden: [16, 8], bank: {refresh: epoch, selection: quantile, min_images: 2}, checkpoint_every: 0}
      scores: {type: infer, needs: [model, features], with: {map_size: 64}}
      report: {type: evaluate, needs: [scores, data, model], with: {overlays: 4}}
      pc: {type: patchcore, needs: [features], with: {coreset: 0.5}}
      pc-scores: {type: infer, needs: [pc, features], with: {map_size: 64}}
      pc-report: {type: evaluate, needs: [pc-scores, data], with: {overlays: 2}}
    """

    func runTiny(_ dir: URL) async throws -> (RunOutcome, [String: Any]) {
        let path = dir.appendingPathComponent("tiny.yaml").path
        try Self.workflow.write(toFile: path, atomically: true, encoding: .utf8)
        return try await TinyWorkflow.run(path, in: dir, jobs: 2).pair
    }

    func outputs(_ record: [String: Any], _ name: String) -> URL {
        URL(fileURLWithPath: TinyRun.stage(record, name)["outputs"] as! String)
    }

    #if canImport(FoundationXML)
    /// Parses the page as XML (it is written well-formed), checks every `src`/`href`: no
    /// URL with a scheme or a network path, in-page anchors that exist, files that exist.
    func checkPage(_ url: URL) throws -> XMLDocument {
        let doc = try XMLDocument(data: Data(contentsOf: url), options: [])
        let links = try doc.nodes(forXPath: "//@src | //@href").compactMap(\.stringValue)
        #expect(!links.isEmpty)
        for link in links {
            #expect(!link.contains("://") && !link.hasPrefix("//") && !link.lowercased().hasPrefix("data:http"), "external reference \(link)")
            if link.hasPrefix("#") {
                #expect(try !doc.nodes(forXPath: "//*[@id='\(link.dropFirst())']").isEmpty, "anchor \(link) has no target")
            } else {
                let path = url.deletingLastPathComponent().appendingPathComponent(try #require(link.removingPercentEncoding)).path
                #expect(FileManager.default.fileExists(atPath: path), "\(url.lastPathComponent) links \(link), which does not exist")
            }
        }
        return doc
    }

    /// The data points of the polyline whose series name starts with `series` in the SVG
    /// `id`, mapped back through its frame: the frame rect gives the pixel box, and its
    /// domain must be `domain` (x0 x1 y0 y1).
    func plotted(_ doc: XMLDocument, svg id: String, series: String, domain: [Double]) throws -> [(Double, Double)] {
        let svg = try #require(try doc.nodes(forXPath: "//*[local-name()='svg'][@id='\(id)']").first as? XMLElement, "no svg \(id)")
        let frame = try #require(svg.elements(forName: "rect").first { $0.attribute(forName: "class")?.stringValue == "frame" })
        func number(_ e: XMLElement, _ name: String) throws -> Double { try #require(Double(e.attribute(forName: name)?.stringValue ?? "")) }
        let (fx, fy, fw, fh) = (try number(frame, "x"), try number(frame, "y"), try number(frame, "width"), try number(frame, "height"))
        let d = (frame.attribute(forName: "data-domain")?.stringValue ?? "").split(separator: " ").compactMap { Double($0) }
        #expect(d == domain, "\(id) domain")
        let line = try #require(svg.elements(forName: "polyline").first {
            $0.attribute(forName: "data-series")?.stringValue?.hasPrefix(series) == true
        }, "\(id): no series \(series)")
        return (line.attribute(forName: "points")?.stringValue ?? "").split(separator: " ").map { pair in
            let xy = pair.split(separator: ",").map { Double($0)! }
            return (d[0] + (xy[0] - fx) / fw * (d[1] - d[0]), d[2] + (fy + fh - xy[1]) / fh * (d[3] - d[2]))
        }
    }

    /// Every row of the CSV equals the plotted point, in order. Coordinates are written
    /// to 0.01 px on plot areas ≥ 180 px wide and tall, so a point is off by at most
    /// 0.005 / 180 < 3e-5 of the axis range; 1e-4 allows for that and nothing more.
    func expectSame(_ plotted: [(Double, Double)], csv: URL, scale: (Double, Double)) throws {
        let rows = try EvaluationFolder.curve(csv)
        #expect(rows.count == plotted.count, "\(csv.lastPathComponent): \(rows.count) rows, \(plotted.count) points")
        #expect(rows.count >= 2)
        for (r, p) in zip(rows, plotted) {
            #expect(abs(r.x - p.0) < 1e-4 * scale.0 && abs(r.y - p.1) < 1e-4 * scale.1, "\(csv.lastPathComponent): \(r) drawn at \(p)")
        }
    }

    @Test func stageAndRunReportsAreWellFormedSelfContainedAndDrawTheirCSVs() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-report-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (outcome, record) = try await runTiny(dir)
        try #require(outcome.status == .succeeded, "failures: \(outcome.failures.map(\.message))")
        let funad = outputs(record, "report"), patchcore = outputs(record, "pc-report")

        // Overlay names end in exactly one ".png" (the ids are "test/<type>/<n>.png").
        let overlayFiles = try FileManager.default.contentsOfDirectory(atPath: funad.appendingPathComponent("overlays").path)
        #expect(overlayFiles.count == 4 && overlayFiles.allSatisfy { $0.hasSuffix(".png") && !$0.hasSuffix(".png.png") })

        let stagePage = try checkPage(funad.appendingPathComponent("report.html"))
        let runPage = try checkPage(try RunReport.write(runDirectory: outcome.runDirectory))
        #expect(FileManager.default.fileExists(atPath: outcome.runDirectory.appendingPathComponent("report.html").path))
        // The run page links the overlays through the run's outputs/ folder.
        let runLinks = try runPage.nodes(forXPath: "//@src").compactMap(\.stringValue)
        #expect(runLinks.count == 4 + 2 && runLinks.allSatisfy { $0.hasPrefix("outputs/report/overlays/") || $0.hasPrefix("outputs/pc-report/overlays/") })

        for (doc, stage, folder) in [(stagePage, "report", funad), (runPage, "report", funad), (runPage, "pc-report", patchcore)] {
            try expectSame(try plotted(doc, svg: "roc-\(stage)", series: "image ROC", domain: [0, 1, 0, 1]),
                           csv: folder.appendingPathComponent("roc_image.csv"), scale: (1, 1))
            try expectSame(try plotted(doc, svg: "roc-\(stage)", series: "pixel ROC", domain: [0, 1, 0, 1]),
                           csv: folder.appendingPathComponent("roc_pixel.csv"), scale: (1, 1))
            try expectSame(try plotted(doc, svg: "pro-\(stage)", series: "PRO", domain: [0, 0.3, 0, 1]),
                           csv: folder.appendingPathComponent("pro_curve.csv"), scale: (0.3, 1))
            // The histogram counts every test image once: 4 normal, 4 defective (overlap on).
            for (group, n) in [("normal", 4), ("defective", 4)] {
                let counts = try doc.nodes(forXPath: "//*[local-name()='svg'][@id='histogram-\(stage)']//*[@data-group='\(group)']/*[@data-count]")
                    .compactMap { ($0 as? XMLElement)?.attribute(forName: "data-count")?.stringValue.flatMap { Int($0) } }
                #expect(counts.reduce(0, +) == n, "\(stage) \(group)")
            }
        }
        // FUN-AD has a deployment threshold (its training images were scored) and a
        // training history; PatchCore has neither, and says so.
        let markers = { (stage: String) in try runPage.nodes(forXPath: "//*[local-name()='svg'][@id='histogram-\(stage)']//*[@class='marker']").count }
        #expect(try markers("report") == 1 && markers("pc-report") == 0)
        #expect(try !runPage.nodes(forXPath: "//*[local-name()='svg'][@id='losses-report']//*[@class='series']").isEmpty)
        let text = try #require(runPage.rootElement()?.stringValue)
        #expect(text.contains("PatchCore has no training epochs"))
        // The machine line repeats the record's host.
        let host = try #require(record["host"] as? [String: Any])
        #expect(text.contains("Machine: \(try #require(host["cpu"] as? String)), \(try #require(host["cores"] as? Int)) cores"))
        #expect(text.contains("contamination ratio r = 0.25 of the 12 defect-free training images, so 3 defective test images moved"))
        #expect(text.contains("epochs 3 (paper: 1500)"), "the departures from the paper are listed")

        // A run record with no evaluate stage, and a folder that is not a run.
        #expect(throws: ReportError.self) { try RunReport.write(runDirectory: dir) }
        do { try RunReport.write(runDirectory: dir); Issue.record("expected an error") } catch {
            #expect("\(error)" == "\(dir.path): not a run folder (no run.json); expected e.g. .funad/runs/<workflow>/latest")
        }
    }
    #endif

    @Test func builderEscapesTextAndAttributesAndDropsNilAttributes() {
        #expect(HTMLBuilder.escape("a<b & \"c\" 'd' >\u{1}") == "a&lt;b &amp; &quot;c&quot; &#39;d&#39; &gt;\u{FFFD}")
        var h = HTMLBuilder()
        h.element("p", ["class": "x\"y", "id": nil]) { h in
            h.text("1 < 2")
            h.empty("br")
        }
        #expect(h.text == "<p class=\"x&quot;y\">1 &lt; 2<br/></p>")
    }

    @Test func axisTicksAreRoundAndHistogramCountsEveryValueOnce() {
        let ticks = PlotAxis("x", 0, 1).ticks
        #expect(ticks.count == 6 && zip(ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(PlotAxis("x", 0, 1).label(ticks[3]) == "0.6")
        #expect(PlotAxis("x", -3.2, 7.9).ticks == [-2, 0, 2, 4, 6])
        #expect(PlotAxis("x", 0, 12, tickCount: 6).ticks == [0, 2, 4, 6, 8, 10, 12])
        // Bins [0,1) [1,2) [2,3]: the last bin holds its upper edge.
        let hist = Histogram(id: nil, title: "", xTitle: "", groups: [])
        #expect(hist.counts([0, 0.5, 1, 2.9, 3], edges: [0, 1, 2, 3]) == [2, 1, 2])
    }

    @Test func linksAreRelativeToThePage() {
        func rel(_ a: String, _ b: String) -> String { ReportPage.relativePath(from: URL(fileURLWithPath: a), to: URL(fileURLWithPath: b)) }
        #expect(rel("/r/run1", "/r/run1/outputs/report") == "outputs/report")
        #expect(rel("/r/run1", "/r/cache/ab cd") == "../cache/ab%20cd")
        #expect(rel("/r/run1", "/r/run1") == "")
    }
}
