import ArgumentParser

/// Commands beyond the workflow engine's own (weights, demo data, benchmarks).
let extraSubcommands: [any ParsableCommand.Type] = [WeightsCommand.self, BenchCommand.self]

/// Benchmarks of FunAD kernels, added to `funad bench`.
let extraBenchmarks: [any ParsableCommand.Type] = [BankSearchBenchCommand.self, CoresetBenchCommand.self]
