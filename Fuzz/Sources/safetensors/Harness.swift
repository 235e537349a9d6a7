import Foundation
import FunAD

/// The safetensors reader through its public entry (weights files, feature stores, cache
/// entries are all safetensors).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        let tensors = try SafeTensors.decode(bytes, name: "fuzz.safetensors")
        _ = tensors.count
    } catch {
        _ = String(describing: error)
    }
    return 0
}
