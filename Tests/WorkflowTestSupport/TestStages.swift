import Foundation
import Workflow

/// Stage types for the engine's tests. They compute with small integers written to
/// files, so every expectation can be worked out by hand.
public enum TestStages {
    public static var registry: StageRegistry {
        StageRegistry([EmitStage(), AddStage(), SlowStage(), FailStage(), ReadFileStage(), NoopStage(), BlobStage(), SeriesStage()])
    }

    /// Counts stage executions and the most that ran at once, across threads.
    public final class Monitor: @unchecked Sendable {
        public static let shared = Monitor()
        private let lock = NSLock()
        private var active = 0
        public private(set) var maxActive = 0
        public private(set) var executions: [String] = []
        public func enter(_ name: String) {
            lock.lock(); active += 1; maxActive = max(maxActive, active); executions.append(name); lock.unlock()
        }
        public func leave() { lock.lock(); active -= 1; lock.unlock() }
        public func reset() { lock.lock(); active = 0; maxActive = 0; executions = []; lock.unlock() }
        public var executed: [String] { lock.lock(); defer { lock.unlock() }; return executions }
    }
}

func writeNumber(_ n: Int, to dir: URL) throws {
    try "\(n)\n".write(to: dir.appendingPathComponent("value.txt"), atomically: true, encoding: .utf8)
}

public func readNumber(in dir: URL) throws -> Int {
    let text = try String(contentsOf: dir.appendingPathComponent("value.txt"), encoding: .utf8)
    guard let n = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw StageFailure("value.txt is not a number") }
    return n
}

/// Writes `value`; optionally holds for `hold_ms` so that concurrency can be observed.
struct EmitStage: StageType {
    let declaration = StageDeclaration(
        type: "emit", version: 1, summary: "writes a number", produces: ["number"],
        parameters: [
            .init("value", .int(), required: true, help: "the number"),
            .init("hold_ms", .int(range: 0...60_000), default: .int(0), help: "time to hold before finishing"),
            .init("label", .string, default: .string(""), help: "free text"),
            .init("ratio", .double(range: 0...1), default: .double(0.5), help: "a fraction"),
            .init("mode", .choice(["fast", "exact"]), default: .string("fast"), help: "a choice"),
            .init("options", .object([
                .init("seed", .int(), default: .int(0), help: "a seed"),
                .init("overlap", .bool, default: .bool(false), help: "a flag"),
            ]), help: "nested settings"),
        ])

    func run(_ context: StageContext) async throws {
        TestStages.Monitor.shared.enter(context.stageName)
        defer { TestStages.Monitor.shared.leave() }
        let hold = context.parameters.int("hold_ms")
        if hold > 0 { try await Task.sleep(nanoseconds: UInt64(hold) * 1_000_000) }
        try writeNumber(context.parameters.int("value"), to: context.outputDirectory)
        context.record("seed", context.parameters.int("options.seed"))
    }
}

/// Sums every upstream number plus `add`.
struct AddStage: StageType {
    let declaration = StageDeclaration(
        type: "add", version: 1, summary: "adds upstream numbers", consumes: ["number"], produces: ["number"],
        parameters: [.init("add", .int(), default: .int(0), help: "added to the sum")])

    func run(_ context: StageContext) async throws {
        TestStages.Monitor.shared.enter(context.stageName)
        defer { TestStages.Monitor.shared.leave() }
        var sum = context.parameters.int("add")
        for input in context.inputs { sum += try readNumber(in: input.directory) }
        try writeNumber(sum, to: context.outputDirectory)
    }
}

/// Counts to `steps`, one step every `step_ms`, checkpointing the count in its resume
/// folder, so a killed run continues where it stopped. Writes the count and where it
/// started from.
struct SlowStage: StageType {
    let declaration = StageDeclaration(
        type: "slow", version: 1, summary: "counts slowly with checkpoints", produces: ["number"],
        parameters: [.init("steps", .int(range: 1...100_000), required: true, help: "steps to count"),
                     .init("step_ms", .int(range: 0...10_000), default: .int(50), help: "time per step"),
                     .init("hold_at", .int(range: 0...100_000), default: .int(0),
                           help: "a run that starts below this step stops counting on reaching it and waits to be killed (0: never), so a kill test does not race the stage's end")])

    func run(_ context: StageContext) async throws {
        let checkpoint = context.resumeDirectory.appendingPathComponent("step.txt")
        let start = (try? String(contentsOf: checkpoint, encoding: .utf8)).flatMap { Int($0) } ?? 0
        let steps = context.parameters.int("steps")
        let holdAt = context.parameters.int("hold_at")
        for step in start..<steps {
            try context.checkCancellation()
            while holdAt > 0 && start < holdAt && step == holdAt {
                try context.checkCancellation()
                try await Task.sleep(nanoseconds: 20_000_000)
            }
            try await Task.sleep(nanoseconds: UInt64(context.parameters.int("step_ms")) * 1_000_000)
            try "\(step + 1)".write(to: checkpoint, atomically: true, encoding: .utf8)
            context.progress(step + 1, of: steps, unit: "steps")
        }
        try writeNumber(steps, to: context.outputDirectory)
        context.record("resumed_from", start)
    }
}

struct FailStage: StageType {
    let declaration = StageDeclaration(
        type: "fail", version: 1, summary: "always fails", optionallyConsumes: ["number"], produces: ["number"],
        parameters: [.init("message", .string, default: .string("boom"), help: "the error")])

    func run(_ context: StageContext) async throws {
        try "partial".write(to: context.outputDirectory.appendingPathComponent("partial.txt"), atomically: true, encoding: .utf8)
        throw StageFailure(context.parameters.string("message"))
    }
}

/// Copies the number in a user file: exercises input-file hashing.
struct ReadFileStage: StageType {
    let declaration = StageDeclaration(
        type: "readfile", version: 1, summary: "reads a number from a file", produces: ["number"],
        parameters: [.init("file", .inputPath, required: true, help: "file holding a number")])

    func run(_ context: StageContext) async throws {
        TestStages.Monitor.shared.enter(context.stageName)
        defer { TestStages.Monitor.shared.leave() }
        let text = try String(contentsOfFile: context.parameters.string("file"), encoding: .utf8)
        try writeNumber(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1, to: context.outputDirectory)
    }
}

/// Does nothing: for measuring the engine's own overhead.
struct NoopStage: StageType {
    let declaration = StageDeclaration(
        type: "noop", version: 1, summary: "does nothing", optionallyConsumes: ["number"], produces: ["number"],
        parameters: [.init("id", .int(), default: .int(0), help: "distinguishes stages")])

    func run(_ context: StageContext) async throws {}
}

/// Writes `bytes` bytes of filler to `blob.bin`, then the sum of the upstream numbers plus
/// `add`: a stage whose output is large enough to hit a file-size limit (a full disk).
struct BlobStage: StageType {
    let declaration = StageDeclaration(
        type: "blob", version: 1, summary: "writes a large file and a number", optionallyConsumes: ["number"], produces: ["number"],
        parameters: [.init("bytes", .int(range: 0...100_000_000), required: true, help: "size of blob.bin"),
                     .init("add", .int(), default: .int(0), help: "added to the sum")])

    func run(_ context: StageContext) async throws {
        var sum = context.parameters.int("add")
        for input in context.inputs { sum += try readNumber(in: input.directory) }
        try Data(repeating: 0x2A, count: context.parameters.int("bytes")).write(to: context.outputDirectory.appendingPathComponent("blob.bin"))
        try writeNumber(sum, to: context.outputDirectory)
    }
}

/// Writes `series.txt`: one line per item i in 0..<count, (upstream sum + i)². Shardable
/// by item: a shard writes its lines, the merge concatenates them, so the merged file can
/// be checked against the whole stage's byte for byte.
struct SeriesStage: ShardableStage {
    let declaration = StageDeclaration(
        type: "series", version: 1, summary: "writes a series of squares", optionallyConsumes: ["number"], produces: ["series"],
        parameters: [.init("count", .int(range: 0...100_000), required: true, help: "items in the series")])

    private func lines(_ range: Range<Int>, _ context: StageContext) throws -> String {
        var base = 0
        for input in context.inputs { base += try readNumber(in: input.directory) }
        return range.map { "\((base + $0) * (base + $0))\n" }.joined()
    }

    func run(_ context: StageContext) async throws {
        let count = context.parameters.int("count")
        try lines(0..<count, context).write(to: context.outputDirectory.appendingPathComponent("series.txt"), atomically: true, encoding: .utf8)
        context.record("items", count)
    }

    func runShard(_ shard: Shard, context: StageContext) async throws {
        let range = shard.range(of: context.parameters.int("count"))
        try lines(range, context).write(to: context.outputDirectory.appendingPathComponent("series.txt"), atomically: true, encoding: .utf8)
        context.record("shard_items", range.count)
    }

    func mergeShards(_ shards: [URL], context: StageContext) async throws {
        let text = try shards.map { try String(contentsOf: $0.appendingPathComponent("series.txt"), encoding: .utf8) }.joined()
        try text.write(to: context.outputDirectory.appendingPathComponent("series.txt"), atomically: true, encoding: .utf8)
        context.record("items", context.parameters.int("count"))
    }
}
