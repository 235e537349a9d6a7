import Foundation
import FunAD

/// The sections of a report, each drawn once per evaluation (one cell of a row). A
/// section that does not apply to an evaluation says so in its cell instead of leaving
/// a gap, so the columns stay aligned.
struct ReportSections {
    struct Cell {
        var folder: EvaluationFolder
        /// Maps a file inside the evaluation folder to a link relative to the page.
        var link: (String) -> String
        var context: ReportContext { folder.context }
    }

    struct Section {
        var anchor: String
        var title: String
        var note: String?
        var render: (inout HTMLBuilder, Cell) -> Void
    }

    static let normalColour = "#3b78c4", defectiveColour = "#d2553c"
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]

    static var all: [Section] { [
        Section(anchor: "setup", title: "What was evaluated", note: nil, render: setup),
        Section(anchor: "metrics", title: "Metrics",
                note: "Threshold-free metrics on the test set, overall and per defect type (each type's defective images with every normal test image). The model is the one at the end of its schedule: none was chosen by these numbers.",
                render: metrics),
        Section(anchor: "decisions", title: "Image scores and the deployment threshold",
                note: "The threshold is chosen without labels, from the unlabelled training images' scores; an image is flagged when its score is above it. The counts are what it decides on the labelled test set.",
                render: decisions),
        Section(anchor: "curves", title: "ROC and PRO curves", note: nil, render: curves),
        Section(anchor: "training", title: "Training", note: nil, render: training),
        Section(anchor: "overlays", title: "Heat-map overlays",
                note: "Each row: the test image | its ground-truth defect (white) | the anomaly map over the image. Worst misses and worst false alarms first, then the best detections.",
                render: overlays),
    ] }

    static func methodName(_ c: ReportContext) -> String {
        switch c.modelKind {
        case "local-net": return "FUN-AD"
        case "patchcore": return "PatchCore"
        default: return c.stage
        }
    }

    static func percent(_ v: Double?) -> String { v.map { String(format: "%.1f", 100 * $0) } ?? "n/a" }
    /// Six significant digits: FUN-AD scores crowd against 1 (0.99997), where four would
    /// print "1" for scores on both sides of a threshold.
    static func score(_ v: Double) -> String { String(format: "%.6g", v) }

    // MARK: - setup

    static func setup(_ h: inout HTMLBuilder, _ cell: Cell) {
        let c = cell.context
        h.element("h3", text: "\(methodName(c)) — stage \(c.stage)")
        var model = "Model: " + (c.modelKind.map { $0 == "local-net" ? "Local-Net trained by FUN-AD" : $0 == "patchcore" ? "PatchCore memory bank" : $0 } ?? "not given to evaluate")
        if let rule = c.imageScoreRule { model += "; image score: \(rule)" }
        h.element("p", text: model + ".")
        if let p = c.contamination {
            h.element("p", text: "Protocol: contamination ratio r = \(p.ratio) of the \(p.trainGood) defect-free training images, so \(p.moved.count) defective test images moved, unlabelled, into the training set (\(p.trainingImages) training images, \(p.contaminatedTraining) of them defective); overlap \(p.overlap ? "on: the moved images also stay in the test set" : "off: the moved images leave the test set"); draw seed \(p.seed).")
            if let seed = p.splitSeed {
                h.element("p", text: "Split: seed \(seed), \(p.trainFraction.map { String(format: "%.0f", 100 * $0) } ?? "?") % of the defect-free images for training.")
            }
        } else {
            h.element("p", text: "Protocol: the dataset has no contamination audit.")
        }
        let normal = c.testImages.filter { !$0.anomalous }.count
        h.element("p", text: "Test set: \(c.testImages.count) images, \(normal) normal and \(c.testImages.count - normal) defective.")
    }

    // MARK: - metrics

    static let metricColumns: [(key: String, title: String)] = [
        ("image_auroc", "image AUROC"), ("pixel_auroc", "pixel AUROC"), ("aupro", "AUPRO"),
        ("image_f1_max", "image F1-max"), ("pixel_f1_max", "pixel F1-max"),
    ]

    static func metrics(_ h: inout HTMLBuilder, _ cell: Cell) {
        h.element("table", ["class": "metrics"]) { h in
            h.element("tr") { h in
                h.element("th", ["class": "name"], text: "subset")
                h.element("th", text: "normal")
                h.element("th", text: "defective")
                for col in metricColumns { h.element("th", text: col.title + " %") }
            }
            for (i, row) in cell.folder.metrics.enumerated() {
                h.element("tr", ["class": i == 0 ? "overall" : nil]) { h in
                    h.element("td", ["class": "name"], text: row.subset)
                    h.element("td", text: "\(row.normal)")
                    h.element("td", text: "\(row.anomalous)")
                    for col in metricColumns {
                        if let v = row.values[col.key] ?? nil {
                            h.element("td", text: percent(v))
                        } else {
                            h.element("td", ["class": "undefined", "title": row.undefined[col.key] ?? "undefined"], text: "n/a")
                        }
                    }
                }
            }
        }
        let reasons = Set(cell.folder.metrics.flatMap { $0.undefined.values }).sorted()
        for r in reasons { h.element("p", ["class": "small"], text: "n/a: \(r)") }
        h.element("p", ["class": "small"], text: "AUPRO integrates the per-region overlap up to a false-positive rate of \(cell.folder.fprLimit), divided by it.")
    }

    // MARK: - decisions

    /// The histogram's x value for a score: its logit for probabilities (FUN-AD's crowd
    /// against 1, where the threshold rule also works on the logit scale), else itself.
    static func axisValue(_ s: Double, scale: String) -> Double {
        guard scale == "logit" else { return s }
        let q = min(max(s, 1e-7), 1 - 1e-7)
        return log(q / (1 - q))
    }

    static func decisions(_ h: inout HTMLBuilder, _ cell: Cell) {
        let c = cell.context, scale = c.scoreScale
        var markers: [Histogram.Marker] = []
        if let t = cell.folder.threshold { markers.append(.init(x: axisValue(t.threshold, scale: scale), label: "threshold \(score(t.threshold))")) }
        Histogram(id: "histogram-\(c.stage)", title: "Test image scores, normal vs defective",
                  xTitle: scale == "logit" ? "image score, logit scale: log(s / (1 − s))" : "image score",
                  groups: [.init(name: "normal", values: c.testImages.filter { !$0.anomalous }.map { axisValue(Double($0.score), scale: scale) }, colour: normalColour),
                           .init(name: "defective", values: c.testImages.filter(\.anomalous).map { axisValue(Double($0.score), scale: scale) }, colour: defectiveColour)],
                  bins: 24, markers: markers, frame: PlotFrame(width: 560, height: 250))
            .render(into: &h)
        guard let t = cell.folder.threshold else {
            h.element("p", text: "No deployment threshold: the scores hold no training-image scores (infer scores the training images for FUN-AD by default; PatchCore's own training patches are in its bank, so its training scores would be biased low).")
            return
        }
        let d = t.test
        h.element("p", text: "Threshold \(score(t.threshold)) — \(t.rule). \(t.trainingFlagged) of the \(t.trainingImages) unlabelled training images are above it.")
        h.element("table", ["class": "confusion"]) { h in
            h.element("tr") { h in
                h.element("th", ["class": "name"], text: "at the threshold")
                h.element("th", text: "flagged")
                h.element("th", text: "passed")
            }
            h.element("tr") { h in
                h.element("td", ["class": "name"], text: "defective test images")
                h.element("td", ["class": "good"], text: "\(d.truePositives)")
                h.element("td", ["class": "bad"], text: "\(d.falseNegatives) missed")
            }
            h.element("tr") { h in
                h.element("td", ["class": "name"], text: "normal test images")
                h.element("td", ["class": "bad"], text: "\(d.falsePositives) false alarms")
                h.element("td", ["class": "good"], text: "\(d.trueNegatives)")
            }
        }
        h.element("p", text: "Precision \(percent(d.precision)) %, recall \(percent(d.recall)) %, F1 \(percent(d.f1)) %, false-alarm rate \(percent(d.falseAlarmRate)) %.")
    }

    // MARK: - curves

    static func curves(_ h: inout HTMLBuilder, _ cell: Cell) {
        let f = cell.folder
        let overall = f.metrics.first
        func auc(_ key: String) -> String { percent(overall?.values[key] ?? nil) }
        let chance = LineSeries(name: "chance", points: [(0, 0), (1, 1)], colour: "#999999", reference: true)
        h.element("div", ["class": "plots"]) { h in
            LinePlot(id: "roc-\(f.context.stage)", title: "ROC curves",
                     x: PlotAxis("false-positive rate", 0, 1), y: PlotAxis("true-positive rate", 0, 1),
                     series: [LineSeries(name: "image ROC (AUROC \(auc("image_auroc")) %)", points: f.imageROC, colour: palette[0]),
                              LineSeries(name: "pixel ROC (AUROC \(auc("pixel_auroc")) %)", points: f.pixelROC, colour: palette[1]),
                              chance],
                     legend: .bottomRight, markers: false, frame: PlotFrame(width: 290, height: 250))
                .render(into: &h)
            LinePlot(id: "pro-\(f.context.stage)", title: "Per-region overlap (PRO) curve",
                     x: PlotAxis("false-positive rate (pixels)", 0, f.fprLimit), y: PlotAxis("mean per-region overlap", 0, 1),
                     series: [LineSeries(name: "PRO (AUPRO \(auc("aupro")) %)", points: f.proCurve, colour: palette[2])],
                     legend: .bottomRight, markers: false, frame: PlotFrame(width: 290, height: 250))
                .render(into: &h)
        }
        if f.pixelROC.isEmpty || f.proCurve.isEmpty {
            h.element("p", ["class": "small"], text: "Pixel curves are empty when the pixel metrics are undefined (see the metrics table).")
        }
    }

    // MARK: - training

    static func training(_ h: inout HTMLBuilder, _ cell: Cell) {
        let c = cell.context
        guard let t = c.training else {
            h.element("p", text: c.modelKind == "patchcore"
                      ? "PatchCore has no training epochs: its memory bank is a coreset of every training patch, defective ones included."
                      : "No training history: evaluate was not given a trained Local-Net.")
            return
        }
        let epochs = t.epochs.map { Double($0.epoch) }
        let maxEpoch = Double(t.epochs.last?.epoch ?? 1)
        h.element("div", ["class": "plots"]) { h in
            let losses: [(String, KeyPath<ReportContext.Epoch, Double>)] = [("loss", \.loss), ("BCE", \.bce), ("L_MS", \.mutualSmoothness)]
            let series = losses.enumerated().map { i, l in
                LineSeries(name: l.0, points: zip(epochs, t.epochs).map { ($0, $1[keyPath: l.1]) }, colour: palette[i])
            }
            let top = series.flatMap { $0.points.map(\.y) }.max() ?? 1
            LinePlot(id: "losses-\(c.stage)", title: "Losses per epoch (step means)",
                     x: PlotAxis("epoch", 1, maxEpoch, tickCount: min(6, max(1, t.epochs.count - 1))),
                     y: PlotAxis("loss", 0, top * 1.05), series: series, legend: .topRight, frame: PlotFrame(width: 290, height: 250))
                .render(into: &h)
            let bank = LineSeries(name: "bank images", points: zip(epochs, t.epochs).map { ($0, $1.bankImages) }, colour: palette[3])
            let dirty = LineSeries(name: "defective in bank",
                                   points: t.epochs.compactMap { e in e.bankContaminated.map { (Double(e.epoch), Double($0)) } },
                                   colour: defectiveColour)
            let bankTop = max(1, (bank.points + dirty.points).map(\.y).max() ?? 1)
            LinePlot(id: "bank-\(c.stage)", title: "Memory bank per epoch",
                     x: PlotAxis("epoch", 1, maxEpoch, tickCount: min(6, max(1, t.epochs.count - 1))),
                     // Headroom above the bank line for the legend.
                     y: PlotAxis("images", 0, bankTop * 1.5), series: [bank, dirty], legend: .topRight, frame: PlotFrame(width: 290, height: 250))
                .render(into: &h)
        }
        h.element("p", ["class": "small"], text: "Bank images: the mean over the epoch's refreshes; defective in bank: at the epoch's last refresh, counted from the load stage's audit (for this report only; training never sees it).")
        if let w = t.convergenceWarning { h.element("p", text: "Convergence warning: \(w)") }
        if let s = t.stoppedEarly { h.element("p", text: "Stopped early: \(s)") }
        if let p = c.contamination {
            h.element("h4", text: "The contamination draw")
            h.element("p", text: "\(p.moved.count) defective images moved into the unlabelled training set (seed \(p.seed)):")
            h.element("details") { h in
                h.element("summary", text: "the \(p.moved.count) moved images")
                h.element("ul") { h in
                    for id in p.moved { h.element("li") { h in h.element("code", text: id) } }
                }
            }
        }
        h.element("h4", text: "Departures from the paper (from the train stage's record)")
        if t.departures.isEmpty {
            h.element("p", text: "none recorded")
        } else {
            h.element("ul") { h in for d in t.departures { h.element("li", text: d) } }
        }
    }

    // MARK: - overlays

    static let roleTitles: [(role: String, title: String)] = [
        ("missed-defect", "Worst misses: the defective images with the lowest scores"),
        ("false-alarm", "Worst false alarms: the normal images with the highest scores"),
        ("best-detection", "Best detections: the defective images with the highest scores"),
    ]

    static func overlays(_ h: inout HTMLBuilder, _ cell: Cell) {
        let c = cell.context
        guard !c.overlays.isEmpty else {
            h.element("p", text: "No overlays (evaluate's overlays is 0, or the scores have no anomaly maps).")
            return
        }
        if let r = c.overlayRange, r.count == 2 {
            h.element("p", ["class": "small"], text: "Map colours: blue at \(score(Double(r[0]))) to red at \(score(Double(r[1]))), the same scale for every image.")
        }
        let threshold = cell.folder.threshold?.threshold
        for (role, title) in roleTitles {
            let items = c.overlays.filter { $0.role == role }.sorted { $0.rank < $1.rank }
            guard !items.isEmpty else { continue }
            h.element("h4", text: title)
            h.element("div", ["class": "overlays"]) { h in overlayFigures(&h, cell, items, threshold: threshold) }
        }
    }

    /// Two to a row at half size; each links to its full-size PNG.
    static func overlayFigures(_ h: inout HTMLBuilder, _ cell: Cell, _ items: [ReportContext.OverlayEntry], threshold: Double?) {
        for o in items {
            h.element("figure") { h in
                h.element("a", ["href": cell.link(o.file)]) { h in
                    h.empty("img", ["src": cell.link(o.file), "alt": "overlay of \(o.id)"])
                }
                h.element("figcaption") { h in
                    h.text("#\(o.rank) \(o.id): score \(score(Double(o.score)))")
                    guard let threshold else { h.text(" (no deployment threshold)"); return }
                    let flagged = Double(o.score) > threshold
                    h.text(", threshold \(score(threshold)) → ")
                    let (cls, word) = switch (flagged, o.anomalous) {
                    case (true, true): ("hit", "flagged, correctly")
                    case (false, true): ("miss", "passed: a missed defect")
                    case (true, false): ("alarm", "flagged: a false alarm")
                    case (false, false): ("pass", "passed, correctly")
                    }
                    h.element("span", ["class": "flag " + cls], text: word)
                }
            }
        }
    }
}
