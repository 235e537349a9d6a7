import Foundation
import Testing
@testable import FunAD

/// Each loader reads a miniature copy of its layout, made here, with exact counts.
@Suite struct DataLoaderTests {
    @Test func mvtecLayout() throws {
        let t = try TempTree("mvtec")
        for i in 0..<5 { try t.png("bottle/train/good/\(String(format: "%03d", i)).png") }
        for i in 0..<3 { try t.png("bottle/test/good/\(String(format: "%03d", i)).png") }
        for i in 0..<2 {
            try t.png("bottle/test/broken_large/00\(i).png")
            try t.png("bottle/ground_truth/broken_large/00\(i)_mask.png", value: 255)
        }
        try t.png("bottle/test/contamination/000.png")
        try t.png("bottle/ground_truth/contamination/000_mask.png", value: 255)
        try t.text("bottle/train/good/readme.txt", "not an image")
        try t.text("bottle/license.txt", "x")
        let d = try DatasetLoader.mvtec(category: t.url("bottle"))
        #expect(d.items.count == 11)
        #expect(images(d, .train, "good") == 5)
        #expect(images(d, .test, "good") == 3 && masks(d, .test, "good") == 0)
        #expect(images(d, .test, "broken_large") == 2 && masks(d, .test, "broken_large") == 2)
        #expect(images(d, .test, "contamination") == 1 && masks(d, .test, "contamination") == 1)
        let item = try #require(d.items.first { $0.id == "test/broken_large/001.png" })
        #expect(item.label == .anomalous)
        #expect(item.maskPath?.lastPathComponent == "001_mask.png")
        #expect(d.countsDescription.contains("broken_large"))
    }

    @Test func mvtecRejectsOtherFolders() throws {
        let t = try TempTree("notmvtec")
        try t.png("images/a.png")
        #expect(throws: DatasetError("\(t.root.path): not an MVTec AD category folder (expected train/good/ and test/<defect type>/)")) {
            try DatasetLoader.mvtec(category: t.root)
        }
    }

    @Test func visaLayout() throws {
        let t = try TempTree("visa")
        var csv = "object,split,label,image,mask\n"
        for i in 0..<4 {
            try t.jpeg("candle/Data/Images/Normal/\(i).JPG")
            csv += "candle,\(i < 3 ? "train" : "test"),normal,candle/Data/Images/Normal/\(i).JPG,\n"
        }
        for i in 0..<2 {
            try t.jpeg("candle/Data/Images/Anomaly/\(i).JPG")
            try t.png("candle/Data/Masks/Anomaly/\(i).png", value: 255)
            csv += "candle,test,anomaly,candle/Data/Images/Anomaly/\(i).JPG,candle/Data/Masks/Anomaly/\(i).png\r\n"
        }
        try t.jpeg("pcb1/Data/Images/Normal/0.JPG")
        csv += "pcb1,train,normal,\"pcb1/Data/Images/Normal/0.JPG\",\n"
        try t.text("split_csv/1cls.csv", csv)
        let d = try DatasetLoader.visa(root: t.root, category: "candle")
        #expect(d.items.count == 6)
        #expect(images(d, .train, "good") == 3)
        #expect(images(d, .test, "good") == 1)
        #expect(images(d, .test, "anomaly") == 2 && masks(d, .test, "anomaly") == 2)
        let all = try DatasetLoader.visa(root: t.root, category: nil)
        #expect(all.items.count == 7)
        #expect(throws: DatasetError.self) { try DatasetLoader.visa(root: t.root, category: "capsules") }
    }

    @Test func visaReportsBadRowsWithLineNumbers() throws {
        let t = try TempTree("visabad")
        try t.text("split_csv/1cls.csv", "object,split,label,image,mask\ncandle,val,normal,a.JPG,\n")
        #expect(throws: DatasetError("\(t.url("split_csv/1cls.csv").path):2: split \"val\", expected train or test")) {
            try DatasetLoader.visa(root: t.root, category: nil)
        }
        try t.text("split_csv/1cls.csv", "object,split,image,mask\n")
        #expect(throws: DatasetError("\(t.url("split_csv/1cls.csv").path): missing column \"label\" (found object,split,image,mask)")) {
            try DatasetLoader.visa(root: t.root, category: nil)
        }
    }

    static func makeMTD(_ t: TempTree, free: Int, blowhole: Int, crack: Int) throws {
        for i in 0..<free { try t.jpeg("MT_Free/Imgs/exp1_num_\(i).jpg"); try t.png("MT_Free/Imgs/exp1_num_\(i).png", value: 0) }
        for i in 0..<blowhole { try t.jpeg("MT_Blowhole/Imgs/exp2_num_\(i).jpg"); try t.png("MT_Blowhole/Imgs/exp2_num_\(i).png", value: 255) }
        for i in 0..<crack { try t.jpeg("MT_Crack/Imgs/exp3_num_\(i).jpg") }   // masks missing on purpose
        try t.text("SOURCE.md", "# MTD")
    }

    @Test func mtdLayoutWithSeededSplit() throws {
        let t = try TempTree("mtd")
        try Self.makeMTD(t, free: 10, blowhole: 3, crack: 2)
        let d = try DatasetLoader.mtd(root: t.root, split: SeededSplit(trainFraction: 0.8, seed: 1))
        #expect(d.items.count == 15)
        #expect(images(d, .train, "good") == 8)
        #expect(images(d, .test, "good") == 2)
        #expect(images(d, .test, "blowhole") == 3 && masks(d, .test, "blowhole") == 3)
        #expect(images(d, .test, "crack") == 2 && masks(d, .test, "crack") == 0)
        let record = try #require(d.splitRecord)
        #expect(record.trainIDs.count == 8 && record.seed == 1 && record.trainFraction == 0.8)
        // Same seed, same split; another seed, another split.
        let again = try DatasetLoader.mtd(root: t.root, split: SeededSplit(trainFraction: 0.8, seed: 1))
        #expect(again.splitRecord == record)
        // 45 possible splits of 10 into 8 + 2: a few other seeds must not all repeat it.
        let others = try (2...5).map { try DatasetLoader.mtd(root: t.root, split: SeededSplit(trainFraction: 0.8, seed: $0)) }
        #expect(others.contains { $0.splitRecord?.trainIDs != record.trainIDs })
        #expect(throws: DatasetError.self) { try SeededSplit(trainFraction: 1.0) }
    }

    @Test func genericFolders() throws {
        let t = try TempTree("generic")
        for i in 0..<6 { try t.png("normal/n\(i).png") }
        try t.png("anomalous/a0.png"); try t.png("masks/a0.png", value: 255)
        try t.png("anomalous/scratch/s0.png"); try t.png("masks/scratch/s0_mask.png", value: 255)
        try t.png("anomalous/scratch/s1.png")
        let d = try DatasetLoader.genericFolders(root: t.root, split: SeededSplit(trainFraction: 0.5, seed: 3))
        #expect(d.items.count == 9)
        #expect(images(d, .train, "good") == 3 && images(d, .test, "good") == 3)
        #expect(images(d, .test, "anomalous") == 1 && masks(d, .test, "anomalous") == 1)
        #expect(images(d, .test, "scratch") == 2 && masks(d, .test, "scratch") == 1)
    }

    @Test func genericCSV() throws {
        let t = try TempTree("csv")
        for i in 0..<4 { try t.png("imgs/\(i).png") }
        try t.png("imgs/bad.png"); try t.png("imgs/bad_mask.png", value: 255)
        try t.text("labels.csv", "path,label,mask\nimgs/0.png,good,\nimgs/1.png,normal,\nimgs/2.png,0,\nimgs/3.png,ok,\nimgs/bad.png,defect,imgs/bad_mask.png\n")
        let d = try DatasetLoader.genericCSV(file: t.url("labels.csv"), split: SeededSplit(trainFraction: 0.75, seed: 0))
        #expect(images(d, .train, "good") == 3 && images(d, .test, "good") == 1)
        #expect(images(d, .test, "anomalous") == 1 && masks(d, .test, "anomalous") == 1)
        #expect(d.splitRecord != nil)
        try t.text("split.csv", "path,label,split,defect_type\nimgs/0.png,normal,train,\nimgs/1.png,normal,test,\nimgs/bad.png,1,test,hole\n")
        let s = try DatasetLoader.genericCSV(file: t.url("split.csv"), split: SeededSplit())
        #expect(images(s, .train, "good") == 1 && images(s, .test, "good") == 1 && images(s, .test, "hole") == 1)
        #expect(s.splitRecord == nil)
        try t.text("bad.csv", "path,label\nimgs/0.png,maybe\n")
        #expect(throws: DatasetError("\(t.url("bad.csv").path):2: label \"maybe\", expected normal or anomalous")) {
            try DatasetLoader.genericCSV(file: t.url("bad.csv"), split: SeededSplit())
        }
        try t.text("ragged.csv", "path,label\nimgs/0.png\n")
        #expect(throws: DatasetError("\(t.url("ragged.csv").path):2: 1 fields, expected 2 (columns path,label)")) {
            try DatasetLoader.genericCSV(file: t.url("ragged.csv"), split: SeededSplit())
        }
    }

    @Test func validationReportsAllBadFilesOrSkipsThem() throws {
        let t = try TempTree("validate")
        try Self.makeMTD(t, free: 6, blowhole: 2, crack: 0)
        try t.text("MT_Free/Imgs/exp1_num_1.jpg", "")                       // zero bytes
        let jpeg = try ImagingFixtures.bytes("jpeg_gray_baseline.jpg")
        try Data(jpeg.prefix(jpeg.count / 2)).write(to: t.url("MT_Free/Imgs/exp1_num_2.jpg"))
        try t.text("MT_Blowhole/Imgs/exp2_num_0.png", "not a png mask")     // bad mask
        let d = try DatasetLoader.mtd(root: t.root, split: SeededSplit(trainFraction: 0.5, seed: 0))
        #expect(d.items.count == 8)
        do {
            _ = try DatasetValidation(policy: .fail).run(d)
            Issue.record("validation passed with bad files")
        } catch let error as BadImagesError {
            #expect(error.failures.count == 3)
            #expect(error.description.hasPrefix("3 image files could not be read (set on_bad_image: skip to leave them out):"))
            #expect(error.description.contains("exp1_num_1.jpg: empty file"))
            #expect(error.description.contains("exp2_num_0.png: not a PNG or JPEG image"))
        }
        let report = try DatasetValidation(policy: .skip).run(d)
        #expect(report.dataset.items.count == 5)
        #expect(report.skipped.count == 3)
        #expect(report.skippedIDs == ["MT_Blowhole/Imgs/exp2_num_0.jpg", "MT_Free/Imgs/exp1_num_1.jpg",
                                      "MT_Free/Imgs/exp1_num_2.jpg"].sorted { a, b in
            d.items.firstIndex { $0.id == a }! < d.items.firstIndex { $0.id == b }!
        })
        #expect(report.checkedFiles == 16)
        // Header-only validation cannot see the truncation, but sees the empty file and the bad mask.
        let headerOnly = try DatasetValidation(depth: .header, policy: .skip).run(d)
        #expect(headerOnly.skipped.count == 2)
    }
}
