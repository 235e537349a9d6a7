import Foundation
import Testing
@testable import Workflow

/// The embedded Lua host: funad helpers against hand/numpy-computed values, marshalling,
/// determinism, and every sandbox escape and limit failing with a clear message.
@Suite struct LuaTests {
    static let site = LuaCallSite(role: "hook test", stage: "s")
    /// Small limits keep the limit tests fast; the messages must quote them.
    static let small = LuaLimits(memoryBytes: 16 << 20, instructionsPerCall: 2_000_000)

    func script(_ source: String, limits: LuaLimits = LuaTests.small,
                print: @escaping (String) -> Void = { _ in }) throws -> LuaScript {
        try LuaScript(source: source, chunkName: "plugins/t.lua", limits: limits, site: Self.site, print: print)
    }

    /// The error message of `body`, or nil if it did not throw a LuaError.
    func message(_ body: () throws -> Any) -> String? {
        do { _ = try body(); return nil } catch let error as LuaError { return error.description } catch { return "\(error)" }
    }

    func numbers(_ value: LuaValue) -> [Double] {
        (value.tableValue?.array ?? []).compactMap(\.numberValue)
    }

    // MARK: funad helpers

    @Test func helpersMatchHandComputedValuesForVectorsAndTables() throws {
        let s = try script("""
        function stats(v)
          return {funad.min(v), funad.max(v), funad.sum(v), funad.mean(v), funad.std(v),
                  funad.quantile(v, 0.3), funad.quantile(v, 0.5), funad.quantile(v, 0.9),
                  funad.quantile(v, 0), funad.quantile(v, 1)}
        end
        """)
        // v = 1 2 3 4 10: sum 20, mean 4, deviations -3 -2 -1 0 6 → variance 50/5 = 10.
        // numpy "linear" quantiles: q·(n−1) = 1.2 → 2.2, 2 → 3, 3.6 → 4 + 0.6·6 = 7.6.
        let expected = [1, 10, 20, 4, 10.0.squareRoot(), 2.2, 3, 7.6, 1, 10]
        let floats: [Float] = [4, 10, 1, 3, 2]
        let fromVector = try floats.withUnsafeBufferPointer { try s.call("stats", [.vector($0)], seed: 0) }
        let fromTable = try s.call("stats", [.value(.table(LuaTable(array: [.integer(4), .number(10), .integer(1), .integer(3), .number(2)])))], seed: 0)
        for got in [numbers(fromVector), numbers(fromTable)] {
            #expect(got.count == expected.count)
            for (g, e) in zip(got, expected) { #expect(abs(g - e) < 1e-12, "\(got) vs \(expected)") }
        }
    }

    @Test func sortedHistogramAndOtsuFollowNumpyAndSkimage() throws {
        let s = try script("""
        function sorted(v) return funad.sorted(v) end
        function hist(v, bins) local c, e = funad.histogram(v, bins) return {counts = c, edges = e} end
        function otsu(v, bins) return funad.otsu(v, bins) end
        """)
        let table = { (xs: [Double]) in LuaValue.table(LuaTable(array: xs.map { .number($0) })) }
        #expect(numbers(try s.call("sorted", [.value(table([3, -1, 2.5, 0]))], seed: 0)) == [-1, 0, 2.5, 3])

        // numpy.histogram([1,2,3,4,10], 3): edges 1 4 7 10; 4 opens bin 2, 10 closes bin 3.
        let h = try s.call("hist", [.value(table([1, 2, 3, 4, 10])), .value(.integer(3))], seed: 0).tableValue
        #expect(h?.fields["counts"] == .table(LuaTable(array: [.integer(3), .integer(1), .integer(1)])))
        #expect(h.map { numbers(.table($0.fields["edges"]?.tableValue ?? LuaTable())) } == [1, 4, 7, 10])
        // All equal: numpy widens the range by ±0.5.
        let flat = try s.call("hist", [.value(table([5, 5, 5])), .value(.integer(2))], seed: 0).tableValue
        #expect(flat?.fields["counts"] == .table(LuaTable(array: [.integer(0), .integer(3)])))
        #expect(flat.map { numbers(.table($0.fields["edges"]?.tableValue ?? LuaTable())) } == [4.5, 5, 5.5])

        // Bimodal 1 1 2 2 2 | 9 9 10 10 10 with 9 unit bins: every split between the modes
        // separates 5 from 5 equally well; the first maximum is after the centre 2.5.
        #expect(try s.call("otsu", [.value(table([1, 1, 2, 2, 2, 9, 9, 10, 10, 10])), .value(.integer(9))], seed: 0) == .number(2.5))
        // skimage's formula run in numpy on this set with 10 bins gives the centre 0.325.
        let skewed: [Double] = [0.1, 0.2, 0.2, 0.3, 0.35, 0.8, 0.85, 0.9, 0.9, 1.0]
        let fromTable = try s.call("otsu", [.value(table(skewed)), .value(.integer(10))], seed: 0)
        #expect(abs((fromTable.numberValue ?? 0) - 0.325) < 1e-12)
        let floats = skewed.map { Float($0) } // float32 inputs move the edges by ~1e-8 only
        let fromVector = try floats.withUnsafeBufferPointer { try s.call("otsu", [.vector($0), .value(.integer(10))], seed: 0) }
        #expect(abs((fromVector.numberValue ?? 0) - 0.325) < 1e-6)
        #expect(try s.call("otsu", [.value(table([7, 7])), .value(.integer(4))], seed: 0) == .number(7))
    }

    @Test func emptyInputsAndBadArgumentsFailWithTheHelpersName() throws {
        let s = try script("""
        function mean() return funad.mean({}) end
        function sum() return funad.sum({}) end
        function quantile() return funad.quantile({1, 2}, 1.5) end
        function strings() return funad.max({1, "x"}) end
        function log_nan() funad.log("x", 0/0) end
        """)
        #expect(message { try s.call("mean", [], seed: 0) } == "plugins/t.lua:1: funad.mean: empty vector [hook test, stage s]")
        #expect(try s.call("sum", [], seed: 0) == .number(0))
        #expect(message { try s.call("quantile", [], seed: 0) }?.contains("funad.quantile: q must be in [0, 1]") == true)
        #expect(message { try s.call("strings", [], seed: 0) }?.contains("funad.max: element 2 is not a number (got string)") == true)
        #expect(message { try s.call("log_nan", [], seed: 0) }?.contains("funad.log: value for 'x' is not finite") == true)
    }

    @Test func logPrintAndVersionReachTheHost() throws {
        var printed: [String] = []
        let s = try script("""
        print("loaded", 1, nil)
        function go() funad.log("a", 1.5) funad.log("b", 2) print(funad.version) end
        """, print: { printed.append($0) })
        _ = try s.call("go", [], seed: 0)
        let logged = s.takeLoggedValues()
        #expect(logged.map(\.name) == ["a", "b"] && logged.map(\.value) == [1.5, 2])
        #expect(s.takeLoggedValues().isEmpty)
        #expect(printed == ["loaded\t1\tnil", "1"])
    }

    // MARK: calls and marshalling

    @Test func valuesRoundTripWithIntegersNumbersStringsAndNestedTables() throws {
        let s = try script("""
        function echo(x) return x end
        function describe(t)
          return {kind = math.type(t.n), sum = t.n + t.list[2], name = t.name .. "!", deep = t.a.b.c, ok = not t.flag}
        end
        """)
        let nested = LuaValue.table(LuaTable(array: [.integer(1), .number(2.5), .string("ü"), .boolean(true)],
                                             fields: ["inner": .table(LuaTable(fields: ["x": .integer(-3)]))]))
        #expect(try s.call("echo", [.value(nested)], seed: 0) == nested)
        #expect(try s.call("echo", [.value(.number(3))], seed: 0) == .number(3))
        #expect(try s.call("echo", [.value(.integer(3))], seed: 0) == .integer(3))
        #expect(try s.call("echo", [], seed: 0) == .nil)
        let arg = LuaValue.table(LuaTable(array: [], fields: [
            "n": .integer(2), "list": .table(LuaTable(array: [.integer(10), .integer(20)])), "name": .string("otsu"),
            "a": .table(LuaTable(fields: ["b": .table(LuaTable(fields: ["c": .number(0.5)]))])), "flag": .boolean(false)]))
        #expect(try s.call("describe", [.value(arg)], seed: 0) == .table(LuaTable(fields: [
            "kind": .string("integer"), "sum": .integer(22), "name": .string("otsu!"), "deep": .number(0.5), "ok": .boolean(true)])))
        #expect(LuaValue.number(4).intValue == 4 && LuaValue.number(4.5).intValue == nil && LuaValue.integer(2).numberValue == 2)
    }

    @Test func unusableResultsAreReportedAsReturnProblems() throws {
        let s = try script("""
        function fn() return print end
        function cyc() local t = {} t.self = t return t end
        function holes() return {1, 2, [5] = 3} end
        """)
        #expect(message { try s.call("fn", [], seed: 0) } == "plugins/t.lua: fn returned a function [hook test, stage s]")
        #expect(message { try s.call("cyc", [], seed: 0) }?.hasPrefix("plugins/t.lua: cyc returned a table nested more than 64 levels deep") == true)
        #expect(message { try s.call("holes", [], seed: 0) }?.contains("not a sequence 1..n (key 5)") == true)
        #expect(message { try s.call("missing", [], seed: 0) } == "plugins/t.lua: no global function 'missing' [hook test, stage s]")
    }

    @Test func sameSeedSameRandomsAndAReplacedRandomseedCannotBreakIt() throws {
        let s = try script("""
        function draw() return {math.random(), math.random(1, 1000000)} end
        function sabotage() math.randomseed = function() end end
        """)
        let a = try s.call("draw", [], seed: 42), b = try s.call("draw", [], seed: 42), c = try s.call("draw", [], seed: 43)
        #expect(a == b)
        #expect(a != c)
        #expect(numbers(a).count == 2)
        _ = try s.call("sabotage", [], seed: 0)
        #expect(try s.call("draw", [], seed: 42) == a)
        // Another state with the same seed draws the same values.
        #expect(try script("function draw() return {math.random(), math.random(1, 1000000)} end").call("draw", [], seed: 42) == a)
    }

    @Test func scriptStateIntrospection() throws {
        let s = try script("counter = 0\nfunction bump() counter = counter + 1 return counter end\nlocal function hidden() end\nfunction alpha() end")
        #expect(s.globalFunctionNames == ["alpha", "bump"])
        #expect(s.hasFunction("bump") && !s.hasFunction("hidden") && !s.hasFunction("counter"))
        #expect(try s.call("bump", [], seed: 0) == .integer(1))
        #expect(try s.call("bump", [], seed: 0) == .integer(2)) // globals persist between calls
    }

    // MARK: registered host functions

    struct Refused: Error, CustomStringConvertible { var description: String }

    @Test func registeredSwiftFunctionsGetArgumentsAndTheirErrorsSurface() throws {
        let s = try script("""
        function go(v) return funad.scale(v, 2) end
        function fail() local x = funad.refuse("why") return x end
        function vec() local v = host.make() return {#v, v[3], funad.sum(v)} end
        """)
        var seen: [[LuaValue]] = []
        s.register("funad", "scale") { args in
            seen.append(args)
            return .number((args[0].tableValue?.array.compactMap(\.numberValue).reduce(0, +) ?? 0) * (args[1].numberValue ?? 0))
        }
        s.register("funad", "refuse") { args in throw Refused(description: "refused: \(args[0].stringValue ?? "")") }
        s.register("host", "make") { _ in .vector([1, 2, 3.5]) }
        let floats: [Float] = [1, 2]
        #expect(try floats.withUnsafeBufferPointer { try s.call("go", [.vector($0)], seed: 0) } == .number(6))
        #expect(seen == [[.table(LuaTable(array: [.number(1), .number(2)])), .integer(2)]])
        #expect(message { try s.call("fail", [], seed: 0) } == "plugins/t.lua:2: refused: why [hook test, stage s]")
        #expect(try s.call("vec", [], seed: 0) == .table(LuaTable(array: [.integer(3), .number(3.5), .number(6.5)])))
        #expect(try s.call("go", [.value(.table(LuaTable(array: [.integer(5)])))], seed: 0) == .number(10)) // still works
        // A host function must not call back into the script that is running it.
        let reentry = try script("function r() host.reenter() end")
        reentry.register("host", "reenter") { [unowned reentry] _ in _ = try reentry.call("r", [], seed: 0); return .nil }
        #expect(message { try reentry.call("r", [], seed: 0) } == "plugins/t.lua:1: plugins/t.lua: r called while the script is already running a call [hook test, stage s] [hook test, stage s]")
    }

    // MARK: vectors

    @Test func vectorsAreReadOnlyBoundedAndDieWithTheirCall() throws {
        let s = try script("""
        function info(v) return {#v, v[1], v[3], tostring(v)} end
        function write(v) v[1] = 0 end
        function zero(v) return v[0] end
        function half(v) return v[1.5] end
        function meta(v) return getmetatable(v) end
        function keep(v) kept = v end
        function later() return kept[1] end
        function later_len() return #kept end
        function madeLater() return made[1] end
        function make() made = host.vector() return made[2] end
        function tablemeta() return getmetatable(setmetatable({}, {__index = {a = 1}})).__index.a end
        """)
        s.register("host", "vector") { _ in .vector([7, 8]) }
        let floats: [Float] = [0.5, -1, 2]
        try floats.withUnsafeBufferPointer { buffer in
            #expect(try s.call("info", [.vector(buffer)], seed: 0) == .table(LuaTable(array: [.integer(3), .number(0.5), .number(2), .string("vector(3)")])))
            #expect(message { try s.call("write", [.vector(buffer)], seed: 0) } == "plugins/t.lua:2: vectors are read-only [hook test, stage s]")
            #expect(message { try s.call("zero", [.vector(buffer)], seed: 0) } == "plugins/t.lua:3: vector index 0 out of range 1..3 [hook test, stage s]")
            #expect(message { try s.call("half", [.vector(buffer)], seed: 0) }?.contains("vector index 1.5 out of range 1..3") == true)
            #expect(message { try s.call("meta", [.vector(buffer)], seed: 0) } == "plugins/t.lua:5: getmetatable: vectors have no accessible metatable [hook test, stage s]")
            _ = try s.call("keep", [.vector(buffer)], seed: 0)
        }
        let stale = "vector used after the call that received it returned (copy what you need into a table during the call)"
        #expect(message { try s.call("later", [], seed: 0) } == "plugins/t.lua:7: \(stale) [hook test, stage s]")
        #expect(message { try s.call("later_len", [], seed: 0) }?.contains(stale) == true)
        let before = s.memoryInUse
        #expect(try s.call("make", [], seed: 0) == .number(8))
        #expect(message { try s.call("madeLater", [], seed: 0) }?.contains(stale) == true)
        #expect(s.memoryInUse <= before + 4096) // the copy was freed at invalidation
        #expect(try s.call("tablemeta", [], seed: 0) == .integer(1)) // getmetatable still works on tables
    }

    // MARK: sandbox escapes

    @Test func everyEscapeFailsClearlyAndDoesNothing() throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("funad-lua-escape-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let cases: [(String, String)] = [
            ("os.execute('touch \(marker)')", "attempt to index a nil value (global 'os')"),
            ("io.open('\(marker)', 'w')", "attempt to index a nil value (global 'io')"),
            ("require('os')", "attempt to call a nil value (global 'require')"),
            ("dofile('\(marker)')", "attempt to call a nil value (global 'dofile')"),
            ("loadfile('\(marker)')", "attempt to call a nil value (global 'loadfile')"),
            ("collectgarbage('stop')", "attempt to call a nil value (global 'collectgarbage')"),
            ("string.dump(print)", "attempt to call a nil value (field 'dump')"),
            ("debug.sethook()", "attempt to index a nil value (global 'debug')"),
            ("coroutine.create(print)", "attempt to index a nil value (global 'coroutine')"),
            ("package.loadlib('x', 'y')", "attempt to index a nil value (global 'package')"),
            ("assert(load('\\27Lua\\84\\0\\25\\147\\13\\10\\26\\10'))", "attempt to load a binary chunk (mode is 't')"),
            ("assert(load('\\27Lua\\84', 'x', 'b'))", "attempt to load a binary chunk (mode is 't')"),
        ]
        for (code, expected) in cases {
            let s = try script("function escape()\n  \(code)\nend")
            #expect(message { try s.call("escape", [], seed: 0) } == "plugins/t.lua:2: \(expected) [hook test, stage s]", "\(code)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
        // load of text still works, and sees the sandbox globals.
        let s = try script("x = 5\nfunction f() return load('return x + 1')() end")
        #expect(try s.call("f", [], seed: 0) == .integer(6))
    }

    @Test func binaryChunksAndSyntaxErrorsAreRefusedAtLoad() {
        #expect(message { try script("\u{1B}Lua\u{54}\u{00}junk") } == "plugins/t.lua: attempt to load a binary chunk (mode is 't') [hook test, stage s]")
        #expect(message { try script("local a\nfunction f()\n  a = = 1\nend") } == "plugins/t.lua:3: unexpected symbol near '=' [hook test, stage s]")
        #expect(message { try script("x = {}\nlocal y = x.a.b") } == "plugins/t.lua:2: attempt to index a nil value (field 'a') [hook test, stage s]")
    }

    // MARK: limits

    @Test func instructionLimitStopsLoopsEvenInsidePcall() throws {
        let expected = "plugins/t.lua: instruction limit of 2000000 per call exceeded (raise with lua.instructions) [hook test, stage s]"
        let s = try script("""
        function spin() while true do end end
        function sneaky() while true do pcall(function() while true do end end) end end
        function sneakyx() while true do xpcall(function() while true do end end, function(e) return e end) end end
        function sneakyload() while true do load(function() while true do end end) end end
        function ok() local n = 0 for i = 1, 1000 do n = n + i end return n end
        """)
        for name in ["spin", "sneaky", "sneakyx", "sneakyload"] {
            #expect(message { try s.call(name, [], seed: 0) } == expected, "\(name)")
            #expect(try s.call("ok", [], seed: 0) == .integer(500500)) // counter reset per call
        }
        #expect(message { try script("while true do end") } == expected) // the top level is limited too
    }

    @Test func memoryLimitStopsAllocationsEvenInsidePcall() throws {
        let expected = "plugins/t.lua: memory limit of 16 MiB exceeded (raise with lua.memory_mb) [hook test, stage s]"
        let s = try script("""
        function rep() return #string.rep("x", 1 << 30) end
        function fill() local t = {} for i = 1, 1e9 do t[i] = i end end
        function sneaky() while true do pcall(string.rep, "x", 1 << 30) end end
        function huge() return #string.rep("x", 1 << 33) end
        function sneakyfill() local keep = {} while true do pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end) end end
        function ok() local t = {} for i = 1, 1000 do t[i] = i end return #t end
        """, limits: LuaLimits(memoryBytes: 16 << 20, instructionsPerCall: 500_000_000))
        for name in ["rep", "fill", "sneaky", "sneakyfill"] {
            #expect(message { try s.call(name, [], seed: 0) } == expected, "\(name)")
            #expect(s.memoryInUse <= 16 << 20)
            #expect(try s.call("ok", [], seed: 0) == .integer(1000)) // usable again
        }
        // Lua 5.4 refuses a string over 2 GiB before allocating anything.
        #expect(message { try s.call("huge", [], seed: 0) } == "plugins/t.lua:4: resulting string too large [hook test, stage s]")
    }

    @Test func garbageAloneDoesNotHitTheMemoryLimit() throws {
        // ~4 MiB of live data churned many times over: the emergency collection Lua runs on
        // a refused allocation must let the script carry on.
        let s = try script("""
        function churn()
          local total = 0
          for round = 1, 40 do
            local t = {} for i = 1, 100000 do t[i] = i * 1.5 end
            total = total + #t
          end
          return total
        end
        """, limits: LuaLimits(memoryBytes: 8 << 20, instructionsPerCall: 100_000_000))
        #expect(try s.call("churn", [], seed: 0) == .integer(4_000_000))
        #expect(s.memoryInUse <= 8 << 20)
    }

    // MARK: script files

    /// A hook names a file; before anything runs the file must be small UTF-8 text. A
    /// sparse file one byte over the limit is refused by its size without being read.
    @Test func hookScriptFilesAreCheckedBeforeTheyAreRead() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lua-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let big = dir.appendingPathComponent("big.lua").path
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: big))
        try handle.truncate(atOffset: UInt64(1 << 20) + 1)
        try handle.close()
        #expect(LuaHookCheck.problem(scriptAt: big, hook: "h", stage: "s")
                == "\(big): 1048577 bytes; a Lua script may have at most 1048576 bytes")

        let binary = dir.appendingPathComponent("binary.lua").path
        #expect(FileManager.default.createFile(atPath: binary, contents: Data([0x66, 0xff, 0xfe, 0x00])))
        #expect(LuaHookCheck.problem(scriptAt: binary, hook: "h", stage: "s")
                == "\(binary): not UTF-8 text (Lua scripts are loaded as text only)")

        let missing = dir.appendingPathComponent("missing.lua").path
        #expect(LuaHookCheck.problem(scriptAt: missing, hook: "h", stage: "s") == "\(missing): cannot read the file")

        let good = dir.appendingPathComponent("good.lua").path
        #expect(FileManager.default.createFile(atPath: good, contents: Data("function h() return 1 end\n".utf8)))
        #expect(LuaHookCheck.problem(scriptAt: good, hook: "h", stage: "s") == nil)
    }
}
