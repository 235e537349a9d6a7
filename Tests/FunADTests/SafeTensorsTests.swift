import Foundation
import Testing
@testable import FunAD

@Suite struct SafeTensorsTests {
    @Test func roundTripKeepsNamesShapesAndValues() throws {
        let tensors = ["b.bias": WeightTensor(shape: [3], values: [1, -2, 3.5]),
                       "a.weight": WeightTensor(shape: [2, 2], values: [0.25, 0.5, -0.75, 1e-7])]
        let data = try SafeTensors.encode(tensors, metadata: ["arch": "test"])
        #expect(try SafeTensors.decode(data) == tensors)
    }

    /// Bytes laid out by hand per the format spec: header length 8-byte LE, JSON, F16 data.
    @Test func decodesHandMadeFloat16File() throws {
        let header = #"{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#
        var bytes: [UInt8] = []
        let n = UInt64(header.utf8.count)
        for i in 0..<8 { bytes.append(UInt8((n >> (8 * UInt64(i))) & 0xff)) }
        bytes += Array(header.utf8)
        bytes += [0x00, 0x3c, 0x00, 0xc0]  // 1.0 and -2.0 in IEEE half precision
        let t = try SafeTensors.decode(Data(bytes))
        #expect(t["x"] == WeightTensor(shape: [2], values: [1, -2]))
    }

    @Test func rejectsOffsetsBeyondTheFile() {
        let header = #"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        var bytes: [UInt8] = []
        let n = UInt64(header.utf8.count)
        for i in 0..<8 { bytes.append(UInt8((n >> (8 * UInt64(i))) & 0xff)) }
        bytes += Array(header.utf8) + [0, 0, 0, 0]
        #expect(throws: WeightsError.self) { try SafeTensors.decode(Data(bytes)) }
    }
}
