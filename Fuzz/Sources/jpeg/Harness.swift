import Foundation
import FunAD

/// JPEG decoding through the public `ImageDecoder` (TurboJPEG underneath). Inputs without
/// the JPEG SOI marker are rejected from the corpus (return -1) to keep this target on the
/// JPEG path. The pixel limit is lowered so a legal but huge image stays inside the RSS limit.
let decoder = ImageDecoder(maxPixels: 1 << 22)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2, data[0] == 0xFF, data[1] == 0xD8 else { return -1 }
    do {
        let pixels = try decoder.decodePixels(Data(bytes: data, count: size), path: "fuzz.jpg")
        _ = pixels.rgbPlanes()
    } catch {
        _ = String(describing: error)
    }
    return 0
}
