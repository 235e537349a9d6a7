import Foundation
import Testing
@testable import FunAD

@Suite struct DataLoadStageTests {
    @Test func listValidateContaminateAndRecord() throws {
        let t = try TempTree("load")
        try DataLoaderTests.makeMTD(t, free: 20, blowhole: 6, crack: 0)
        try t.text("MT_Blowhole/Imgs/exp2_num_5.jpg", "")   // one bad anomalous image
        let result = try DatasetLoad.run(.named("mtd", path: t.root), split: SeededSplit(trainFraction: 0.5, seed: 1),
                                         validation: DatasetValidation(policy: .skip),
                                         contamination: ContaminationProtocol(ratio: 0.2, overlap: false, seed: 2))
        #expect(result.dataset.items.count == 25)
        #expect(result.record.skipped.count == 1)
        #expect(result.record.skipped[0].path.hasSuffix("exp2_num_5.jpg"))
        // ⌊0.2 · 10⌋ = 2 moved: 12 training, 10 good + 5 defective − 2 moved = 13 test.
        #expect(result.record.trainCount == 12 && result.record.testCount == 13)
        #expect(result.record.contamination.movedIDs.count == 2)
        #expect(result.record.split?.trainIDs.count == 10)
        let json = try JSONEncoder().encode(result.record)
        #expect(try JSONDecoder().decode(LoadRecord.self, from: json) == result.record)
        // The item lists round-trip too (stage outputs can be written as JSON).
        let sets = try JSONEncoder().encode(result.contaminated)
        #expect(try JSONDecoder().decode(ContaminatedDataset.self, from: sets) == result.contaminated)
        #expect(try JSONDecoder().decode(Dataset.self, from: JSONEncoder().encode(result.dataset)) == result.dataset)
        #expect(throws: DatasetError("layout \"kolektor\" is not known; expected one of mvtec, visa, mtd, generic, csv")) {
            try DatasetLayout.named("kolektor", path: t.root)
        }
    }
}
