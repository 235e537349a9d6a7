import Foundation
import Testing
@testable import FunAD

@Suite struct FeatureStoreTests {
    /// This test's scratch folder, removed when swift-testing releases the suite instance.
    let scratch = try! TempTree("featurestore")
    func tempURL(_ name: String) -> URL { scratch.url(name) }

    /// Image i, value v: a deterministic pattern with signs and magnitudes 1e-3…1e2.
    static func values(_ i: Int, _ n: Int, _ salt: Float) -> [Float] {
        (0..<n).map { v -> Float in
            let sign: Float = v % 2 == 0 ? 1 : -1
            let magnitude: Float = Float(v % 17) * 3.7 + salt + Float(i)
            let scale: Float = powf(10, Float(v % 6) - 3)
            return sign * magnitude * scale
        }
    }

    static func write(_ url: URL, dtype: FeatureStore.DType, images: Int = 3) throws {
        let w = try FeatureStoreWriter(url: url, globalDim: 4, localDim: 3, gridHeight: 2, gridWidth: 3, dtype: dtype,
                                       metadata: ["backbone": "test"])
        for i in 0..<images { try w.append(id: "img\(i).png", global: values(i, 4, 0.5), local: values(i, 18, 0.25)) }
        try w.finish()
    }

    @Test func float32RoundTripIsExact() throws {
        let url = tempURL("f32.fs")
        try Self.write(url, dtype: .float32)
        let r = try FeatureStoreReader(url: url)
        #expect(r.imageIds == ["img0.png", "img1.png", "img2.png"])
        #expect(r.metadata == ["backbone": "test"])
        #expect(r.dimension == 7 && r.patchesPerImage == 6)
        for i in 0..<3 {
            #expect(try r.global(ofImage: i) == Self.values(i, 4, 0.5))
            #expect(try r.local(ofImage: i) == Self.values(i, 18, 0.25))
        }
    }

    /// Float16 keeps 11 significant bits: relative error ≤ 2⁻¹¹ for normal values.
    @Test func float16RoundTripWithinHalfPrecision() throws {
        let url = tempURL("f16.fs")
        try Self.write(url, dtype: .float16)
        let r = try FeatureStoreReader(url: url)
        for i in 0..<3 {
            for (got, want) in zip(try r.global(ofImage: i) + r.local(ofImage: i), Self.values(i, 4, 0.5) + Self.values(i, 18, 0.25)) {
                #expect(abs(got - want) <= abs(want) * 0x1p-11, "\(got) vs \(want)")
            }
        }
        // Same content as float32: exactly 2 bytes fewer per value (3 images × 22 values).
        let url32 = tempURL("f16-vs-f32.fs")
        try Self.write(url32, dtype: .float32)
        let size32 = try FileManager.default.attributesOfItem(atPath: url32.path)[.size] as? Int
        let size16 = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int
        let footerDifference = #""dtype":"float32""#.count - #""dtype":"float16""#.count
        #expect(size32 != nil && size16 != nil && size32! - size16! == 3 * 22 * 2 + footerDifference)
    }

    /// patchFeatures yields, per patch j, [global ‖ local_j] (global first).
    @Test func patchFeaturesPutGlobalFirst() throws {
        let url = tempURL("order.fs")
        try Self.write(url, dtype: .float32)
        let r = try FeatureStoreReader(url: url)
        var buf = [Float](repeating: .nan, count: 6 * 7)
        try buf.withUnsafeMutableBufferPointer { try r.patchFeatures(ofImage: 1, into: $0.baseAddress!) }
        let g = Self.values(1, 4, 0.5), l = Self.values(1, 18, 0.25)
        for j in 0..<6 {
            #expect(Array(buf[(j * 7)..<(j * 7 + 4)]) == g)
            #expect(Array(buf[(j * 7 + 4)..<(j * 7 + 7)]) == Array(l[(j * 3)..<(j * 3 + 3)]))
        }
        #expect(throws: FeatureStoreError.self) { try buf.withUnsafeMutableBufferPointer { try r.patchFeatures(ofImage: 3, into: $0.baseAddress!) } }
    }

    @Test func backboneBatchAppendsPerImage() throws {
        let url = tempURL("batch.fs")
        let f = BackboneFeatures(batch: 2, globalDim: 2, localDim: 1, gridHeight: 1, gridWidth: 2,
                                 global: [1, 2, 3, 4], local: [5, 6, 7, 8])
        let w = try FeatureStoreWriter(url: url, globalDim: 2, localDim: 1, gridHeight: 1, gridWidth: 2, dtype: .float32)
        try w.append(f, ids: ["a", "b"])
        #expect(throws: FeatureStoreError.self) { try w.append(f, ids: ["c"]) }
        try w.finish()
        let r = try FeatureStoreReader(url: url)
        #expect(try r.global(ofImage: 1) == [3, 4] && r.local(ofImage: 1) == [7, 8])
    }

    /// Backbone → store → PatchFeatureSource: each patch row is [global ‖ local_j] of the
    /// backbone's own output (float32 store, so exact).
    @Test func efficientNetFeaturesThroughTheStore() throws {
        let model = try EfficientNetLite(.lite0, weights: EfficientNetFixtures.synthesizedWeights("lite0", seed: 5))
        let side = 64
        let input = (0..<(2 * 3 * side * side)).map { Float(($0 * 7919) % 255) / 127.5 - 1 }
        let f = try model.forward(input, batch: 2, side: side)
        let url = tempURL("effnet.fs")
        let w = try FeatureStoreWriter(url: url, globalDim: f.globalDim, localDim: f.localDim,
                                       gridHeight: f.gridHeight, gridWidth: f.gridWidth, dtype: .float32, metadata: ["backbone": model.name])
        try w.append(f, ids: ["a", "b"])
        try w.finish()
        let r = try FeatureStoreReader(url: url)
        #expect(r.dimension == 1280 + 152 && r.patchesPerImage == 64)
        var rows = [Float](repeating: .nan, count: r.patchesPerImage * r.dimension)
        try rows.withUnsafeMutableBufferPointer { try r.patchFeatures(ofImage: 1, into: $0.baseAddress!) }
        for j in [0, 17, 63] {
            let row = Array(rows[(j * r.dimension)..<((j + 1) * r.dimension)])
            #expect(Array(row[..<1280]) == Array(f.global[1280...]))
            #expect(Array(row[1280...]) == Array(f.local[((64 + j) * 152)..<((64 + j + 1) * 152)]))
        }
    }

    /// Nothing appears at the destination until finish(); an abandoned writer leaves no file.
    @Test func writerIsAtomic() throws {
        let url = tempURL("atomic.fs")
        try? FileManager.default.removeItem(at: url)
        do {
            let w = try FeatureStoreWriter(url: url, globalDim: 1, localDim: 1, gridHeight: 1, gridWidth: 1)
            try w.append(id: "x", global: [1], local: [2])
            #expect(!FileManager.default.fileExists(atPath: url.path))
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
        #expect(!leftovers.contains { $0.hasPrefix(".atomic.fs.partial") })
        #expect(!FileManager.default.fileExists(atPath: url.path))
        let w = try FeatureStoreWriter(url: url, globalDim: 1, localDim: 1, gridHeight: 1, gridWidth: 1)
        let error = #expect(throws: FeatureStoreError.self) { try w.append(id: "bad", global: [1, 2], local: [3]) }
        #expect(error?.description == "\(url.path): image 'bad' has 2 global and 1 local values; expected 1 and 1×1 = 1")
    }

    @Test func truncatedAndForeignFilesAreRefused() throws {
        let url = tempURL("full.fs")
        try Self.write(url, dtype: .float16)
        let data = try Data(contentsOf: url)
        for cut in [0, 7, 63, 64, 100, data.count / 2, data.count - 17, data.count - 1] {
            let error = #expect(throws: FeatureStoreError.self, "cut \(cut)") {
                try FeatureStoreReader(data: data.prefix(cut), url: URL(fileURLWithPath: "/cut.fs"))
            }
            #expect(error?.description.hasPrefix("/cut.fs: ") == true)
        }
        // Records removed but the footer kept: the byte count no longer matches.
        var spliced = data.prefix(64 + 44)
        spliced.append(data.suffix(from: 64 + 3 * 44))
        let error = #expect(throws: FeatureStoreError.self) { try FeatureStoreReader(data: spliced, url: URL(fileURLWithPath: "/s.fs")) }
        #expect(error?.description == "/s.fs: 44 record bytes for 3 images of 44 bytes; file is truncated or corrupt")
        let foreign = #expect(throws: FeatureStoreError.self) {
            try FeatureStoreReader(data: Data(repeating: 0x41, count: 200), url: URL(fileURLWithPath: "/f.bin"))
        }
        #expect(foreign?.description == "/f.bin: not a funad feature store (magic 'FUNADFS' missing)")
    }
}
