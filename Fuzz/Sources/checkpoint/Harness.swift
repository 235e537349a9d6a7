import Foundation
import FunAD

/// The PyTorch checkpoint reader through its public entry (`funad weights import` uses
/// it): zip or legacy container, the restricted unpickler, storages → tensors.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        let contents = try PyTorchCheckpoint.decode(bytes, name: "fuzz.pt")
        _ = contents.tensors.count
    } catch {
        _ = String(describing: error)
    }
    return 0
}
