import Foundation

/// Renders an `EvaluationResult` as metrics.json, a Markdown table, a CSV table and ROC
/// curve CSVs. Undefined metrics are JSON null with their reason under "undefined",
/// "n/a" in Markdown (reasons listed below the table), and empty cells in CSV.
public enum EvaluationReport {
    /// Which AUPRO definition the numbers follow; written into metrics.json.
    public static let auproDefinition =
        "exact PRO curve over all distinct map scores (MVTec AD's compute_pro / calculate_au_pro, the reference anomalib's AUPRO tests against); ground-truth regions are 8-connected components per image; FPR over all normal pixels; trapezoid to the FPR limit with linear interpolation, divided by the limit"

    static let columns: [(key: String, title: String, get: @Sendable (SubsetMetrics) -> MetricValue)] = [
        ("image_auroc", "image AUROC", { $0.imageAUROC }),
        ("pixel_auroc", "pixel AUROC", { $0.pixelAUROC }),
        ("aupro", "AUPRO", { $0.aupro }),
        ("image_f1_max", "image F1-max", { $0.imageF1Max.metric }),
        ("pixel_f1_max", "pixel F1-max", { $0.pixelF1Max.metric }),
    ]

    static func rows(_ r: EvaluationResult) -> [SubsetMetrics] { [r.overall] + r.perDefectType }

    public static func json(_ r: EvaluationResult) throws -> Data {
        func row(_ m: SubsetMetrics) -> [String: Any] {
            var d: [String: Any] = ["subset": m.name, "normal_images": m.normalImages, "anomalous_images": m.anomalousImages]
            var undefined: [String: String] = [:]
            for c in columns {
                let v = c.get(m)
                d[c.key] = v.value.map { $0 as Any } ?? NSNull()
                if let reason = v.reason { undefined[c.key] = reason }
            }
            d["image_f1_threshold"] = m.imageF1Max.threshold.map { Double($0) as Any } ?? NSNull()
            d["pixel_f1_threshold"] = m.pixelF1Max.threshold.map { Double($0) as Any } ?? NSNull()
            if !undefined.isEmpty { d["undefined"] = undefined }
            return d
        }
        let doc: [String: Any] = [
            "format": "funad-metrics/1",
            "fpr_limit": r.fprLimit,
            "aupro_definition": auproDefinition,
            "overall": row(r.overall),
            "per_defect_type": r.perDefectType.map(row),
        ]
        return try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
    }

    /// Percentages with one decimal, as papers report them.
    public static func markdown(_ r: EvaluationResult) -> String {
        var s = "| subset | normal | anomalous | " + columns.map { $0.title + " %" }.joined(separator: " | ") + " |\n"
        s += "|" + String(repeating: " --- |", count: 3 + columns.count) + "\n"
        var notes = [String]()
        for m in rows(r) {
            let cells = columns.map { c -> String in
                let v = c.get(m)
                if let x = v.value { return String(format: "%.1f", 100 * x) }
                notes.append("- \(m.name), \(c.title): \(v.reason ?? "undefined")")
                return "n/a"
            }
            s += "| \(m.name) | \(m.normalImages) | \(m.anomalousImages) | " + cells.joined(separator: " | ") + " |\n"
        }
        if !notes.isEmpty { s += "\nUndefined:\n" + notes.joined(separator: "\n") + "\n" }
        return s
    }

    /// Fractions at full precision; empty cell = undefined.
    public static func csv(_ r: EvaluationResult) -> String {
        var s = "subset,normal_images,anomalous_images," + columns.map(\.key).joined(separator: ",") + "\n"
        for m in rows(r) {
            let cells = columns.map { c in c.get(m).value.map { "\($0)" } ?? "" }
            s += "\(csvField(m.name)),\(m.normalImages),\(m.anomalousImages)," + cells.joined(separator: ",") + "\n"
        }
        return s
    }

    /// The PRO curve as `fpr,pro,threshold` (the first point's threshold is `inf`).
    public static func proCSV(_ points: [PROPoint]) -> String {
        "fpr,pro,threshold\n" + points.map { "\($0.fpr),\($0.pro),\($0.threshold.isInfinite ? "inf" : "\($0.threshold)")" }.joined(separator: "\n") + "\n"
    }

    public static func rocCSV(_ points: [ROCPoint]) -> String {
        "fpr,tpr,threshold\n" + points.map { "\($0.fpr),\($0.tpr),\($0.threshold.isInfinite ? "inf" : "\($0.threshold)")" }.joined(separator: "\n") + "\n"
    }

    /// Per-image table: name, defect type ("good" style types are written as given),
    /// label (1 = anomalous) and image score, in test-set order.
    public static func imageScoresCSV(samples: [EvaluationSample], imageScores: [Float]) throws -> String {
        guard samples.count == imageScores.count else {
            throw EvaluationError("report: \(imageScores.count) image scores for \(samples.count) test images")
        }
        var s = "image,defect_type,anomalous,score\n"
        for (m, v) in zip(samples, imageScores) {
            s += "\(csvField(m.name)),\(csvField(m.defectType)),\(m.isAnomalous ? 1 : 0),\(v)\n"
        }
        return s
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// Writes metrics.json, metrics.md, metrics.csv, roc_image.csv, roc_pixel.csv and
    /// pro_curve.csv into `directory`; returns their URLs.
    @discardableResult
    public static func write(_ r: EvaluationResult, to directory: URL) throws -> [URL] {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let files: [(String, Data)] = [
                ("metrics.json", try json(r)),
                ("metrics.md", Data(markdown(r).utf8)),
                ("metrics.csv", Data(csv(r).utf8)),
                ("roc_image.csv", Data(rocCSV(r.imageROC).utf8)),
                ("roc_pixel.csv", Data(rocCSV(r.pixelROC).utf8)),
                ("pro_curve.csv", Data(proCSV(r.proCurve).utf8)),
            ]
            return try files.map { name, data in
                let url = directory.appendingPathComponent(name)
                try data.write(to: url, options: .atomic)
                return url
            }
        } catch {
            throw EvaluationError("\(directory.path): cannot write the evaluation report (\(error.localizedDescription))")
        }
    }
}
