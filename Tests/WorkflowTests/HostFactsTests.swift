import Foundation
import Testing
@testable import Workflow

/// A run record says which machine made it (`host`): figures of floating-point-heavy
/// stages move with the CPU, so records from two machines must be told apart. (The
/// record's `host` through a run is in ExecutionTests, whose runs must not overlap.)
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
}
