@testable import FunAD
import Testing
@testable import Stages

/// Bank purity counts, per refresh, the bank's images that are contaminated (moved in by
/// the draw) and synthetic (FUN-AD*), from the bank's indices into the training ids.
/// Expected values counted by hand.
@Suite struct BankPurityTests {
    @Test func countsContaminatedAndSyntheticImagesOfEachRefreshApart() {
        let ids = ["good-0", "bad-1", "good-2", "synthetic-0000", "bad-4", "synthetic-0001"]
        let refreshes = [
            BankRefreshRecord(iteration: 0, epoch: 0, imageCount: 4, patchCount: 16, imageIndices: [0, 1, 2, 3]),
            BankRefreshRecord(iteration: 5, epoch: 1, imageCount: 2, patchCount: 8, imageIndices: [0, 2]),
            // An index outside the training list is ignored, not a crash.
            BankRefreshRecord(iteration: 9, epoch: 2, imageCount: 3, patchCount: 12, imageIndices: [4, 5, 99]),
        ]
        let history = TrainingHistory(epochs: [], bankRefreshes: refreshes, stepLosses: nil, trainingIDs: ids)
        let purity = BankPurity.measure(history: history, contaminated: ["bad-1", "bad-4"], synthetic: ["synthetic-0000", "synthetic-0001"])
        #expect(purity.trainingImages == 6)
        #expect(purity.contaminatedInTraining == 2)
        #expect(purity.syntheticInTraining == 2)
        #expect(purity.refreshes.map(\.contaminated) == [1, 0, 1])
        #expect(purity.refreshes.map(\.synthetic) == [1, 0, 1])
        #expect(purity.refreshes.map(\.images) == [4, 2, 3])
    }
}
