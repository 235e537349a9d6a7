import Foundation
import Testing
@testable import FunAD

@Suite struct ImagingBatchTests {
    /// Batches come in order, with the last one short, and equal one-by-one preprocessing.
    @Test func batchesMatchSequentialPreprocessing() throws {
        let names = ["rgb8.png", "gray8.png", "jpeg_rgb_420_baseline.jpg", "palette8.png", "rgb16.png",
                     "jpeg_gray_progressive.jpg", "gray_alpha8.png"]
        let urls = names.map(ImagingFixtures.url)
        let pre = try Preprocessor(resize: 16, crop: 12)
        var batches = try PreprocessedBatches(urls: urls, batchSize: 3, preprocessor: pre, threads: 2)
        var got: [ImagePlanes] = []
        var sizes: [Int] = []
        while let batch = try batches.next() {
            sizes.append(batch.count)
            got += batch
        }
        #expect(sizes == [3, 3, 1])
        #expect(got == (try urls.map { try pre.image(at: $0) }))
        #expect(got.allSatisfy { $0.width == 12 && $0.height == 12 && $0.channels == 3 })
    }

    @Test func aBadFileInABatchIsReportedByName() throws {
        let t = try TempTree("batch")
        try t.text("broken.png", "nope")
        let urls = [ImagingFixtures.url("rgb8.png"), t.url("broken.png")]
        var batches = try PreprocessedBatches(urls: urls, batchSize: 2, preprocessor: try Preprocessor(resize: 16, crop: 12))
        #expect(throws: ImageError(path: t.url("broken.png").path, reason: .unknownFormat("6e 6f 70 65"))) {
            try batches.next()
        }
        #expect(throws: PreprocessingError.self) {
            try PreprocessedBatches(urls: urls, batchSize: 0, preprocessor: try Preprocessor())
        }
    }
}
