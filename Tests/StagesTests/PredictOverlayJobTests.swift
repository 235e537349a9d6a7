import Foundation
import Testing
@testable import Stages
import FunAD

/// `predict`'s overlays, drawn two at a time: each file is what `Overlay.render` +
/// `PNGWriter` give for its own image and map (no mix-up between lanes), and a failing
/// job is reported by its path after the others were written.
@Suite struct PredictOverlayJobTests {
    private func job(_ k: Int, in dir: URL) -> Predictor.OverlayJob {
        // An 8×6 RGB image and a map that differ per job, so a swap would show.
        let image = ImagePlanes(width: 8, height: 6, channels: 3,
                                data: (0..<(3 * 48)).map { Float(($0 * (k + 3)) % 17) / 16 })
        let map = (0..<48).map { Float(($0 + 5 * k) % 11) / 10 }
        return .init(path: "img\(k).png", image: image, map: map, mapHeight: 6, mapWidth: 8, file: dir.appendingPathComponent("\(k).png"))
    }

    private func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("overlay-jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func everyFileIsItsOwnJobsOverlay() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let jobs = (0..<5).map { job($0, in: dir) }
        try Predictor.OverlayJob.drawAll(jobs, range: 0...1)
        for j in jobs {
            let expected = try PNGWriter.encode(Overlay.render(name: j.path, image: j.image, mask: nil, map: j.map, range: 0...1).pixelBuffer(), fast: true)
            #expect(try Data(contentsOf: j.file) == expected, "overlay \(j.path)")
        }
    }

    @Test func aFailingJobIsThrownAfterTheOthersAreWritten() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var jobs = (0..<4).map { job($0, in: dir) }
        jobs[1].file = dir.appendingPathComponent("missing-folder/1.png")
        do {
            try Predictor.OverlayJob.drawAll(jobs, range: 0...1)
            Issue.record("a write into a missing folder succeeded")
        } catch {
            #expect("\(error)".contains("missing-folder/1.png"), "\(error)")
        }
        for k in [0, 2, 3] { #expect(FileManager.default.fileExists(atPath: jobs[k].file.path)) }
    }

    @Test func theDrawerWritesInTheBackgroundAndReportsAFailureAtFinish() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let drawer = Predictor.OverlayDrawer(range: 0...1)
        let first = (0..<3).map { job($0, in: dir) }
        drawer.submit(first)
        drawer.submit([])
        #expect(try drawer.finish() == 3)
        for j in first { #expect(FileManager.default.fileExists(atPath: j.file.path)) }
        var broken = job(7, in: dir)
        broken.file = dir.appendingPathComponent("no-such-folder/7.png")
        drawer.submit([broken])
        drawer.submit([job(8, in: dir)])
        #expect(throws: (any Error).self) { _ = try drawer.finish() }
        #expect(throws: (any Error).self) { try drawer.rethrowFailure() }
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("8.png").path))
    }

    /// A map smaller than the image (predict's `map_size` below the backbone's input size)
    /// is resized to the image: a constant map stays constant under bilinear resizing, so
    /// its overlay equals the overlay of the constant full-size map; a wrong size is refused.
    @Test func aSmallerMapIsResizedToTheImage() throws {
        let image = ImagePlanes(width: 8, height: 8, channels: 3, data: (0..<(3 * 64)).map { Float($0 % 13) / 12 })
        let small = try Overlay.render(name: "a", image: image, mask: nil, map: [Float](repeating: 0.25, count: 16),
                                       mapHeight: 4, mapWidth: 4, range: 0...1)
        let full = try Overlay.render(name: "a", image: image, mask: nil, map: [Float](repeating: 0.25, count: 64), range: 0...1)
        #expect(small.data == full.data)
        #expect(throws: EvaluationError.self) {
            try Overlay.render(name: "a", image: image, mask: nil, map: [Float](repeating: 0, count: 15), mapHeight: 4, mapWidth: 4, range: 0...1)
        }
    }
}
