/// The reference for the exact nearest-neighbour searches: squared L2 distance from each
/// query to its nearest bank row, in double precision, by the plain double loop.
enum BruteForceNearest {
    /// queries (q, d) and bank (m, d), row-major; returns q squared distances.
    static func squaredDistances(queries: [Float], bank: [Float], dimension d: Int) -> [Double] {
        let q = queries.count / d, m = bank.count / d
        return (0..<q).map { i in
            var best = Double.infinity
            for j in 0..<m {
                var s = 0.0
                for k in 0..<d { let t = Double(queries[i * d + k]) - Double(bank[j * d + k]); s += t * t }
                best = min(best, s)
            }
            return best
        }
    }
}
