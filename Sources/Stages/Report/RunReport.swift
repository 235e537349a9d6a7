import Foundation
import Workflow

/// A report that could not be made, with the file at fault and what was expected.
public struct ReportError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The run-level report: every `evaluate` of one run side by side, one column each, in
/// the workflow's stage order, written as `report.html` in the run folder (beside
/// `run.json`). The columns link their overlays through the run's `outputs/<stage>`.
public enum RunReport {
    /// Reads `runDirectory/run.json` and the result folder of each evaluate stage that
    /// ran or came from the cache, and writes the page to `output` (default:
    /// `runDirectory/report.html`). Returns the page's URL.
    @discardableResult
    public static func write(runDirectory: URL, to output: URL? = nil) throws -> URL {
        let recordURL = runDirectory.appendingPathComponent("run.json")
        guard FileManager.default.fileExists(atPath: recordURL.path) else {
            throw ReportError("\(runDirectory.path): not a run folder (no run.json); expected e.g. .funad/runs/<workflow>/latest")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: BoundedRead.data(recordURL, limit: RunRecords.maxRecordBytes)) } catch let big as BoundedRead.TooLarge {
            throw ReportError("\(recordURL.path): not a run record (\(big))")
        } catch {
            throw ReportError("\(recordURL.path): cannot read the run record (\(error.localizedDescription))")
        }
        guard let record = object as? [String: Any], let stages = record["stages"] as? [[String: Any]] else {
            throw ReportError("\(recordURL.path): expected a funad run record with a 'stages' list")
        }
        let evaluations = stages.filter { $0["type"] as? String == "evaluate" }
        let finished = evaluations.filter { ["ran", "cached"].contains($0["status"] as? String ?? "") }
        guard !finished.isEmpty else {
            throw ReportError(evaluations.isEmpty
                              ? "\(recordURL.path): the run has no evaluate stage, so there is nothing to report"
                              : "\(recordURL.path): no evaluate stage of this run finished (\(evaluations.compactMap { $0["name"] as? String }.joined(separator: ", ")))")
        }
        let page = output ?? runDirectory.appendingPathComponent("report.html")
        let links = outputLinks(runDirectory)
        var columns: [ReportPage.Column] = []
        for stage in finished {
            let name = stage["name"] as? String ?? "?"
            guard let outputs = stage["outputs"] as? String else {
                throw ReportError("\(recordURL.path): stage '\(name)' has no outputs folder in the record")
            }
            let target = URL(fileURLWithPath: outputs)
            let folder: EvaluationFolder
            do { folder = try EvaluationFolder.read(target) } catch {
                throw ReportError("stage '\(name)': \(error)")
            }
            columns.append(ReportPage.Column(folder: folder, linkDirectory: links[target.resolvingSymlinksInPath().path] ?? target))
        }
        let workflow = record["workflow"] as? String ?? "?"
        var intro = ["Workflow \(workflow) (\(record["file"] as? String ?? "?")), run started \(record["started"] as? String ?? "?"), status \(record["status"] as? String ?? "?")."]
        if let vars = record["variables"] as? [String: Any], !vars.isEmpty {
            intro.append("Variables: " + vars.keys.sorted().map { "\($0)=\(vars[$0]!)" }.joined(separator: ", ") + ".")
        }
        if let host = record["host"] as? [String: Any], let cpu = host["cpu"] as? String {
            // Figures of a trained model move with the CPU and BLAS kernels; a reader comparing
            // this page with another machine's needs both.
            var machine = "Machine: \(cpu)"
            if let cores = host["cores"] as? Int { machine += ", \(cores) cores" }
            if let blas = host["blas"] as? String { machine += "; \(blas)" }
            intro.append(machine + " (a stage taken from the cache shows the figures of the run that computed it).")
        }
        intro.append("Columns: " + columns.map { "\(ReportSections.methodName($0.folder.context)) (\($0.folder.context.stage))" }.joined(separator: " | ") + ". Each column is drawn from its evaluate stage's files; the same page for one stage is its report.html.")
        let report = ReportPage(title: "funad report: \(workflow)", intro: intro, columns: columns,
                                pageDirectory: page.deletingLastPathComponent())
        return try report.write(named: page.lastPathComponent)
    }

    /// `outputs/<stage>` links of the run folder, keyed by the folder they point at.
    static func outputLinks(_ runDirectory: URL) -> [String: URL] {
        let outputs = runDirectory.appendingPathComponent("outputs")
        var links: [String: URL] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: outputs.path)) ?? [] {
            let link = outputs.appendingPathComponent(name)
            links[link.resolvingSymlinksInPath().path] = link
        }
        return links
    }
}

extension ReportPage {
    /// The page of one evaluate result, written into its own folder.
    static func evaluation(_ directory: URL) throws -> ReportPage {
        let folder = try EvaluationFolder.read(directory)
        let c = folder.context
        return ReportPage(title: "funad report: \(ReportSections.methodName(c)) (stage \(c.stage))",
                          intro: ["One evaluate result; the command funad report RUN puts every evaluation of a run side by side."],
                          columns: [Column(folder: folder, linkDirectory: directory)], pageDirectory: directory)
    }
}
