import Foundation
@testable import FunAD

/// Access to Fixtures/imaging (made by scripts/fixtures/imaging.py).
enum ImagingFixtures {
    static let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        .appendingPathComponent("imaging")

    static func url(_ name: String) -> URL { dir.appendingPathComponent(name) }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }

    /// H × W × 3 little-endian uint16 on a 0…65535 scale, returned as floats in [0, 1].
    static func expectedRGB(_ name: String) throws -> [Float] {
        let raw = try bytes(name + ".expected.u16")
        return stride(from: 0, to: raw.count, by: 2).map {
            Float(UInt16(raw[$0]) | UInt16(raw[$0 + 1]) << 8) / 65535
        }
    }

    static func manifest() throws -> [String: Any] {
        let data = try Data(contentsOf: url("manifest.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func cases(_ kind: String) throws -> [[String: Any]] {
        try manifest()[kind] as! [[String: Any]]
    }

    /// Case names of one kind (Sendable test arguments).
    static func names(_ kinds: String...) -> [String] {
        kinds.flatMap { kind in ((try? cases(kind)) ?? []).map { $0["name"] as! String } }
    }

    static func entry(_ name: String) throws -> [String: Any] {
        for (_, value) in try manifest() {
            if let list = value as? [[String: Any]], let hit = list.first(where: { $0["name"] as? String == name }) {
                return hit
            }
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "no fixture case \(name)"])
    }
}

extension ImagePlanes {
    /// Interleaved H × W × C view, for comparison with fixture arrays.
    var interleaved: [Float] {
        let n = width * height
        var out = [Float](repeating: 0, count: n * channels)
        for c in 0..<channels { for i in 0..<n { out[i * channels + c] = data[c * n + i] } }
        return out
    }
}

