import Foundation
@testable import FunAD

/// The CSV labels-file reader (RFC 4180 quoting, CRLF, BOM). Internal to FunAD (users
/// reach it through the `csv` dataset layout, which needs image files on disk), hence
/// `@testable`. Column lookups are exercised too, as the dataset loader does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let table = try CSVTable.parse(text, path: "fuzz.csv")
        for name in ["object", "split", "label", "image", "mask"] { _ = try? table.column(name) }
        _ = table.rows.count
    } catch {
        _ = String(describing: error)
    }
    return 0
}
