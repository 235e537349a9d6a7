import Foundation
import Stages
import Workflow

/// The workflow spec reader and validator through their public API, as `funad plan`
/// drives them: bytes → text → `WorkflowLoader.load` → `WorkflowValidator.validate`.
/// Any thrown diagnostic is a correct refusal; a trap, a leak, a hang or memory beyond
/// the RSS limit is a finding.
/// The registry is built per input: a registry kept in a global is reported by
/// LeakSanitizer at exit (its stage objects are reachable only through Swift's lazy
/// global storage, which LSan does not scan).
let base = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("funad-fuzz-workflow-empty")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWorkflow(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let spec = try WorkflowLoader(environment: [:]).load(text: text, file: "fuzz.yaml", baseDirectory: base)
        _ = try WorkflowValidator(registry: FunADStages.registry).validate(spec)
    } catch {
        _ = String(describing: error)
    }
    return 0
}
