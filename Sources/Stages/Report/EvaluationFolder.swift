import Foundation
import FunAD

/// One `evaluate` result folder, read back for a report: the metrics, the curves as
/// written to their CSVs, the deployment threshold and the report context. Both the
/// stage's own `report.html` and the run-level page draw from this, so they cannot
/// disagree with the files beside them.
struct EvaluationFolder {
    struct MetricsRow {
        var subset: String
        var normal: Int
        var anomalous: Int
        /// Keyed like metrics.json (`image_auroc`, …); nil = undefined.
        var values: [String: Double?]
        var undefined: [String: String]
    }

    /// threshold.json as `evaluate` writes it.
    struct Threshold: Decodable {
        var threshold: Double
        var rule: String
        var trainingImages: Int
        var trainingFlagged: Int
        var test: ThresholdDecisions
    }

    var directory: URL
    var context: ReportContext
    var fprLimit: Double
    var metrics: [MetricsRow]
    var imageROC: [(x: Double, y: Double)]
    var pixelROC: [(x: Double, y: Double)]
    var proCurve: [(x: Double, y: Double)]
    var threshold: Threshold?

    static let rocImageFile = "roc_image.csv", rocPixelFile = "roc_pixel.csv", proFile = "pro_curve.csv"

    /// Reads the folder; a missing or malformed file is an error naming it.
    static func read(_ directory: URL) throws -> EvaluationFolder {
        let contextURL = directory.appendingPathComponent(ReportContext.file)
        guard FileManager.default.fileExists(atPath: contextURL.path) else {
            throw StageError("\(directory.path): no \(ReportContext.file) (an evaluate result made before reports existed: run the workflow again, it re-evaluates)")
        }
        let context = try JSONFiles.read(ReportContext.self, from: contextURL)
        let (fprLimit, metrics) = try readMetrics(directory.appendingPathComponent("metrics.json"))
        let thresholdURL = directory.appendingPathComponent("threshold.json")
        let threshold = FileManager.default.fileExists(atPath: thresholdURL.path) ? try JSONFiles.read(Threshold.self, from: thresholdURL) : nil
        return EvaluationFolder(directory: directory, context: context, fprLimit: fprLimit, metrics: metrics,
                                imageROC: try curve(directory.appendingPathComponent(rocImageFile)),
                                pixelROC: try curve(directory.appendingPathComponent(rocPixelFile)),
                                proCurve: try curve(directory.appendingPathComponent(proFile)),
                                threshold: threshold)
    }

    static func readMetrics(_ url: URL) throws -> (Double, [MetricsRow]) {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) } catch {
            throw StageError("\(url.path): cannot read the metrics (\(error.localizedDescription))")
        }
        guard let doc = object as? [String: Any], let overall = doc["overall"] as? [String: Any],
              let perType = doc["per_defect_type"] as? [[String: Any]], let limit = doc["fpr_limit"] as? Double else {
            throw StageError("\(url.path): expected a funad-metrics/1 object with overall, per_defect_type and fpr_limit")
        }
        func row(_ d: [String: Any]) -> MetricsRow {
            var values: [String: Double?] = [:]
            for key in ["image_auroc", "pixel_auroc", "aupro", "image_f1_max", "pixel_f1_max"] { values[key] = d[key] as? Double }
            return MetricsRow(subset: d["subset"] as? String ?? "?", normal: d["normal_images"] as? Int ?? 0,
                              anomalous: d["anomalous_images"] as? Int ?? 0, values: values,
                              undefined: d["undefined"] as? [String: String] ?? [:])
        }
        return (limit, [row(overall)] + perType.map(row))
    }

    /// The first two columns of a curve CSV (`fpr,tpr,threshold` or `fpr,pro,threshold`).
    /// An empty curve (a metric undefined on this data) has its header only.
    static func curve(_ url: URL) throws -> [(x: Double, y: Double)] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw StageError("\(url.path): cannot read the curve (\(error.localizedDescription))")
        }
        var points: [(x: Double, y: Double)] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where n > 0 && !line.isEmpty {
            let f = line.split(separator: ",")
            guard f.count >= 2, let x = Double(f[0]), let y = Double(f[1]) else {
                throw StageError("\(url.path):\(n + 1): expected two numbers then a threshold, found '\(line)'")
            }
            points.append((x, y))
        }
        return points
    }
}
