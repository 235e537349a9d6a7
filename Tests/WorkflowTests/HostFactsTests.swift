import Foundation
import Testing
@testable import Workflow

/// A run record says which machine made it (`host`): figures of floating-point-heavy
/// stages move with the CPU, so records from two machines must be told apart.
struct HostFactsTests {
    @Test func cpuComesFromTheFirstProcessorOfProcCpuinfo() {
        let info = """
        processor\t: 0
        vendor_id\t: AuthenticAMD
        cpu family\t: 23
        model\t\t: 49
        model name\t: AMD EPYC 7B12
        flags\t\t: fpu vme

        processor\t: 1
        cpu family\t: 6
        model\t\t: 85
        model name\t: Intel(R) Xeon(R)

        """
        #expect(HostFacts.cpu(cpuinfo: info) == "AMD EPYC 7B12 (family 23, model 49)")
        #expect(HostFacts.cpu(cpuinfo: "model name\t: Some ARM core\n") == "Some ARM core")
        #expect(HostFacts.cpu(cpuinfo: "processor\t: 0\nBogoMIPS\t: 50.00\n") == nil)
        #expect(HostFacts.cpu(cpuinfo: "") == nil)
    }

    @Test func runRecordCarriesHostWithTheApplicationsFactsButNotInPlaceOfTheEngines() async throws {
        let s = Scratch()
        let path = s.write("w.yaml", "name: one\nstages:\n  a: {type: emit, with: {value: 1}}\n")
        let wf = try s.session().load(path)
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let options = RunOptions(runsDirectory: s.runs, host: ["blas": "SomeBLAS 1.0", "cores": "many"])
        let outcome = try await s.session().run(wf, options: options, board: board)
        #expect(outcome.status == .succeeded)
        let host = try #require(try s.record(outcome)["host"] as? [String: Any])
        #expect(host["blas"] as? String == "SomeBLAS 1.0")
        #expect(host["cores"] as? Int == ProcessInfo.processInfo.activeProcessorCount)
        #expect((host["cpu"] as? String)?.isEmpty == false)
        #expect(host["os"] as? String == ProcessInfo.processInfo.operatingSystemVersionString)
    }
}
