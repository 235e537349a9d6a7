/// Helpers shared by the FunAD test suites.

/// Largest absolute elementwise difference; `Float.infinity` on a length mismatch, so a
/// wrong-sized output always fails a tolerance check.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
