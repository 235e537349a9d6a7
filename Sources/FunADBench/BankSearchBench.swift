import Dispatch
import FunAD

/// Exact bank nearest-neighbour search on banks with the layout of funad's patch
/// features [global ‖ local] (`PrefixGroupedBank`): the grouped search against the search
/// over full rows on the same data, and the largest deviation between the two (both are
/// exact; they differ only by float rounding). Values are seeded random; the layout is
/// what matters: per-image globals shared by the image's rows, as a PatchCore coreset of
/// MTD (EfficientNet-Lite0: 1280 + 152) or a full ViT-B/8 bank (768 + 768) has them.
/// `bench/bank_search_reference.py` times faiss-cpu IndexFlatL2 on the same shapes.
public enum BankSearchBench {
    public struct Layout: Sendable {
        public var name: String
        public var globalLength: Int
        public var localLength: Int
        public var bankImages: Int
        public var bankRows: Int
        public var queryImages: Int
        public var patchesPerImage: Int
        public var dimension: Int { globalLength + localLength }

        public static let lite0Coreset = Layout(name: "lite0", globalLength: 1280, localLength: 152, bankImages: 837,
                                                bankRows: 65_620, queryImages: 2, patchesPerImage: 784)
        public static let vitB8Bank = Layout(name: "vitb8", globalLength: 768, localLength: 768, bankImages: 100,
                                             bankRows: 78_400, queryImages: 2, patchesPerImage: 784)
        public static let all = [lite0Coreset, vitB8Bank]
    }

    public struct Result: Sendable {
        public var layout: Layout
        public var groupedSeconds: Double
        public var fullSeconds: Double
        /// max |grouped − full| / max(1, full) over the queries' squared distances.
        public var maxRelativeDeviation: Double
        public var grouped: Bool
    }

    /// The bank: `bankRows` rows spread over `bankImages` images (row i belongs to image
    /// i·images/rows, so images hold 78 or 79 rows, as a 10 % coreset keeps), each row the
    /// image's global (uniform ±3) then its own local (uniform ±1).
    static func makeRows(images: Int, rows: Int, layout: Layout, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let g = layout.globalLength, l = layout.localLength, d = g + l
        let globals = (0..<(images * g)).map { _ in Float(rng.nextUnit() * 6 - 3) }
        var out = [Float](repeating: 0, count: rows * d)
        for r in 0..<rows {
            let image = r * images / rows
            for k in 0..<g { out[r * d + k] = globals[image * g + k] }
            for k in 0..<l { out[r * d + g + k] = Float(rng.nextUnit() * 2 - 1) }
        }
        return out
    }

    public static func run(_ layouts: [Layout], repeats: Int) -> [Result] {
        layouts.map { layout in
            let d = layout.dimension
            let bank = makeRows(images: layout.bankImages, rows: layout.bankRows, layout: layout, seed: 1)
            let queryCount = layout.queryImages * layout.patchesPerImage
            let queries = makeRows(images: layout.queryImages, rows: queryCount, layout: layout, seed: 2)
            let grouped = NearestNeighbourSearch(bank: bank, count: layout.bankRows, dimension: d)
            let full = NearestNeighbourSearch(bank: bank, count: layout.bankRows, dimension: d, exploitPrefix: false)
            var a = [Float](repeating: 0, count: queryCount), b = a
            func time(_ search: NearestNeighbourSearch, into out: inout [Float]) -> Double {
                var best = Double.infinity
                for _ in 0..<max(1, repeats) {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    queries.withUnsafeBufferPointer { q in
                        out.withUnsafeMutableBufferPointer { search.nearest(q.baseAddress!, count: queryCount, minDistance2: $0.baseAddress!) }
                    }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                }
                return best
            }
            let tg = time(grouped, into: &a), tf = time(full, into: &b)
            var deviation = 0.0
            for i in 0..<queryCount { deviation = max(deviation, Double(abs(a[i] - b[i])) / max(1, Double(b[i]))) }
            let usesPrefix = queries.withUnsafeBufferPointer { grouped.usesPrefix($0.baseAddress!, count: queryCount) }
            return Result(layout: layout, groupedSeconds: tg, fullSeconds: tf, maxRelativeDeviation: deviation, grouped: usesPrefix)
        }
    }
}
