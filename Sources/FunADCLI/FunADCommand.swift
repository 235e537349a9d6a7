import ArgumentParser

@main
struct FunADCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "funad",
        abstract: "Train and run FUN-AD anomaly detectors on unlabelled, contaminated image sets, as YAML workflows.",
        version: "0.1.0",
        subcommands: []
    )
}
