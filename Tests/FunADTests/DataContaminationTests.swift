import Foundation
import Testing
@testable import FunAD

/// SoftPatch's contamination protocol on a synthetic item list (no files needed).
@Suite struct DataContaminationTests {
    /// 40 normal training images, 10 normal + 25 defective test images.
    static func dataset() -> Dataset {
        var items: [DatasetItem] = []
        let root = URL(fileURLWithPath: "/data/cat")
        func add(_ id: String, _ split: DatasetSplit, _ label: ItemLabel, _ type: String) {
            items.append(DatasetItem(id: id, path: root.appendingPathComponent(id), split: split, label: label,
                                     defectType: type, maskPath: label == .anomalous ? root.appendingPathComponent(id + ".mask.png") : nil))
        }
        for i in 0..<40 { add("train/good/\(i).png", .train, .normal, "good") }
        for i in 0..<10 { add("test/good/\(i).png", .test, .normal, "good") }
        for i in 0..<25 { add("test/\(i % 2 == 0 ? "crack" : "hole")/\(i).png", .test, .anomalous, i % 2 == 0 ? "crack" : "hole") }
        return Dataset(layout: "mvtec", root: root, items: items)
    }

    @Test func drawsFloorOfRatioTimesTrainGood() throws {
        // ⌊0.1 · 40⌋ = 4; ⌊0.29 · 40⌋ = ⌊11.6⌋ = 11 (hand-computed).
        let ten = try ContaminationProtocol(ratio: 0.1, overlap: false, seed: 5).apply(to: Self.dataset())
        #expect(ten.audit.noiseCount == 4 && ten.audit.trainGoodCount == 40)
        #expect(ten.train.count == 44)
        #expect(ten.test.count == 35 - 4)
        let more = try ContaminationProtocol(ratio: 0.29, overlap: false, seed: 5).apply(to: Self.dataset())
        #expect(more.audit.noiseCount == 11)
        let none = try ContaminationProtocol(ratio: 0, overlap: false, seed: 5).apply(to: Self.dataset())
        #expect(none.audit.noiseCount == 0 && none.train.count == 40 && none.audit.contaminatedTrainingIDs.isEmpty)
    }

    @Test func sameSeedSameImagesOtherSeedOtherImages() throws {
        let a = try ContaminationProtocol(ratio: 0.2, overlap: false, seed: 11).apply(to: Self.dataset())
        let b = try ContaminationProtocol(ratio: 0.2, overlap: false, seed: 11).apply(to: Self.dataset())
        let c = try ContaminationProtocol(ratio: 0.2, overlap: false, seed: 12).apply(to: Self.dataset())
        #expect(a == b)
        #expect(a.audit.movedIDs.count == 8)
        #expect(Set(a.audit.movedIDs) != Set(c.audit.movedIDs))
        #expect(a.audit.movedIDs.allSatisfy { $0.hasPrefix("test/crack/") || $0.hasPrefix("test/hole/") })
    }

    @Test func overlapKeepsMovedImagesInTest() throws {
        let noOverlap = try ContaminationProtocol(ratio: 0.1, overlap: false, seed: 3).apply(to: Self.dataset())
        let overlap = try ContaminationProtocol(ratio: 0.1, overlap: true, seed: 3).apply(to: Self.dataset())
        #expect(noOverlap.audit.movedIDs == overlap.audit.movedIDs)
        #expect(overlap.test.count == 35)
        let testIDs = Set(noOverlap.test.map(\.id))
        #expect(noOverlap.audit.movedIDs.allSatisfy { !testIDs.contains($0) })
        #expect(overlap.audit.movedIDs.allSatisfy { id in overlap.test.contains { $0.id == id } })
    }

    /// workflows/mtd-sweep.yaml trains each ratio once and scores both overlap cells with
    /// those models: that is only sound while overlap changes the test set alone.
    @Test func overlapLeavesTheTrainingSetUnchanged() throws {
        for (ratio, seed) in [(0.05, UInt64(0)), (0.1, 3), (0.2, 11)] {
            let noOverlap = try ContaminationProtocol(ratio: ratio, overlap: false, seed: seed).apply(to: Self.dataset())
            let overlap = try ContaminationProtocol(ratio: ratio, overlap: true, seed: seed).apply(to: Self.dataset())
            #expect(noOverlap.train == overlap.train)
            #expect(noOverlap.audit.sourceOfTrainingID == overlap.audit.sourceOfTrainingID)
            #expect(noOverlap.audit.contaminatedTrainingIDs == overlap.audit.contaminatedTrainingIDs)
            #expect(overlap.test.count == noOverlap.test.count + noOverlap.audit.movedIDs.count)
        }
    }

    @Test func trainingItemsCarryNoLabels() throws {
        let c = try ContaminationProtocol(ratio: 0.25, overlap: false, seed: 9).apply(to: Self.dataset())
        // The type has exactly two stored properties: an opaque id and a path.
        let fields = Mirror(reflecting: c.train[0]).children.compactMap(\.label)
        #expect(fields == ["id", "path"])
        // Ids are opaque and sequential; they say nothing about the source.
        #expect(c.train.map(\.id) == (0..<50).map { "train-" + String(format: "%04d", $0) })
        // The moved images are spread through the list, not appended at the end.
        let positions = c.audit.contaminatedTrainingIDs.compactMap { id in c.train.firstIndex { $0.id == id } }
        #expect(positions.count == 10)
        #expect(positions.contains { $0 < 40 })
        // The audit maps back to the true sources.
        for id in c.audit.contaminatedTrainingIDs {
            #expect(c.audit.movedIDs.contains(c.audit.sourceOfTrainingID[id]!))
        }
        #expect(Set(c.audit.sourceOfTrainingID.values).count == 50)
    }

    @Test func tooFewAnomaliesIsAnError() throws {
        #expect(throws: DatasetError("contamination: ratio 1.0 of 40 training images needs 40 defective test images, the dataset has 25")) {
            try ContaminationProtocol(ratio: 1.0, overlap: false, seed: 0).apply(to: Self.dataset())
        }
        #expect(throws: DatasetError.self) { try ContaminationProtocol(ratio: -0.1, overlap: false, seed: 0) }
    }
}
