import Foundation
import Testing
@testable import Workflow

/// The rate and ETA a progress line prints, with the clock given: a stage's rate counts the
/// steps it did since its first report, not the steps it reports as done.
@Suite struct ProgressBoardTests {
    final class Lines: @unchecked Sendable {
        var all: [String] = []
    }

    /// A plain-line board (lineInterval 0: every report is a line) showing `stage`.
    static func board(_ stage: String) -> (ProgressBoard, Lines) {
        let lines = Lines()
        let board = ProgressBoard(isTerminal: false, lineInterval: 0) { lines.all.append($0) }
        board.started(stage)
        return (board, lines)
    }

    @Test func aResumedTrainingCountsOnlyTheStepsItDid() {
        // Resumed after epoch 5 of 8 (130 of 208 steps), then 10 steps in 10 s: 1 step/s,
        // 68 steps left. Counting the resumed 130 would claim 14 steps/s and an ETA of 4.9 s.
        let (board, lines) = Self.board("train")
        let t0 = Date(timeIntervalSinceReferenceDate: 1000)
        board.update("train", completed: 130, total: 208, unit: "it", note: nil, now: t0)
        board.update("train", completed: 140, total: 208, unit: "it", note: "epoch 6/8", now: t0.addingTimeInterval(10))
        #expect(lines.all == ["[train] 130/208 it\n", "[train] 140/208 it · 1.00 it/s · ETA 1m08s · epoch 6/8\n"])
    }

    @Test func timeBeforeTheFirstReportIsNotCountedAndANewUnitStartsAgain() {
        let (board, lines) = Self.board("extract")
        let t0 = Date(timeIntervalSinceReferenceDate: 5000)  // the stage spent a while loading before this
        board.update("extract", completed: 1, total: 41, unit: "images", note: nil, now: t0)
        board.update("extract", completed: 21, total: 41, unit: "images", note: nil, now: t0.addingTimeInterval(4))
        // Another phase counts other things from 0: its rate starts with it.
        board.update("extract", completed: 0, total: 3, unit: "shards", note: nil, now: t0.addingTimeInterval(5))
        board.update("extract", completed: 1, total: 3, unit: "shards", note: nil, now: t0.addingTimeInterval(7))
        #expect(lines.all == ["[extract] 1/41 images\n", "[extract] 21/41 images · 5.00 images/s · ETA 4.0s\n",
                              "[extract] 0/3 shards\n", "[extract] 1/3 shards · 0.50 shards/s · ETA 4.0s\n"])
    }
}
