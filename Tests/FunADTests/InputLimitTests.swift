import Foundation
import Testing
@testable import FunAD

/// One case per input limit (issue 13): each is hit with small hand-made bytes or files
/// written here, and refused with a message that names the file and the limit.
@Suite struct InputLimitTests {
    // MARK: - Pickle bytes

    private func str(_ s: String) -> [UInt8] {
        [0x58] + withUnsafeBytes(of: UInt32(s.utf8.count).littleEndian, Array.init) + Array(s.utf8)
    }

    private func int32(_ v: Int32) -> [UInt8] { [0x4a] + withUnsafeBytes(of: v.littleEndian, Array.init) }

    private func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }

    /// ('storage', torch.FloatStorage, key, 'cpu', count) then BINPERSID.
    private func floatStorage(_ key: String, count: Int32) -> [UInt8] {
        [0x28] + str("storage") + global("torch", "FloatStorage") + str(key) + str("cpu") + int32(count) + [0x74, 0x51]
    }

    private func refusal(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { raw in
            var u = RestrictedUnpickler(name: "t.pkl", bytes: raw)
            do { _ = try u.load(); return "accepted" } catch { return "\(error)" }
        }
    }

    /// NONE pushed 2²⁰ + 1 times: the last push (at byte 2 + 2²⁰) is one too many.
    @Test func pickleStackDepthIsLimited() {
        let p: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x4e, count: (1 << 20) + 1) + [0x2e]
        #expect(refusal(p) == "t.pkl: refused: pickle stack deeper than 1048576 (at byte 1048578)")
    }

    /// MEMOIZE stores at index memo.count: the 2²⁰+1-th (at byte 3 + 2²⁰) is out of range.
    @Test func pickleMemoSizeIsLimited() {
        let p: [UInt8] = [0x80, 0x02, 0x4e] + [UInt8](repeating: 0x94, count: (1 << 20) + 1) + [0x2e]
        #expect(refusal(p) == "t.pkl: refused: memo index 1048576 out of range 0..<1048576 (at byte 1048579)")
    }

    @Test func storageLargerThanTheFileIsRefused() {
        let head: [UInt8] = [0x80, 0x02]
        let pid = floatStorage("0", count: 1_000_000_000)
        let p = head + pid + [0x2e]
        let at = head.count + pid.count - 1  // the BINPERSID opcode
        #expect(refusal(p) == "t.pkl: refused: storage '0' declares 1000000000 elements of 4 bytes, more than the file's \(p.count) bytes (at byte \(at))")
    }

    /// A legacy checkpoint: one float storage of 1024 values (value i at index i) and
    /// `views` tensors that each view it with stride 0 as 16384 copies of element 5.
    private func zeroStrideViews(_ views: Int) -> [UInt8] {
        var main: [UInt8] = [0x80, 0x02, 0x7d, 0x28]
        for i in 0..<views {
            main += str("t\(i)") + global("torch._utils", "_rebuild_tensor_v2")
            main += [0x28] + floatStorage("0", count: 1024) + int32(5) + int32(16384) + [0x85] + int32(0) + [0x85, 0x74, 0x52]
        }
        main += [0x75, 0x2e]
        var b: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
        b += [0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e]
        b += [0x80, 0x02, 0x7d, 0x2e]
        b += main
        b += [0x80, 0x02, 0x5d] + str("0") + [0x61, 0x2e]
        b += withUnsafeBytes(of: UInt64(1024).littleEndian, Array.init)
        for v in 0..<1024 { b += withUnsafeBytes(of: Float(v).bitPattern.littleEndian, Array.init) }
        return b
    }

    @Test func totalTensorBytesAreLimitedByTheFileSize() throws {
        // 10 views: 10 × 64 KiB of floats, under 4 × ~5 KB + 1 MiB; they read as element 5.
        let small = try PyTorchCheckpoint.decode(Data(zeroStrideViews(10)), name: "ok.pt")
        #expect(small.tensors.count == 10)
        #expect(small.tensors["t3"]?.shape == [16384])
        #expect(small.tensors["t3"]?.values.allSatisfy { $0 == 5 } == true)
        // 40 views: 2.6 MB of floats from a file of ~10 KB.
        let bomb = zeroStrideViews(40)
        let limit = 4 * bomb.count + (1 << 20)
        let error = #expect(throws: WeightsError.self) { try PyTorchCheckpoint.decode(Data(bomb), name: "views.pt") }
        #expect(error?.description == "views.pt: refused: its tensors would take more than \(limit) bytes as float32 (the limit is 4 × the file's \(bomb.count) bytes + 1048576)")
    }

    // MARK: - Safetensors

    private func safetensors(_ header: String, payload: Int) -> Data {
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init)
        bytes += Array(header.utf8) + [UInt8](repeating: 0, count: payload)
        return Data(bytes)
    }

    private func safetensorsError(_ data: Data) -> String {
        do { _ = try SafeTensors.decode(data, name: "x.st"); return "accepted" } catch { return "\(error)" }
    }

    @Test func safetensorsHeaderLengthIsCheckedAgainstTheFileAndTheLimit() {
        var short = Data(withUnsafeBytes(of: UInt64(1000).littleEndian, Array.init))
        short += Data(repeating: 0x20, count: 12)
        #expect(safetensorsError(short) == "x.st: safetensors header length 1000 exceeds the file size 20")
        // 100 MB of zero pages (never touched): only the length field is read.
        var huge = Data(count: 100_000_016)
        huge.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(100_000_001).littleEndian, Array.init))
        #expect(safetensorsError(huge) == "x.st: safetensors header length 100000001 is over the limit of 100000000 bytes")
    }

    @Test func safetensorsOffsetsMustBeInRangeAndMatchDtypeTimesShape() {
        let beyond = safetensors(#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, payload: 4)
        #expect(safetensorsError(beyond) == "x.st: tensor 'x' offsets 0..<16 do not fit shape [4] of F32 in 4 data bytes")
        let mismatch = safetensors(#"{"x":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#, payload: 8)
        #expect(safetensorsError(mismatch) == "x.st: tensor 'x' offsets 0..<8 do not fit shape [3] of F16 in 8 data bytes")
        // A shape whose product overflows Int is refused the same way, without trapping.
        let overflow = safetensors(#"{"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#, payload: 16)
        #expect(safetensorsError(overflow) == "x.st: tensor 'x' offsets 0..<16 do not fit shape [4611686018427387904, 4] of F32 in 16 data bytes")
    }

    @Test func safetensorsTensorsMayNotOverlap() throws {
        let overlap = safetensors(#"{"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, payload: 24)
        #expect(safetensorsError(overlap) == "x.st: tensors 'a' (bytes 0..<16) and 'b' (bytes 8..<24) overlap; each tensor must have its own bytes")
        let apart = safetensors(#"{"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}"#, payload: 16)
        #expect(try SafeTensors.decode(apart).count == 3)
    }

    // MARK: - Zip

    private func le16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
    private func le32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
    private func le64(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(v).littleEndian, Array.init) }

    /// A stored zip of `members`; `localSize` replaces a member's size in its local header.
    private func storedZip(_ members: [(name: String, data: [UInt8])], localSize: [String: Int] = [:]) -> Data {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for m in members {
            let offset = out.count
            let name = Array(m.name.utf8)
            let local = localSize[m.name] ?? m.data.count
            out += le32(0x0403_4b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0)
            out += le32(local) + le32(local) + le16(name.count) + le16(0) + name + m.data
            central += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0)
            central += le32(m.data.count) + le32(m.data.count) + le16(name.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0)
            central += le32(offset) + name
        }
        let cdOffset = out.count
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(members.count) + le16(members.count)
        out += le32(central.count) + le32(cdOffset) + le16(0)
        return Data(out)
    }

    private func zipError(_ data: Data) -> String {
        do { _ = try StoredZipArchive(data, name: "x.pt"); return "accepted" } catch { return "\(error)" }
    }

    @Test func zipEntryCountIsLimited() {
        // A ZIP64 directory that claims 100001 entries (room for them: 46 bytes each).
        let count = 100_001
        var b = [UInt8](repeating: 0, count: count * 46)
        let z = b.count
        b += le32(0x0606_4b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0) + le64(count) + le64(count)
        b += le64(count * 46) + le64(0)
        b += le32(0x0706_4b50) + le32(0) + le64(z) + le32(1)
        b += le32(0x0605_4b50) + le16(0) + le16(0) + le16(0xFFFF) + le16(0xFFFF) + le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(0)
        #expect(zipError(Data(b)) == "x.pt: zip declares 100001 entries; a checkpoint may have at most 100000")
    }

    @Test func zipNamesThatEscapeAFolderAreRefused() throws {
        #expect(zipError(storedZip([("archive/../evil", [1])])) == "x.pt: zip entry name 'archive/../evil' is absolute or contains '..'; refused")
        #expect(zipError(storedZip([("/etc/passwd", [1])])) == "x.pt: zip entry name '/etc/passwd' is absolute or contains '..'; refused")
        #expect(zipError(storedZip([("a/b", [1]), ("a/b", [2])])) == "x.pt: zip entry 'a/b' appears twice; refused")
        let fine = try StoredZipArchive(storedZip([("archive/data..pkl", [1, 2]), ("archive/x", [])]), name: "x.pt")
        #expect(fine.entries["archive/data..pkl"]?.dataRange == 47..<49)
    }

    @Test func zipDeclaredSizesMustAgreeAndFitTheFile() {
        #expect(zipError(storedZip([("a/data.pkl", [1, 2, 3, 4])], localSize: ["a/data.pkl": 5]))
                == "x.pt: zip entry 'a/data.pkl' declares 5 bytes in its local header but 4 in the central directory")
        // Central directory and local header agree on 1000 bytes that the file does not have.
        var b = [UInt8](storedZip([("a", [1, 2, 3, 4])], localSize: ["a": 1000]))
        let cd = 30 + 1 + 4
        b.replaceSubrange((cd + 20)..<(cd + 28), with: le32(1000) + le32(1000))
        #expect(zipError(Data(b)) == "x.pt: zip entry 'a' (1000 bytes at 31) extends beyond the file's \(b.count) bytes")
    }

    // MARK: - CSV tables

    private func csvError(_ text: String) -> String {
        do { _ = try CSVTable.parse(text, path: "t.csv"); return "accepted" } catch { return "\(error)" }
    }

    @Test func csvRowLengthIsLimited() {
        #expect(csvError("a\n" + String(repeating: "x", count: 65536) + "\n") == "accepted")
        #expect(csvError("a\n" + String(repeating: "x", count: 65537) + "\n")
                == "t.csv:2: row longer than 65536 characters; a labels file may have at most 65536 per row")
        // An unterminated quote stops at the limit, not at the end of the file.
        #expect(csvError("a\n\"" + String(repeating: "x\n", count: 40000))
                == "t.csv:2: row longer than 65536 characters; a labels file may have at most 65536 per row")
    }

    @Test func csvColumnCountIsLimited() {
        #expect(csvError((0..<1024).map(String.init).joined(separator: ",") + "\n") == "accepted")
        #expect(csvError((0..<1025).map(String.init).joined(separator: ",") + "\n")
                == "t.csv:1: more than 1024 columns; a labels file may have at most 1024")
    }

    @Test func csvFileSizeIsLimited() throws {
        let t = try TempTree("csv-limit")
        try t.text("big.csv", "a,b\n")
        let handle = try FileHandle(forWritingTo: t.url("big.csv"))
        try handle.truncate(atOffset: UInt64(256 << 20) + 1)  // sparse: no disk space used
        try handle.close()
        #expect(throws: DatasetError("\(t.url("big.csv").path): CSV file has 268435457 bytes; a labels file may have at most 268435456 bytes")) {
            try CSVTable.read(t.url("big.csv"))
        }
    }

    // MARK: - Image batches

    /// Eight PNGs that each declare 10000×10000 pixels (at the per-image limit of 10⁸):
    /// 3 × 10⁸ bytes each, so the 8th takes the batch to 2.4 × 10⁹ > 2³¹. Refused from
    /// the headers, before any of them is decoded.
    @Test func batchDecodedBytesAreLimited() throws {
        let t = try TempTree("batch-limit")
        var png = try ImagingFixtures.bytes("rgb8.png")
        ImagingMalformedTests.setBigEndian32(&png, at: 16, 10_000)
        ImagingMalformedTests.setBigEndian32(&png, at: 20, 10_000)
        ImagingMalformedTests.fixCRC(&png, chunkAt: 8)
        var urls: [URL] = []
        for i in 0..<8 {
            try Data(png).write(to: t.url("big\(i).png"))
            urls.append(t.url("big\(i).png"))
        }
        var batches = try PreprocessedBatches(urls: urls, batchSize: 8, preprocessor: try Preprocessor(resize: 16, crop: 12))
        let error = #expect(throws: PreprocessingError.self) { try batches.next() }
        #expect(error?.message == "\(urls[7].path): images 1…8 of the batch decode to 2400000000 bytes (this one 10000×10000), over the limit of 2147483648 bytes per batch; lower batch_size")
    }
}
