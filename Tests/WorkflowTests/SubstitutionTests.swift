import Foundation
import Testing
@testable import Workflow
import WorkflowTestSupport

@Suite struct SubstitutionTests {
    let workflow = """
    name: subst
    vars: {COUNT: "3", LABEL: base}
    stages:
      a:
        type: emit
        with:
          value: ${COUNT}
          label: "${LABEL}-${SUFFIX:-none}-$${literal}"
          ratio: "${RATIO:-0.25}"
          options:
            seed: ${SEED:-7}
    """

    @Test func fileDefaultsAndFallbacks() throws {
        let s = Scratch()
        let wf = try s.session().load(s.write("w.yaml", workflow))
        let p = wf.stage(named: "a")!.parameters
        #expect(p["value"] == .int(3))  // an unquoted ${COUNT} is read as YAML would read "3"
        #expect(p["label"] == .string("base-none-${literal}"))
        #expect(p["ratio"] == .double(0.25))  // a quoted whole reference is read as its value
        #expect(p.int("options.seed") == 7)
        #expect(wf.spec.variables == ["COUNT": "3", "LABEL": "base"])
    }

    @Test func environmentBeatsFileAndCommandLineBeatsEnvironment() throws {
        let s = Scratch()
        let path = s.write("w.yaml", workflow)
        let env = ["COUNT": "5", "SUFFIX": "env", "SEED": "11"]
        let fromEnv = try s.session(environment: env).load(path)
        #expect(fromEnv.stage(named: "a")!.parameters["value"] == .int(5))
        #expect(fromEnv.stage(named: "a")!.parameters["label"] == .string("base-env-${literal}"))
        let fromCLI = try s.session(environment: env).load(path, settings: ["COUNT=9", "SUFFIX=cli"])
        #expect(fromCLI.stage(named: "a")!.parameters["value"] == .int(9))
        #expect(fromCLI.stage(named: "a")!.parameters["label"] == .string("base-cli-${literal}"))
        #expect(fromCLI.stage(named: "a")!.parameters.int("options.seed") == 11)
    }

    @Test func setOverridesStageParametersIncludingNestedOnes() throws {
        let s = Scratch()
        let wf = try s.session().load(s.write("w.yaml", workflow), settings: ["a.value=42", "a.options.overlap=true", "a.mode=exact"])
        let p = wf.stage(named: "a")!.parameters
        #expect(p["value"] == .int(42))
        #expect(p.bool("options.overlap") == true)
        #expect(p.int("options.seed") == 7)  // untouched sibling keeps its value
        #expect(p["mode"] == .string("exact"))
    }

    @Test func badOverridesAreDiagnosed() throws {
        let s = Scratch()
        let path = s.write("w.yaml", workflow)
        #expect(throws: DiagnosticList.self) { try s.session().load(path, settings: ["novalue"]) }
        do { _ = try s.session().load(path, settings: ["b.value=1"]) } catch let list as DiagnosticList {
            #expect(list.description == "error: --set b.value=1: no stage named 'b'")
        }
        do { _ = try s.session().load(path, settings: ["a.value=many"]) } catch let list as DiagnosticList {
            #expect(list.description == "error: <command line>:1:1: stage 'a', field 'with.value': expected integer, found the string 'many'")
        }
    }

    /// A --set variable nothing in the file reads is refused (it would change nothing: a
    /// misspelt name, or another workflow's variable); names read only by a `vars:` value
    /// or only through a ${NAME:-fallback} count as read, even where the value is overridden.
    @Test func setVariablesTheWorkflowDoesNotReadAreRefused() throws {
        let s = Scratch()
        let path = s.write("w.yaml", workflow)
        #expect(diagnostics { try s.session().load(path, settings: ["COUNTS=4", "a.value=2", "SEED=3"]) }
                == "error: --set COUNTS=4: the workflow reads no variable 'COUNTS' (did you mean 'COUNT'?); its variables: COUNT, LABEL, RATIO, SEED, SUFFIX (a stage parameter is set as stage.param=value)")
        let fromVars = s.write("v.yaml", emitting(#"W: "${ROOT:-/data}/w.bin""#, label: "${W}"))
        #expect(try s.session().load(fromVars, settings: ["ROOT=/x"]).stage(named: "a")!.parameters["label"] == .string("/x/w.bin"))
        #expect(try s.session().load(fromVars, settings: ["W=/y", "ROOT=/x"]).stage(named: "a")!.parameters["label"] == .string("/y"))
        let none = s.write("n.yaml", "name: n\nstages:\n  a: {type: emit, with: {value: 1}}\n")
        #expect(diagnostics { try s.session().load(none, settings: ["X=1"]) }
                == "error: --set X=1: the workflow reads no variable 'X'; it reads none (a stage parameter is set as stage.param=value)")
    }

    /// The message of the DiagnosticList `body` throws; records an issue when it does not throw.
    func diagnostics(_ body: () throws -> Any) -> String {
        do { _ = try body() } catch let list as DiagnosticList { return list.description } catch { return "\(error)" }
        Issue.record("expected the workflow to be refused")
        return ""
    }

    func emitting(_ vars: String, label: String) -> String {
        "name: v\nvars: {\(vars)}\nstages:\n  a:\n    type: emit\n    with: {value: 1, label: \"\(label)\"}\n"
    }

    @Test func fileVariablesMayUseOtherVariables() throws {
        let s = Scratch()
        let path = s.write("w.yaml", emitting(#"W: "${ROOT}/w.bin", ROOT: /data, N: "${M:-4}x${W}""#, label: "${N}"))
        let wf = try s.session().load(path)
        #expect(wf.stage(named: "a")!.parameters["label"] == .string("4x/data/w.bin"))
        #expect(wf.spec.variables == ["ROOT": "/data", "W": "/data/w.bin", "N": "4x/data/w.bin"])
        // The command line and the environment take part; their own values are used as given.
        let set = try s.session(environment: ["M": "env"]).load(path, settings: ["ROOT=/x"])
        #expect(set.stage(named: "a")!.parameters["label"] == .string("envx/x/w.bin"))
        let literal = try s.session(environment: ["M": "env"]).load(path, settings: ["ROOT=/x", "M=${ROOT}"])
        #expect(literal.stage(named: "a")!.parameters["label"] == .string("${ROOT}x/x/w.bin"))
    }

    @Test func cyclesAndDeepChainsOfVariablesAreRefused() throws {
        let s = Scratch()
        let cycle = s.write("c.yaml", emitting(#"A: "x${B}", B: "${A}", C: "${A}""#, label: "${C}"))
        #expect(diagnostics { try s.session().load(cycle) } == """
            error: \(cycle):2:11: field 'vars.A': variables refer to each other in a cycle: A → B → A; a variable cannot depend on itself
            error: \(cycle):6:29: stage 'a': variable 'C' cannot be expanded; see the error under vars
            """)
        let itself = s.write("i.yaml", emitting(#"A: "${A}""#, label: "ok"))
        #expect(diagnostics { try s.session().load(itself) }.contains("cycle: A → A;"))
        // V0: ${V1}, V1: ${V2}, … V39: end — deeper than the 32 levels allowed.
        let chain = (0..<40).map { "V\($0): \"" + ($0 < 39 ? "${V\($0 + 1)}" : "end") + "\"" }.joined(separator: ", ")
        let deep = s.write("d.yaml", emitting(chain, label: "${V0}"))
        #expect(diagnostics { try s.session().load(deep) }.contains("variables refer to variables more than 32 levels deep (V0 → V1 → V2 → …)"))
        // A chain of 20 is fine.
        let short = (0..<20).map { "V\($0): \"" + ($0 < 19 ? "${V\($0 + 1)}" : "end") + "\"" }.joined(separator: ", ")
        #expect(try s.session().load(s.write("s.yaml", emitting(short, label: "${V0}"))).stage(named: "a")!.parameters["label"] == .string("end"))
    }

    /// `${A}` repeated in a small file must not expand to gigabytes (the file here is 9 KB,
    /// the expansion would be 3 MB), and the refusal is one short line.
    @Test func expansionBombsAreRefusedWithAShortMessage() throws {
        let s = Scratch()
        let big = String(repeating: "a", count: 2000)
        let bomb = s.write("b.yaml", emitting("A: \(big)", label: String(repeating: "${A}", count: 1500)))
        let message = diagnostics { try s.session().load(bomb) }
        #expect(message == "error: \(bomb):6:29: stage 'a': the value expands to more than 1 MiB (at '${A}'); a workflow value may hold at most that")
        // The same bomb inside vars: refused at the variable.
        let inVars = s.write("v.yaml", emitting("A: \(big), B: \"" + String(repeating: "${A}", count: 1500) + "\"", label: "${B}"))
        #expect(diagnostics { try s.session().load(inVars) }.contains("field 'vars.B': the value expands to more than 1 MiB"))
    }

    @Test func longMessagesAreShortened() {
        let d = Diagnostic("'" + String(repeating: "é", count: 5000) + "' does not exist")
        #expect(d.description == "error: '" + String(repeating: "é", count: 999) + "… (4017 more characters)")
    }
}

@Suite struct HashTests {
    /// FIPS 180-4 examples.
    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(String(repeating: "a", count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Reference values of xxHash's XXH64 with seed 0.
    @Test func xxh64KnownAnswers() {
        #expect(XXHash64.hash(Data()) == 0xEF46DB3751D8E999)
        #expect(XXHash64.hash(Data("a".utf8)) == 0xD24EC4F1A98C6E5B)
        #expect(XXHash64.hash(Data("abc".utf8)) == 0x44BC2CF5AD770999)
        #expect(XXHash64.hash(Data("Nobody inspects the spammish repetition".utf8)) == 0xFBCEA83C8A378BF1)
    }
}
