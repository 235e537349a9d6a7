import Foundation

/// Writes a workflow's stage graph as a Snakefile, so that Snakemake (locally, on Slurm,
/// on Kubernetes) schedules the stages and funad computes them. Each rule runs one
/// `run-stage` job against the shared cache; its output is the stage's marker, named by
/// the stage's cache key as planned at export time, and its inputs are the markers of the
/// stages it `needs`. A sharded stage becomes a rule with one job per shard (wildcard
/// `i`) and a merge rule whose output is the stage's marker.
public struct SnakemakeExport {
    /// How the jobs reach funad and the shared folders. Paths are written as given, so
    /// give absolute ones for a cluster (every node must see the same cache).
    public struct Locations: Sendable {
        public var funad: String
        public var workflowFile: String
        public var cache: String
        public var runs: String
        /// Folder of the marker files, relative to Snakemake's working folder or absolute.
        public var markers: String
        /// OpenBLAS threads of every job, which is also each rule's `threads:`. Results
        /// depend on it (a BLAS reduction split over more threads sums in another order),
        /// so a job pins it rather than taking the count Snakemake would set: with the
        /// count `funad run` uses on the exporting machine, a Snakemake run gives its bytes.
        public var blasThreads: Int

        public init(funad: String, workflowFile: String, cache: String, runs: String, markers: String, blasThreads: Int) {
            self.funad = funad
            self.workflowFile = workflowFile
            self.cache = cache
            self.runs = runs
            self.markers = markers
            self.blasThreads = max(1, blasThreads)
        }
    }

    public var plan: Plan
    public var locations: Locations
    /// `--set` arguments passed to every job (the workflow's variables in force, so a job
    /// on another machine sees the same values whatever its environment).
    public var settings: [String]
    /// Stage name → shard count (≥ 2) for shardable stages.
    public var shards: [String: Int]
    /// The command that produced the file, for its header.
    public var commandLine: String

    public init(plan: Plan, locations: Locations, settings: [String], shards: [String: Int] = [:], commandLine: String) throws {
        self.plan = plan
        self.locations = locations
        self.settings = settings
        self.commandLine = commandLine
        var problems: [Diagnostic] = []
        for (stage, count) in shards.sorted(by: { $0.key < $1.key }) {
            guard let step = plan.steps.first(where: { $0.stage.name == stage }) else {
                problems.append(Diagnostic("--shards \(stage)=\(count): no stage named '\(stage)'\(NameSuggestion.hint(for: stage, among: plan.steps.map(\.stage.name)))"))
                continue
            }
            if !(step.stage.implementation is any ShardableStage) {
                problems.append(Diagnostic("--shards \(stage)=\(count): a '\(step.stage.declaration.type)' stage cannot be split into shards"))
            } else if count < 1 || count > 10_000 {
                problems.append(Diagnostic("--shards \(stage)=\(count): expected a shard count in 1...10000"))
            }
        }
        if !problems.isEmpty { throw DiagnosticList(problems) }
        self.shards = shards.filter { $0.value >= 2 }
    }

    /// Parses `STAGE=N` arguments of `--shards`.
    public static func parseShards(_ items: [String]) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let n = Int(parts[1]) else {
                throw Diagnostic("--shards '\(item)': expected STAGE=N, e.g. features=4")
            }
            out[parts[0]] = n
        }
        return out
    }

    /// The marker path of `stage` (or of one of its shards, with `{i}` for the index).
    func marker(_ step: Plan.Step, shardCount: Int? = nil) -> String {
        let dir = locations.markers.hasSuffix("/") ? String(locations.markers.dropLast()) : locations.markers
        let base = "\(dir)/\(CacheStore.safeName(step.stage.name)).\(step.key)"
        guard let shardCount else { return base + ".done" }
        return base + ".shard-{i}-of-\(shardCount).done"
    }

    public func render() -> String {
        let names = ruleNames()
        let byName = Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.stage.name, $0) })
        var out: [String] = []
        out.append("# Snakefile for funad workflow '\(plan.workflow.spec.name)' (\(plan.workflow.spec.file)).")
        out.append("# Written by: \(commandLine)")
        out.append("# One rule per stage, each running `funad run-stage` against the shared cache; a rule's output")
        out.append("# is the stage's marker, named by its cache key at export time. Re-export after changing the")
        out.append("# workflow, its settings or its input files: a job whose key changed refuses to run (exit 2).")
        out.append("#   snakemake -s THIS_FILE --cores 2                 # this machine")
        out.append("#   snakemake -s THIS_FILE --executor slurm --profile PROFILE   # a Slurm cluster (docs/SCALE-OUT.md)")
        out.append("# Override a location with --config funad=PATH cache=DIR runs=DIR (every job must see the same cache).")
        out.append("import shlex")
        out.append("")
        out.append("FUNAD = config.get(\"funad\", \(python(locations.funad)))")
        out.append("WORKFLOW = config.get(\"workflow\", \(python(locations.workflowFile)))")
        out.append("CACHE = config.get(\"cache\", \(python(locations.cache)))")
        out.append("RUNS = config.get(\"runs\", \(python(locations.runs)))")
        out.append("SETTINGS = [\(settings.map(python).joined(separator: ", "))]")
        out.append("# OpenBLAS threads per job (also each rule's threads): funad's results depend on it, so it is")
        out.append("# pinned to what `funad run` used where this file was exported; change it and results may differ in the last bits.")
        out.append("BLAS_THREADS = int(config.get(\"blas_threads\", \(locations.blasThreads)))")
        out.append("")
        out.append("def q(text):")
        out.append("    \"\"\"Shell-quoted, with braces doubled for Snakemake's formatting of shell commands.\"\"\"")
        out.append("    return shlex.quote(str(text)).replace(\"{\", \"{{\").replace(\"}\", \"}}\")")
        out.append("")
        out.append("def run_stage(stage, key, extra=\"\"):")
        out.append("    sets = \" \".join(\"--set \" + q(s) for s in SETTINGS)")
        out.append("    return (f\"OPENBLAS_NUM_THREADS={BLAS_THREADS} OMP_NUM_THREADS={BLAS_THREADS} {q(FUNAD)} run-stage {q(WORKFLOW)} {q(stage)} {sets} --cache {q(CACHE)} --runs {q(RUNS)}\"")
        out.append("            f\" --expect-key {key} {extra} --marker {{output}}\")")
        out.append("")
        out.append("rule all:")
        out.append("    default_target: True")
        out.append("    input:")
        for step in plan.steps { out.append("        \(python(marker(step))),") }
        for step in plan.steps {
            let name = step.stage.name
            let rule = names[name]!
            let inputs = step.stage.needs.map { python(marker(byName[$0]!)) }
            out.append("")
            out.append("# stage '\(name)' (\(step.stage.declaration.type))" + (step.stage.needs.isEmpty ? "" : ", needs \(step.stage.needs.joined(separator: ", "))"))
            if let count = shards[name] {
                out.append("rule \(rule)_shard:")
                out.append("    input: [\(inputs.joined(separator: ", "))]")
                out.append("    output: \(python(marker(step, shardCount: count)))")
                out.append("    wildcard_constraints: i=\"[0-9]+\"")
                out.append("    threads: BLAS_THREADS")
                out.append("    shell: run_stage(\(python(name)), \"\(step.key)\", \"--shard {wildcards.i}/\(count)\")")
                out.append("")
                out.append("rule \(rule):")
                out.append("    input: expand(\(python(marker(step, shardCount: count))), i=range(1, \(count + 1)))")
                out.append("    output: \(python(marker(step)))")
                out.append("    threads: BLAS_THREADS")
                out.append("    shell: run_stage(\(python(name)), \"\(step.key)\", \"--merge \(count)\")")
            } else {
                out.append("rule \(rule):")
                out.append("    input: [\(inputs.joined(separator: ", "))]")
                out.append("    output: \(python(marker(step)))")
                out.append("    threads: BLAS_THREADS")
                out.append("    shell: run_stage(\(python(name)), \"\(step.key)\")")
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// Stage name → a distinct Python identifier for its rule.
    func ruleNames() -> [String: String] {
        var used: Set<String> = ["all"]
        var out: [String: String] = [:]
        for step in plan.steps {
            var base = String(step.stage.name.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
            if base.first.map({ $0.isNumber }) ?? true { base = "stage_" + base }
            var candidate = base, n = 2
            while used.contains(candidate) || used.contains(candidate + "_shard") { candidate = "\(base)_\(n)"; n += 1 }
            used.insert(candidate); used.insert(candidate + "_shard")
            out[step.stage.name] = candidate
        }
        return out
    }

    /// A Python string literal.
    func python(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 { out += String(format: "\\x%02x", c.value) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }
}
