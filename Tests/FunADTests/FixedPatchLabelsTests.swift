import Testing
@testable import FunAD

/// Fixed patch labels (the y_syn ablation, paper supplement Table 5): the named images'
/// patches take their given labels instead of the pseudo-labels, and are never perturbed;
/// and a mask is pooled to the patch grid by the half-area rule.
@Suite struct FixedPatchLabelsTests {
    /// Labels every patch normal and every patch ambiguous, whatever the distances.
    struct AllNormalAllAmbiguous: PseudoLabelPolicy {
        func assign(distances: [Float], moment: TrainingMoment) -> PseudoLabelAssignment {
            PseudoLabelAssignment(scores: distances, labels: .init(repeating: 0, count: distances.count),
                                  ambiguous: Array(distances.indices))
        }
        var summary: String { "all normal, all ambiguous" }
        var isPaperDefault: Bool { false }
    }

    /// 8 images of 4 patches, one batch of all 8 per iteration, every patch: image 2 has
    /// fixed labels [1, 0, 1, 1]. Each iteration then has exactly 3 anomalous labels of 32
    /// and 32 − 4 perturbed patches (image 2's four are not ambiguous any more).
    @Test func fixedLabelsReplacePseudoLabelsAndAreNotPerturbed() throws {
        let (source, _) = TrainingTestSupport.patchSet(images: 8, anomalous: 1, gridSide: 2, dimension: 4, anomalousPatches: 1, seed: 3)
        var c = TrainerConfiguration()
        c.epochs = 3; c.batchSize = 8; c.hidden1 = 8; c.hidden2 = 4
        c.pseudoLabels = AllNormalAllAmbiguous()
        c.fixedPatchLabels = [2: [1, 0, 1, 1]]
        #expect(c.departuresFromPaper.contains("1 images labelled by their masks instead of pseudo-labels (synthetic anomalies; paper supplement Table 5 ablation)"))
        var seen: [TrainingProgress] = []
        _ = try FunADTrainer(configuration: c).train(source: source, progress: { seen.append($0) })
        #expect(seen.count == 3)
        #expect(seen.allSatisfy { $0.pseudoAnomalyShare == Float(3) / 32 && $0.perturbedPatches == 28 })

        // Without them: no anomalous label, every patch perturbed.
        c.fixedPatchLabels = [:]
        seen = []
        _ = try FunADTrainer(configuration: c).train(source: source, progress: { seen.append($0) })
        #expect(seen.allSatisfy { $0.pseudoAnomalyShare == 0 && $0.perturbedPatches == 32 })
    }

    @Test func badFixedLabelsNameTheImage() {
        let (source, _) = TrainingTestSupport.patchSet(images: 8, anomalous: 1, gridSide: 2, dimension: 4, anomalousPatches: 1, seed: 3)
        var base = TrainerConfiguration()
        base.epochs = 1; base.batchSize = 4; base.hidden1 = 8; base.hidden2 = 4
        func message(_ labels: [Int: [UInt8]]) -> String {
            var c = base
            c.fixedPatchLabels = labels
            do { _ = try FunADTrainer(configuration: c).train(source: source); return "no error" } catch { return "\(error)" }
        }
        #expect(message([9: [0, 0, 0, 0]]) == "training configuration: fixedPatchLabels names image 9; the feature set has images 0..<8")
        #expect(message([1: [0, 2, 0, 0]]) == "training configuration: fixedPatchLabels of image 1: 4 labels; expected 4 values of 0 or 1")
        #expect(message([1: [0, 1]]) == "training configuration: fixedPatchLabels of image 1: 2 labels; expected 4 values of 0 or 1")
    }

    /// A 10 × 10 mask pooled to 3 × 3: cells span rows/columns 0..<3, 3..<6, 6..<10.
    /// Hand-counted: cell (0, 0) is 9 of 9 pixels, (0, 1) 5 of 9, (1, 1) 4 of 9, (2, 2)
    /// 8 of 16 (exactly half counts), (2, 0) 7 of 12; the rest 0.
    @Test func maskPoolsToTheGridByHalfArea() throws {
        var data = [Float](repeating: 0, count: 100)
        func set(_ ys: Range<Int>, _ xs: Range<Int>, count: Int) {
            var left = count
            for y in ys { for x in xs where left > 0 { data[y * 10 + x] = 1; left -= 1 } }
        }
        set(0..<3, 0..<3, count: 9)
        set(0..<3, 3..<6, count: 5)
        set(3..<6, 3..<6, count: 4)
        set(6..<10, 6..<10, count: 8)
        set(6..<10, 0..<3, count: 7)
        let labels = try MaskPatchLabels.labels(mask: ImagePlanes(width: 10, height: 10, channels: 1, data: data), gridHeight: 3, gridWidth: 3)
        #expect(labels == [1, 1, 0,
                           0, 0, 0,
                           1, 0, 1])
        #expect(throws: TrainingError.self) {
            try MaskPatchLabels.labels(mask: ImagePlanes(width: 2, height: 2, channels: 1, data: [0, 0, 0, 0]), gridHeight: 3, gridWidth: 3)
        }
    }
}
