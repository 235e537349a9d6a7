import ArgumentParser
import Foundation
import Stages
import Workflow

/// `funad summary`: one table of every `evaluate` stage of a workflow, read from the cache
/// by the stages' keys, so it gathers a sweep whichever way it ran (`funad run`, or
/// Snakemake jobs on many machines sharing the cache).
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Tabulate the metrics of every evaluate stage of a workflow (from the cache), with means per method.",
        discussion: """
        Rows follow the workflow's order; a stage not computed yet is listed as missing. \
        Stages named <group>-<method>-<name> (e.g. bottle-funad-report) are also averaged \
        per <method>-<name> over the groups that have it (the mean over categories).
        """)

    @OptionGroup var workflow: WorkflowOptions
    @OptionGroup var cache: CacheOptions

    @Option(name: .shortAndLong, help: "Also write the table as CSV to this file.")
    var output: String?

    struct Row {
        var stage: String
        var values: [Double?]
    }

    static let columns = [("image_auroc", "image AUROC"), ("pixel_auroc", "pixel AUROC"), ("aupro", "AUPRO"), ("image_f1_max", "image F1max")]

    func run() throws {
        let session = WorkflowSession(registry: CommandRegistry.load(), cacheDirectory: cache.cacheURL)
        let validated = try session.load(workflow.workflow, settings: workflow.settings)
        let plan = try session.plan(validated)
        let store = try CacheStore(root: cache.cacheURL)
        var rows: [Row] = []
        var missing: [String] = []
        for step in plan.steps where step.stage.declaration.type == "evaluate" {
            let url = store.outputURL(step.key).appendingPathComponent("metrics.json")
            guard store.contains(step.key), let data = try? Data(contentsOf: url),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let overall = object["overall"] as? [String: Any] else {
                missing.append(step.stage.name)
                continue
            }
            rows.append(Row(stage: step.stage.name, values: Self.columns.map { (overall[$0.0] as? NSNumber)?.doubleValue }))
        }
        guard !rows.isEmpty || !missing.isEmpty else {
            throw ValidationFailure("\(workflow.workflow): the workflow has no evaluate stage")
        }
        let means = Self.means(rows)
        print(Self.markdown(rows + means))
        if !missing.isEmpty { print("\nnot computed yet (\(missing.count)): \(missing.joined(separator: ", "))") }
        if let output {
            var csv = "stage," + Self.columns.map(\.0).joined(separator: ",") + "\n"
            for r in rows + means { csv += r.stage + "," + r.values.map { $0.map { String($0) } ?? "" }.joined(separator: ",") + "\n" }
            do { try csv.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                throw ValidationFailure("cannot write '\(output)': \(error.localizedDescription)")
            }
        }
    }

    /// Mean per `<rest>` of stages named `<group>-<rest>` where `<rest>` holds a dash itself
    /// (`bottle-funad-report`: group `bottle`, rest `funad-report`), for a `<rest>` shared
    /// by ≥ 2 stages.
    static func means(_ rows: [Row]) -> [Row] {
        var groups: [String: [Row]] = [:]
        var order: [String] = []
        for r in rows {
            guard let dash = r.stage.firstIndex(of: "-") else { continue }
            let rest = String(r.stage[r.stage.index(after: dash)...])
            guard rest.contains("-") else { continue }  // funad-report, patchcore-report: methods, not groups
            if groups[rest] == nil { order.append(rest) }
            groups[rest, default: []].append(r)
        }
        return order.compactMap { rest in
            let members = groups[rest]!
            guard members.count >= 2 else { return nil }
            let values = columns.indices.map { c -> Double? in
                let xs = members.compactMap { $0.values[c] }
                return xs.count == members.count ? xs.reduce(0, +) / Double(xs.count) : nil
            }
            return Row(stage: "mean of \(members.count) \(rest)", values: values)
        }
    }

    static func markdown(_ rows: [Row]) -> String {
        var lines = ["| stage | " + columns.map(\.1).joined(separator: " | ") + " |",
                     "|---|" + String(repeating: "---:|", count: columns.count)]
        for r in rows {
            lines.append("| \(r.stage) | " + r.values.map { $0.map { String(format: "%.4f", $0) } ?? "–" }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}
