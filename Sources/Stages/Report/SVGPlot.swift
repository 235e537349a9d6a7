import Foundation

/// One axis of a plot: its title, the data range it spans and the tick values drawn.
struct PlotAxis {
    var title: String
    var lower: Double
    var upper: Double
    var ticks: [Double]

    /// An axis over `lower...upper` with about `tickCount` round ticks (1, 2 or 5 × 10^k
    /// apart, the spacing nearest (upper − lower) / tickCount). An empty or inverted range is widened to one unit so the plot still draws.
    init(_ title: String, _ lower: Double, _ upper: Double, tickCount: Int = 5) {
        var lo = lower, hi = upper
        if !(hi > lo) { lo -= 0.5; hi = lo + 1 }
        self.title = title; self.lower = lo; self.upper = hi
        self.ticks = Self.niceTicks(lo, hi, count: tickCount)
    }

    /// Ticks at multiples of a round step inside `lo...hi`.
    static func niceTicks(_ lo: Double, _ hi: Double, count: Int) -> [Double] {
        let raw = (hi - lo) / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(raw)))
        // The round step nearest the raw one (on a log scale).
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.min { abs(log($0 / raw)) < abs(log($1 / raw)) }!
        let first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        guard first <= last else { return [] }
        return (Int(first)...Int(last)).map { Double($0) * step }
    }

    /// A tick label with as many decimals as the tick spacing needs.
    func label(_ v: Double) -> String {
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : (upper - lower)
        let decimals = max(0, min(12, Int(-floor(log10(step)))))
        return String(format: "%.\(decimals)f", v)
    }
}

/// The drawing area of a plot and the map from data to SVG coordinates.
struct PlotFrame {
    var width = 380.0, height = 270.0
    var left = 54.0, right = 14.0, top = 28.0, bottom = 44.0
    var plotWidth: Double { width - left - right }
    var plotHeight: Double { height - top - bottom }

    func x(_ v: Double, _ axis: PlotAxis) -> Double { left + (v - axis.lower) / (axis.upper - axis.lower) * plotWidth }
    func y(_ v: Double, _ axis: PlotAxis) -> Double { top + plotHeight - (v - axis.lower) / (axis.upper - axis.lower) * plotHeight }

    /// Coordinates are written with two decimals: a hundredth of a pixel is far below
    /// what a screen shows, and it keeps the curves' point lists short.
    static func format(_ v: Double) -> String { String(format: "%.2f", v) }

    /// `<svg>` with the title, the frame (carrying the data domain it spans, so a reader of
    /// the file can map points back to data), grid lines, ticks and axis titles; `content`
    /// draws the data on top.
    func draw(into h: inout HTMLBuilder, id: String?, title: String, x: PlotAxis, y: PlotAxis,
              content: (inout HTMLBuilder) -> Void) {
        let f = Self.format
        h.element("svg", ["class": "plot", "id": id, "width": f(width), "height": f(height),
                          "viewBox": "0 0 \(f(width)) \(f(height))", "role": "img", "aria-label": title]) { h in
            h.element("text", ["class": "title", "x": f(left), "y": "16"], text: title)
            h.empty("rect", ["class": "frame", "x": f(left), "y": f(top), "width": f(plotWidth), "height": f(plotHeight),
                             "data-domain": "\(x.lower) \(x.upper) \(y.lower) \(y.upper)"])
            for t in x.ticks {
                let px = f(self.x(t, x))
                h.empty("line", ["class": "grid", "x1": px, "y1": f(top), "x2": px, "y2": f(top + plotHeight)])
                h.element("text", ["class": "tick", "x": px, "y": f(top + plotHeight + 14), "text-anchor": "middle"], text: x.label(t))
            }
            for t in y.ticks {
                let py = f(self.y(t, y))
                h.empty("line", ["class": "grid", "x1": f(left), "y1": py, "x2": f(left + plotWidth), "y2": py])
                h.element("text", ["class": "tick", "x": f(left - 5), "y": f(self.y(t, y) + 4), "text-anchor": "end"], text: y.label(t))
            }
            h.element("text", ["class": "axis", "x": f(left + plotWidth / 2), "y": f(height - 8), "text-anchor": "middle"], text: x.title)
            let cy = top + plotHeight / 2
            h.element("text", ["class": "axis", "x": "14", "y": f(cy), "text-anchor": "middle",
                               "transform": "rotate(-90 14 \(f(cy)))"], text: y.title)
            content(&h)
        }
    }

    /// A legend box in a corner of the plot area.
    func legend(into h: inout HTMLBuilder, _ entries: [(name: String, colour: String, dashed: Bool)], corner: LegendCorner) {
        guard !entries.isEmpty else { return }
        let f = Self.format
        let longest = entries.map(\.name.count).max() ?? 0
        let w = 30 + 6.2 * Double(longest), rowH = 15.0, hgt = rowH * Double(entries.count) + 6
        let x0 = corner.isRight ? left + plotWidth - w - 6 : left + 6
        let y0 = corner.isBottom ? top + plotHeight - hgt - 6 : top + 6
        h.element("g", ["class": "legend"]) { h in
            h.empty("rect", ["x": f(x0), "y": f(y0), "width": f(w), "height": f(hgt)])
            for (i, e) in entries.enumerated() {
                let cy = y0 + 3 + rowH * (Double(i) + 0.5)
                h.empty("line", ["x1": f(x0 + 5), "y1": f(cy), "x2": f(x0 + 23), "y2": f(cy), "stroke": e.colour,
                                 "stroke-dasharray": e.dashed ? "4 3" : nil])
                h.element("text", ["x": f(x0 + 27), "y": f(cy + 4)], text: e.name)
            }
        }
    }
}

enum LegendCorner {
    case topLeft, topRight, bottomRight
    var isRight: Bool { self != .topLeft }
    var isBottom: Bool { self == .bottomRight }
}

/// A named line in a `LinePlot`.
struct LineSeries {
    var name: String
    var points: [(x: Double, y: Double)]
    var colour: String
    /// A reference line (dashed, e.g. the chance diagonal of a ROC plot) rather than data.
    var reference = false
}

/// Lines over shared axes: ROC and PRO curves, training curves. Each data series is one
/// `<polyline class="series">` whose points are every given point, in order, mapped by
/// the frame (none is dropped, so the drawing is the data).
struct LinePlot {
    var id: String?
    var title: String
    var x: PlotAxis
    var y: PlotAxis
    var series: [LineSeries]
    var legend: LegendCorner = .bottomRight
    var markers = true
    var frame = PlotFrame()

    func render(into h: inout HTMLBuilder) {
        frame.draw(into: &h, id: id, title: title, x: x, y: y) { h in
            for s in series where !s.points.isEmpty {
                let points = s.points.map { PlotFrame.format(frame.x($0.x, x)) + "," + PlotFrame.format(frame.y($0.y, y)) }
                h.empty("polyline", ["class": s.reference ? "reference" : "series", "data-series": s.name,
                                     "points": points.joined(separator: " "), "stroke": s.colour])
                // A single point or a short per-epoch curve is easier to read with dots.
                if markers && !s.reference && s.points.count <= 40 {
                    for p in s.points {
                        h.empty("circle", ["class": "dot", "cx": PlotFrame.format(frame.x(p.x, x)), "cy": PlotFrame.format(frame.y(p.y, y)),
                                           "r": "2.2", "fill": s.colour])
                    }
                }
            }
            frame.legend(into: &h, series.filter { !$0.points.isEmpty }.map { ($0.name, $0.colour, $0.reference) }, corner: legend)
        }
    }
}

/// Counts of two or more groups of values over shared bins, drawn side by side within
/// each bin, with optional vertical markers (the decision threshold).
struct Histogram {
    struct Group { var name: String; var values: [Double]; var colour: String }
    struct Marker { var x: Double; var label: String }

    var id: String?
    var title: String
    var xTitle: String
    var groups: [Group]
    var bins = 20
    var markers: [Marker] = []
    var frame = PlotFrame()

    /// Bin edges over every value and marker, so the threshold is always on the plot.
    var edges: [Double] {
        let all = groups.flatMap(\.values) + markers.map(\.x)
        guard var lo = all.min(), var hi = all.max() else { return [0, 1] }
        if hi <= lo { lo -= 0.5; hi += 0.5 }
        let pad = (hi - lo) * 0.02
        lo -= pad; hi += pad
        return (0...bins).map { lo + (hi - lo) * Double($0) / Double(bins) }
    }

    /// Counts per bin of one group; the last bin includes its upper edge.
    func counts(_ values: [Double], edges: [Double]) -> [Int] {
        var c = [Int](repeating: 0, count: edges.count - 1)
        let lo = edges[0], width = (edges[edges.count - 1] - lo) / Double(c.count)
        for v in values {
            let i = min(c.count - 1, max(0, Int((v - lo) / width)))
            c[i] += 1
        }
        return c
    }

    func render(into h: inout HTMLBuilder) {
        let e = edges
        let perGroup = groups.map { counts($0.values, edges: e) }
        let top = max(1, perGroup.flatMap { $0 }.max() ?? 1)
        let xAxis = PlotAxis(xTitle, e[0], e[e.count - 1])
        let yAxis = PlotAxis("images", 0, Double(top) * 1.12, tickCount: min(5, top))
        let f = PlotFrame.format
        frame.draw(into: &h, id: id, title: title, x: xAxis, y: yAxis) { h in
            let binWidth = frame.plotWidth / Double(e.count - 1)
            let barWidth = binWidth * 0.9 / Double(max(groups.count, 1))
            for (g, group) in groups.enumerated() {
                h.element("g", ["class": "bars", "data-group": group.name, "fill": group.colour]) { h in
                    for (b, n) in perGroup[g].enumerated() where n > 0 {
                        let x0 = frame.x(e[b], xAxis) + binWidth * 0.05 + barWidth * Double(g)
                        let y0 = frame.y(Double(n), yAxis)
                        h.element("rect", ["x": f(x0), "y": f(y0), "width": f(barWidth), "height": f(frame.top + frame.plotHeight - y0),
                                           "data-count": "\(n)"]) { h in
                            h.element("title", text: "\(group.name): \(n) in [\(xAxis.label(e[b])), \(xAxis.label(e[b + 1])))")
                        }
                    }
                }
            }
            for m in markers {
                let x = frame.x(m.x, xAxis), px = f(x)
                h.empty("line", ["class": "marker", "x1": px, "y1": f(frame.top), "x2": px, "y2": f(frame.top + frame.plotHeight)])
                // The label goes on the side of the line with more room.
                let right = x < frame.left + frame.plotWidth * 0.6
                h.element("text", ["class": "marker-label", "x": f(right ? x + 3 : x - 3), "y": f(frame.top + 11),
                                   "text-anchor": right ? "start" : "end"], text: m.label)
            }
            frame.legend(into: &h, groups.map { ($0.name, $0.colour, false) }, corner: .topLeft)
        }
    }
}
