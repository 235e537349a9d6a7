import Foundation
@testable import FunAD

/// Loads the evaluation-area fixtures made by scripts/fixtures/eval.py.
enum EvalFixtures {
    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("eval")
    }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func arrays() throws -> [String: WeightTensor] {
        try SafeTensors.read(directory.appendingPathComponent("arrays.safetensors"))
    }

    static func floats(_ any: Any?) -> [Float] { (any as! [Any]).map { Float(($0 as! NSNumber).doubleValue) } }
    static func doubles(_ any: Any?) -> [Double] { (any as! [Any]).map { ($0 as! NSNumber).doubleValue } }
    static func ints(_ any: Any?) -> [Int] { (any as! [Any]).map { ($0 as! NSNumber).intValue } }
    static func double(_ any: Any?) -> Double { (any as! NSNumber).doubleValue }

    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }
}
