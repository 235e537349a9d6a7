import Foundation

/// Shows what the running stages are doing. On a terminal: one live line, redrawn at most
/// ten times a second, with each active stage's step, rate and ETA. Otherwise (a pipe, a
/// CI log): plain lines, one per stage at most every `lineInterval` seconds, so logs stay
/// short and grep-able.
public final class ProgressBoard: @unchecked Sendable {
    struct Active {
        var completed = 0
        var total: Int?
        var unit = "steps"
        var note: String?
        var lastLine = Date.distantPast
        /// Where the rate is measured from: the first report of this unit. Not the stage's
        /// start: a training resumed from its checkpoint reports step 130 of 208 at once, and
        /// a stage spends a while loading before its first step, so `completed / elapsed`
        /// would claim steps the stage never did in that time and print a far too short ETA.
        var rateFrom: (completed: Int, at: Date)?
    }

    private let lock = NSLock()
    private var active: [(String, Active)] = []
    private let isTerminal: Bool
    private let lineInterval: TimeInterval
    private let write: @Sendable (String) -> Void
    private var liveLineShown = false
    private var lastDraw = Date.distantPast

    public init(isTerminal: Bool, lineInterval: TimeInterval = 10, write: @escaping @Sendable (String) -> Void) {
        self.isTerminal = isTerminal
        self.lineInterval = lineInterval
        self.write = write
    }

    /// A board on standard error, live when it is a terminal.
    public static func standardError() -> ProgressBoard {
        let interval = ProcessInfo.processInfo.environment["FUNAD_PROGRESS_INTERVAL"].flatMap(Double.init) ?? 10
        return ProgressBoard(isTerminal: isatty(2) == 1, lineInterval: interval) { text in
            // Throwing write: standard error redirected to a full disk must not trap.
            try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
        }
    }

    /// Prints a whole line above the live line.
    public func line(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        clearLive()
        write(text + "\n")
        drawLive(force: true)
    }

    /// Starts showing `stage` (a workflow stage, or a command's own step such as `predict`).
    public func started(_ stage: String) {
        lock.lock(); defer { lock.unlock() }
        active.append((stage, Active()))
    }

    public func finished(_ stage: String) {
        lock.lock(); defer { lock.unlock() }
        active.removeAll { $0.0 == stage }
        clearLive()
        drawLive(force: true)
    }

    public func update(_ stage: String, completed: Int, total: Int?, unit: String, note: String?) {
        update(stage, completed: completed, total: total, unit: unit, note: note, now: Date())
    }

    func update(_ stage: String, completed: Int, total: Int?, unit: String, note: String?, now: Date) {
        lock.lock(); defer { lock.unlock() }
        guard let i = active.firstIndex(where: { $0.0 == stage }) else { return }
        let sameCount = active[i].1.rateFrom.map { unit == active[i].1.unit && completed >= $0.completed } ?? false
        if !sameCount { active[i].1.rateFrom = (completed, now) }  // first report, a new unit, or counting again
        active[i].1.completed = completed
        active[i].1.total = total
        active[i].1.unit = unit
        active[i].1.note = note
        if isTerminal {
            drawLive(force: false)
        } else {
            let done = total.map { completed >= $0 } ?? false
            if now.timeIntervalSince(active[i].1.lastLine) >= lineInterval || (done && active[i].1.lastLine != .distantPast) {
                active[i].1.lastLine = now
                write("[\(stage)] \(Self.describe(active[i].1, now: now))\n")
            }
        }
    }

    /// "120/1344 images · 25.1 images/s · ETA 49s · loss 0.31"
    static func describe(_ a: Active, now: Date) -> String {
        var parts: [String] = []
        parts.append(a.total.map { "\(a.completed)/\($0) \(a.unit)" } ?? "\(a.completed) \(a.unit)")
        if let from = a.rateFrom, now.timeIntervalSince(from.at) > 0.5, a.completed > from.completed {
            let rate = Double(a.completed - from.completed) / now.timeIntervalSince(from.at)
            parts.append(rate >= 10 ? String(format: "%.0f %@/s", rate, a.unit) : String(format: "%.2f %@/s", rate, a.unit))
            if let total = a.total, total > a.completed {
                parts.append("ETA " + formatDuration(Double(total - a.completed) / rate))
            }
        }
        if let note = a.note, !note.isEmpty { parts.append(note) }
        return parts.joined(separator: " · ")
    }

    private func clearLive() {
        if isTerminal && liveLineShown {
            write("\r\u{1B}[2K")
            liveLineShown = false
        }
    }

    private func drawLive(force: Bool) {
        guard isTerminal, !active.isEmpty else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let text = active.map { "[\($0.0)] \(Self.describe($0.1, now: now))" }.joined(separator: "  |  ")
        let width = Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 120
        write("\r\u{1B}[2K" + String(text.prefix(max(20, width - 1))))
        liveLineShown = true
    }
}

/// "1h02m", "3m05s", "12.3s".
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    if seconds < 60 { return String(format: "%.1fs", seconds) }
    let s = Int(seconds.rounded())
    if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
}
