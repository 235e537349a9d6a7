import Foundation
import FunAD

/// PNG decoding through the public `ImageDecoder` (libpng's simplified API underneath).
/// Inputs without the PNG signature are rejected from the corpus (return -1) so that this
/// target stays on the PNG path; the JPEG path has its own target. The pixel limit is
/// lowered so a legal but huge image stays inside the RSS limit.
let decoder = ImageDecoder(maxPixels: 1 << 22)
let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 4, (0..<4).allSatisfy({ data[$0] == signature[$0] }) else { return -1 }
    do {
        let pixels = try decoder.decodePixels(Data(bytes: data, count: size), path: "fuzz.png")
        _ = pixels.rgbPlanes()
    } catch {
        _ = String(describing: error)
    }
    return 0
}
