import Foundation
import Workflow
import WorkflowTestSupport

// workflow-test-worker WORKFLOW CACHE RUNS [JOBS]
// workflow-test-worker --stage STAGE [--shard I/N | --merge N] WORKFLOW CACHE RUNS
// Runs a workflow (or one stage of it, as `funad run-stage` does) of test stage types in
// its own process, so tests can kill it mid-stage or run two at once on one cache.
// Prints the outcome status. Exit code: 0 ok, 1 failed, 2 invalid, 130 cancelled.
var args = Array(CommandLine.arguments.dropFirst())
var stage: String?
var work = StageWork.whole
while let flag = args.first, flag.hasPrefix("--"), args.count >= 2 {
    switch flag {
    case "--stage": stage = args[1]
    case "--shard": work = .shard(try! Shard(parsing: args[1]))
    case "--merge": work = .merge(count: Int(args[1])!)
    default: FileHandle.standardError.write(Data("unknown option \(flag)\n".utf8)); exit(2)
    }
    args.removeFirst(2)
}
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: workflow-test-worker [--stage STAGE [--shard I/N | --merge N]] WORKFLOW CACHE RUNS [JOBS]\n".utf8))
    exit(2)
}
// FUNAD_TEST_FILE_SIZE_LIMIT=BYTES simulates a full disk: no file of this process may grow
// beyond BYTES (RLIMIT_FSIZE), and a write that would is refused with EFBIG instead of
// killing the process with SIGXFSZ, as ENOSPC is refused on a full disk.
if let limit = ProcessInfo.processInfo.environment["FUNAD_TEST_FILE_SIZE_LIMIT"].flatMap({ rlim_t($0) }) {
    signal(SIGXFSZ, SIG_IGN)
    var rl = rlimit(rlim_cur: limit, rlim_max: limit)
    guard setrlimit(Int32(RLIMIT_FSIZE.rawValue), &rl) == 0 else {
        FileHandle.standardError.write(Data("cannot set RLIMIT_FSIZE\n".utf8))
        exit(2)
    }
}
let session = WorkflowSession(registry: TestStages.registry, cacheDirectory: URL(fileURLWithPath: args[1]))
let board = ProgressBoard(isTerminal: false, lineInterval: 0) { text in FileHandle.standardError.write(Data(text.utf8)) }
let cancellation = CancellationFlag()
let interrupts = InterruptHandler { _ in cancellation.cancel() }
do {
    let wf = try session.load(args[0])
    if let stage {
        let outcome = try await session.runStage(StageJob(workflow: wf, stage: stage, work: work),
                                                 logsDirectory: URL(fileURLWithPath: args[2]).appendingPathComponent("jobs"),
                                                 board: board, cancellation: cancellation)
        print(outcome.status.rawValue)
        withExtendedLifetime(interrupts) {}
        exit(outcome.status == .ran || outcome.status == .cached ? 0 : outcome.status == .cancelled ? 130 : 1)
    }
    let outcome = try await session.run(wf, options: RunOptions(jobs: args.count > 3 ? Int(args[3]) ?? 1 : 1, runsDirectory: URL(fileURLWithPath: args[2])),
                                        board: board, cancellation: cancellation)
    print(outcome.status.rawValue)
    withExtendedLifetime(interrupts) {}
    exit(outcome.status == .succeeded ? 0 : outcome.status == .cancelled ? 130 : 1)
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}
