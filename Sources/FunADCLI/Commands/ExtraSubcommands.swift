import ArgumentParser

/// Commands beyond the workflow engine's own (weights, demo data, benchmarks).
let extraSubcommands: [any ParsableCommand.Type] = []
