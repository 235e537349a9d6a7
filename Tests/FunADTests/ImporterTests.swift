import Foundation
import Testing
@testable import FunAD

/// Fixtures made by scripts/fixtures/checkpoints.py (torch.save of seeded tensors).
enum ImporterFixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("importer/\(name)")
    }
}

@Suite struct ImporterTests {
    /// The reader must reproduce PyTorch's values exactly: float16/bfloat16 widen to Float
    /// without rounding, and a strided gather copies values, so the tolerance is zero.
    @Test(arguments: ["flat_zip.pt", "flat_legacy.pt"])
    func flatStateDictMatchesPyTorch(file: String) throws {
        let contents = try PyTorchCheckpoint.load(ImporterFixtures.url(file))
        let expected = try SafeTensors.read(ImporterFixtures.url("flat_expected.safetensors"))
        #expect(Set(contents.tensors.keys) == Set(expected.keys))
        for (key, want) in expected {
            #expect(contents.tensors[key] == want, "\(file): tensor \(key)")
        }
        // The transposed and sliced views keep their logical shapes.
        #expect(contents.tensors["proj.weight_t"]?.shape == [5, 3])
        #expect(contents.tensors["slice"]?.shape == [3, 3])
        #expect(contents.tensors["scalar"] == WeightTensor(shape: [], values: [2.5]))
        // num_batches_tracked is an int64 tensor: skipped, with a note that names it.
        #expect(contents.tensors["bn.num_batches_tracked"] == nil)
        #expect(contents.notes.contains { $0.contains("bn.num_batches_tracked") })
    }

    @Test(arguments: ["nested_zip.pt", "nested_legacy.pt"])
    func nestedCheckpointFlattensAndSelectsPrefix(file: String) throws {
        let url = ImporterFixtures.url(file)
        let expected = try SafeTensors.read(ImporterFixtures.url("nested_expected.safetensors"))
        let all = try PyTorchCheckpoint.read(url)
        #expect(all == expected)
        let teacher = try PyTorchCheckpoint.read(url, prefix: "teacher.backbone.")
        #expect(Set(teacher.keys) == ["w", "b"])
        #expect(teacher["w"] == expected["teacher.backbone.w"])
        #expect(teacher["b"] == expected["teacher.backbone.b"])
        let error = #expect(throws: WeightsError.self) { try PyTorchCheckpoint.read(url, prefix: "model.") }
        #expect(error?.description.contains("no tensor name starts with prefix 'model.'") == true)
        #expect(error?.description.contains("student, teacher") == true)
    }

    /// A DINO-style full training checkpoint: weights under 'teacher'/'student', an optimizer
    /// state with int keys, and the command line as an argparse.Namespace (kept inert).
    @Test func fullTrainingCheckpointSelectsTheTeacherBackbone() throws {
        let url = ImporterFixtures.url("dino_full_zip.pt")
        let expected = try SafeTensors.read(ImporterFixtures.url("nested_expected.safetensors"))
        let teacher = try PyTorchCheckpoint.read(url, prefix: "teacher.backbone.")
        #expect(teacher == ["w": expected["teacher.backbone.w"]!, "b": expected["teacher.backbone.b"]!])
        let all = try PyTorchCheckpoint.load(url)
        #expect(all.tensors["optimizer.state.0.exp_avg"]?.shape == [2])
        #expect(all.tensors["student.backbone.w"] == expected["student.backbone.w"])
        #expect(all.notes.contains { $0.hasPrefix("ignored ") && $0.hasSuffix("non-tensor value(s)") })
    }

    @Test func refusesNewObjOnAnythingButInertClasses() {
        // collections.OrderedDict is allowed for REDUCE but NEWOBJ must not instantiate it.
        let p: [UInt8] = [0x80, 0x02] + Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x81, 0x2e]
        let error = #expect(throws: WeightsError.self) { try PyTorchCheckpoint.decode(Data(p), name: "n.pt") }
        #expect(error?.description == "n.pt: refused: NEWOBJ on global 'collections OrderedDict'; only inert data classes may be instantiated (at byte 28)")
    }

    /// Central-directory sizes and offsets through the ZIP64 extra field, ZIP64 end records.
    @Test func zip64ArchiveReads() throws {
        let got = try PyTorchCheckpoint.read(ImporterFixtures.url("zip64_zip.pt"))
        #expect(got == (try SafeTensors.read(ImporterFixtures.url("zip64_expected.safetensors"))))
    }

    @Test func realEfficientNetLite0CheckpointIfInstalled() throws {
        guard let url = EfficientNetFixtures.pypiWeights else { return }
        let contents = try PyTorchCheckpoint.load(url)
        // 296 entries: 247 float tensors and 49 num_batches_tracked (int64), per torch.load.
        #expect(contents.tensors.count == 247)
        #expect(contents.tensors["_conv_stem.weight"]?.shape == [32, 3, 3, 3])
        #expect(contents.tensors["_fc.weight"]?.shape == [1000, 1280])
        #expect(contents.notes.first?.hasPrefix("skipped 49 integer tensor(s)") == true)
    }

    @Test func refusesOsSystemInAZipCheckpoint() throws {
        let url = ImporterFixtures.url("hostile_global_zip.pt")
        let error = #expect(throws: WeightsError.self) { try PyTorchCheckpoint.read(url) }
        let text = error?.description ?? ""
        #expect(text.contains("hostile_global_zip.pt"))
        #expect(text.contains("refused: global 'os system' is not allowed in a weights file (opcode GLOBAL)"))
        #expect(text.contains("(at byte 2)"))
    }

    @Test func refusesStorageShorterThanDeclared() throws {
        let error = #expect(throws: WeightsError.self) { try PyTorchCheckpoint.read(ImporterFixtures.url("short_storage_zip.pt")) }
        #expect(error?.description.contains("declares 4 elements but holds 6 bytes") == true)
    }

    @Test func refusesCompressedZipMembers() throws {
        let error = #expect(throws: WeightsError.self) { try PyTorchCheckpoint.read(ImporterFixtures.url("deflated_zip.pt")) }
        #expect(error?.description.contains("uses compression method 8") == true)
    }

    /// Every prefix of a valid file must be refused with an error, never a crash.
    @Test(arguments: ["flat_zip.pt", "flat_legacy.pt", "nested_legacy.pt"])
    func truncatedFilesAreRefused(file: String) throws {
        let data = try Data(contentsOf: ImporterFixtures.url(file))
        var cuts = Array(stride(from: 0, to: data.count, by: max(1, data.count / 97)))
        cuts += [1, 2, 3, 10, 11, data.count - 1, data.count - 8, data.count - 22]
        for cut in cuts where cut >= 0 && cut < data.count {
            #expect(throws: WeightsError.self, "\(file) cut at \(cut)") {
                try PyTorchCheckpoint.decode(data.prefix(cut), name: "cut")
            }
        }
    }

    /// Seeded random byte corruptions: each file must either load or be refused with a
    /// WeightsError; anything else (a crash, another error type) fails the run.
    @Test(arguments: ["flat_zip.pt", "flat_legacy.pt", "dino_full_zip.pt", "zip64_zip.pt"])
    func corruptedFilesNeverCrash(file: String) throws {
        let data = try Data(contentsOf: ImporterFixtures.url(file))
        var state: UInt64 = 0x5EED
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        var refused = 0
        for _ in 0..<2000 {
            var bytes = [UInt8](data)
            for _ in 0...next(4) { bytes[next(bytes.count)] = UInt8(next(256)) }
            do { _ = try PyTorchCheckpoint.decode(Data(bytes), name: "fuzz") } catch is WeightsError { refused += 1 }
        }
        #expect(refused > 0)
    }

    @Test func refusesForeignFiles() {
        let error = #expect(throws: WeightsError.self) { try PyTorchCheckpoint.decode(Data("hello".utf8), name: "x.txt") }
        #expect(error?.description == "x.txt: not a PyTorch checkpoint (neither a zip archive nor a pickle)")
    }
}

/// Hand-assembled pickles: each targets one rule of the restricted unpickler.
@Suite struct UnpicklerTests {
    private func unpickle(_ bytes: [UInt8]) throws -> (PickleValue, PickleArena) {
        try bytes.withUnsafeBytes { raw in
            var u = RestrictedUnpickler(name: "t.pkl", bytes: raw)
            let v = try u.load()
            return (v, u.arena)
        }
    }

    private func refusal(_ bytes: [UInt8]) -> String {
        do { _ = try unpickle(bytes); return "accepted" } catch { return "\(error)" }
    }

    private func str(_ s: String) -> [UInt8] {
        [0x58] + withUnsafeBytes(of: UInt32(s.utf8.count).littleEndian, Array.init) + Array(s.utf8)
    }

    @Test func readsPlainValuesAndMemo() throws {
        // {'a': 1, 'b': [True, None, -2, 1.5, 'a']} with the key 'a' memoised and re-read.
        var p: [UInt8] = [0x80, 0x02, 0x7d, 0x71, 0x00, 0x28]
        p += str("a") + [0x71, 0x01, 0x4b, 0x01]
        p += str("b") + [0x5d, 0x28, 0x88, 0x4e, 0x4a] + withUnsafeBytes(of: Int32(-2).littleEndian, Array.init)
        p += [0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]   // BINFLOAT 1.5, big-endian
        p += [0x68, 0x01, 0x65, 0x75, 0x2e]         // BINGET 1, APPENDS, SETITEMS, STOP
        let (v, arena) = try unpickle(p)
        guard case .dict(let d) = v else { Issue.record("not a dict"); return }
        let entries = arena.dicts[d].entries
        #expect(entries.count == 2)
        guard case .int(1) = entries[0].value, case .list(let l) = entries[1].value else { Issue.record("wrong values"); return }
        let items = arena.lists[l]
        #expect(items.count == 5)
        if case .bool(true) = items[0], case .none = items[1], case .int(-2) = items[2], case .float(1.5) = items[3],
           case .string("a") = items[4] {} else { Issue.record("list items \(items.map(\.kindName))") }
    }

    @Test func refusesReduceOnBuiltinsEval() {
        let p: [UInt8] = [0x80, 0x02] + Array("cbuiltins\neval\n".utf8) + [0x28] + str("1+1") + [0x74, 0x52, 0x2e]
        #expect(refusal(p) == "t.pkl: refused: global 'builtins eval' is not allowed in a weights file (opcode GLOBAL) (at byte 2)")
    }

    @Test func refusesStackGlobalOsSystem() {
        let p: [UInt8] = [0x80, 0x04, 0x8c, 0x02] + Array("os".utf8) + [0x8c, 0x06] + Array("system".utf8) + [0x93, 0x2e]
        #expect(refusal(p) == "t.pkl: refused: global 'os system' is not allowed in a weights file (opcode STACK_GLOBAL) (at byte 14)")
    }

    @Test func refusesReduceOnANonCallable() {
        // torch.FloatStorage is allowed as a storage type inside a persistent id, not as a callable.
        let p: [UInt8] = [0x80, 0x02] + Array("ctorch\nFloatStorage\n".utf8) + [0x29, 0x52, 0x2e]
        #expect(refusal(p) == "t.pkl: refused: REDUCE on global 'torch FloatStorage', which is not a callable allowed in a weights file (at byte 23)")
    }

    @Test func refusesUnsupportedOpcodes() {
        // INST (0x69) would construct an arbitrary class.
        #expect(refusal([0x80, 0x02, 0x69]) == "t.pkl: refused: pickle opcode 0x69 (INST) is not allowed in a weights file (at byte 2)")
        #expect(refusal([0x80, 0x02, 0x92]) == "t.pkl: refused: pickle opcode 0x92 (NEWOBJ_EX) is not allowed in a weights file (at byte 2)")
    }

    @Test func refusesMemoIndexOutOfRange() {
        #expect(refusal([0x80, 0x02, 0x68, 0x05, 0x2e]) == "t.pkl: malformed pickle: memo index 5 was never stored (at byte 2)")
        #expect(refusal([0x80, 0x02, 0x4e, 0x72, 0xff, 0xff, 0xff, 0x7f, 0x2e])
                == "t.pkl: refused: memo index 2147483647 out of range 0..<1048576 (at byte 3)")
    }

    @Test func refusesDeepMarkNesting() {
        let p: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x28, count: 5000) + [0x2e]
        #expect(refusal(p) == "t.pkl: refused: more than 4096 nested MARKs (at byte 4098)")
    }

    /// 200 000 nested 1-tuples: values live in an arena, so neither building nor freeing
    /// them recurses; the checkpoint reader then refuses a non-dict top level.
    @Test func deepTupleChainDoesNotCrash() throws {
        let p: [UInt8] = [0x80, 0x02, 0x4e] + [UInt8](repeating: 0x85, count: 200_000) + [0x2e]
        let (v, _) = try unpickle(p)
        guard case .tuple = v else { Issue.record("expected a tuple"); return }
        let error = #expect(throws: WeightsError.self) { try PyTorchCheckpoint.decode(Data(legacyWrap(p)), name: "deep.pt") }
        #expect(error?.description == "deep.pt: top-level object is a tuple; expected a state dict")
    }

    @Test func refusesDictsNestedTooDeeply() {
        // {'k': {'k': {... 40 levels ...}}}: EMPTY_DICT, key, then the inner dict, SETITEM on the way out.
        var p: [UInt8] = [0x80, 0x02]
        for _ in 0..<40 { p += [0x7d] + str("k") }
        p += [0x7d]
        p += [UInt8](repeating: 0x73, count: 40) + [0x2e]
        let error = #expect(throws: WeightsError.self) { try PyTorchCheckpoint.decode(Data(legacyWrap(p)), name: "nest.pt") }
        #expect(error?.description.hasPrefix("nest.pt: refused: dicts nested deeper than 32 levels at 'k.k.k") == true)
    }

    @Test func refusesTruncatedString() {
        #expect(refusal([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61])
                == "t.pkl: truncated pickle: opcode BINUNICODE needs 2147483647 more bytes, 1 left (at byte 2)")
    }

    /// Wraps a main pickle in the legacy container: magic, protocol 1001, sys info, main, empty key list.
    private func legacyWrap(_ main: [UInt8]) -> [UInt8] {
        var b: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
        b += [0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e]
        b += [0x80, 0x02, 0x7d, 0x2e]
        b += main
        b += [0x80, 0x02, 0x5d, 0x2e]
        return b
    }
}
