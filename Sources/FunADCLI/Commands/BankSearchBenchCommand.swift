import ArgumentParser
import FunAD
import FunADBench

/// `funad bench bank-search`: exact PatchCore bank search on banks of patch features
/// [global ‖ local], grouped by their shared global part versus over full rows.
struct BankSearchBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bank-search",
        abstract: "Exact bank nearest-neighbour search: grouped by the shared global part vs full rows (Lite0 coreset, ViT-B/8 bank shapes).")
    @Option(help: "Runs; the best is reported.") var repeats: Int = 3
    @Option(help: "OpenBLAS threads.") var threads: Int = 2
    @OptionGroup var output: BenchOutput

    func run() throws {
        var report = BenchReport(area: "bank-search", threads: threads, output: output)
        let saved = BLAS.threads
        BLAS.threads = threads
        defer { BLAS.threads = saved }
        for r in BankSearchBench.run(BankSearchBench.Layout.all, repeats: repeats) {
            let l = r.layout
            let detail = "\(l.queryImages)×\(l.patchesPerImage) queries vs \(l.bankRows) rows × \(l.dimension) (\(l.globalLength) shared per image over \(l.bankImages) images + \(l.localLength) local)"
            report.line(String(format: "bank_knn_%@ %.4f s grouped, %.4f s full rows (%.1f× less time), max deviation %.2e, grouped path %@  %@",
                               l.name, r.groupedSeconds, r.fullSeconds, r.fullSeconds / r.groupedSeconds,
                               r.maxRelativeDeviation, r.grouped ? "yes" : "no", detail))
            report.add("bank_knn_\(l.name)", r.groupedSeconds, "s", higherIsBetter: false, detail: detail)
            report.add("bank_knn_\(l.name)_full_rows", r.fullSeconds, "s", higherIsBetter: false, detail: detail)
        }
        report.finish()
    }
}
