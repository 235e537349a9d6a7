import Foundation
@testable import FunAD

/// The restricted unpickler alone, on raw pickle bytes, so the fuzzer spends its time on
/// opcodes rather than on the container around them. It is internal to FunAD (users reach
/// it only through `PyTorchCheckpoint`), hence `@testable` with `-enable-testing`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    var reader = RestrictedUnpickler(name: "fuzz.pkl", bytes: raw)
    do {
        _ = try reader.load()
    } catch {
        _ = String(describing: error)
    }
    return 0
}
