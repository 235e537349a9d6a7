import Foundation
@testable import FunAD

/// The stored-zip reader alone (central directory, ZIP64, local headers). Internal to
/// FunAD, so `@testable`; every entry's range is then touched, as the checkpoint reader
/// would, so a range that escapes the buffer is caught by AddressSanitizer.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzZip(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        let zip = try StoredZipArchive(bytes, name: "fuzz.zip")
        var sum: UInt8 = 0
        for entry in zip.entries.values {
            for i in entry.dataRange { sum &+= bytes[i] }
        }
        _ = sum
    } catch {
        _ = String(describing: error)
    }
    return 0
}
