import Foundation
import Testing
@testable import Stages
import FunAD

/// The per-image feature cache relies on this: an image's features do not depend on the
/// images it shares a forward pass with.
@Suite struct BatchIndependenceTests {
    @Test func efficientNetFeaturesOfAnImageDoNotDependOnItsBatchMates() throws {
        let backbone = try BackboneCatalog.make(name: "efficientnet_lite0", weights: nil, prefix: nil, randomSeed: 1,
                                                localStages: [2, 4], global: "head")
        let side = 64, n = 3
        var rng = SplitMix64(seed: 9)
        let images = (0..<(n * 3 * side * side)).map { _ in Float(rng.next() % 1000) / 500 - 1 }
        let together = try backbone.forward(images, batch: n, side: side)
        let g = together.globalDim, l = together.gridHeight * together.gridWidth * together.localDim
        for i in 0..<n {
            let alone = try backbone.forward(Array(images[(i * 3 * side * side)..<((i + 1) * 3 * side * side)]), batch: 1, side: side)
            let gd = zip(alone.global, together.global[(i * g)..<((i + 1) * g)]).map { abs($0 - $1) }.max() ?? 0
            let ld = zip(alone.local, together.local[(i * l)..<((i + 1) * l)]).map { abs($0 - $1) }.max() ?? 0
            #expect(gd == 0 && ld == 0, "image \(i): global differs by \(gd), local by \(ld)")
        }
    }
}
