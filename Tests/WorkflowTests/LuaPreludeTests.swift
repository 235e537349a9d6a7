import Foundation
import Testing
@testable import Workflow

/// `funad.params`: the parameter checker every plugin uses, against hand-written cases.
@Suite struct LuaPreludeTests {
    static let script = """
    function check(given)
      local p = funad.params(given, {
        keep = {default = 0.5, above = 0, max = 1},
        n = {default = 1, type = "integer", min = 1},
        mode = {default = "loss", values = {"loss", "bank"}},
        flag = {default = false},
      })
      return {p.keep, p.n, p.mode, p.flag}
    end
    """

    func call(_ given: LuaValue) throws -> LuaValue {
        let s = try LuaScript(source: Self.script, chunkName: "plugins/p.lua", site: LuaCallSite(role: "hook test", stage: "s"))
        return try s.call("check", [.value(given)], seed: 0)
    }

    func message(_ given: [String: LuaValue]) -> String {
        do { _ = try call(.table(LuaTable(fields: given))); return "no error" } catch { return "\(error)" }
    }

    @Test func defaultsAndConversions() throws {
        #expect(try call(.nil) == .table(LuaTable(array: [.number(0.5), .integer(1), .string("loss"), .boolean(false)])))
        // Text from --set or ${VAR} is converted to the declared type.
        let given = LuaTable(fields: ["keep": .string("0.25"), "n": .string("3"), "mode": .string("bank"), "flag": .string("true")])
        #expect(try call(.table(given)) == .table(LuaTable(array: [.number(0.25), .integer(3), .string("bank"), .boolean(true)])))
    }

    @Test func errorsNameTheCallersLineAndWhatWasExpected() {
        let site = "[hook test, stage s]"
        #expect(message(["keep": .integer(2)]) == "plugins/p.lua:2: keep must be in (0, 1], got 2 \(site)")
        #expect(message(["keep": .integer(0)]) == "plugins/p.lua:2: keep must be in (0, 1], got 0 \(site)")
        #expect(message(["n": .number(1.5)]) == "plugins/p.lua:2: n must be an integer, got 1.5 \(site)")
        #expect(message(["n": .integer(0)]) == "plugins/p.lua:2: n must be >= 1, got 0 \(site)")
        #expect(message(["mode": .string("time")]) == "plugins/p.lua:2: mode must be one of \"loss\", \"bank\", got \"time\" \(site)")
        #expect(message(["keep": .string("x")]) == "plugins/p.lua:2: keep must be a finite number, got \"x\" \(site)")
        #expect(message(["flag": .integer(1)]) == "plugins/p.lua:2: flag must be true or false, got 1 \(site)")
        #expect(message(["kep": .integer(1), "zz": .integer(2)]) == "plugins/p.lua:2: unknown parameter kep, zz (known: flag, keep, mode, n) \(site)")
    }

    /// The prelude is library code: it is not one of the script's own functions.
    @Test func preludeIsNotAScriptFunction() throws {
        let s = try LuaScript(source: Self.script, chunkName: "plugins/p.lua", site: LuaCallSite(role: "hook test", stage: "s"))
        #expect(s.globalFunctionNames == ["check"])
    }
}
