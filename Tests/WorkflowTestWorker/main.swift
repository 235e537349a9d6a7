import Foundation
import Workflow
import WorkflowTestSupport

// workflow-test-worker WORKFLOW CACHE RUNS [JOBS]
// Runs a workflow of test stage types in its own process, so tests can kill it
// mid-stage or run two at once on one cache. Exit code: 0 ok, 1 failed, 2 invalid, 130 cancelled.
let args = CommandLine.arguments
guard args.count >= 4 else {
    FileHandle.standardError.write(Data("usage: workflow-test-worker WORKFLOW CACHE RUNS [JOBS]\n".utf8))
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
let session = WorkflowSession(registry: TestStages.registry, cacheDirectory: URL(fileURLWithPath: args[2]))
let board = ProgressBoard(isTerminal: false, lineInterval: 0) { text in FileHandle.standardError.write(Data(text.utf8)) }
let cancellation = CancellationFlag()
let interrupts = InterruptHandler { _ in cancellation.cancel() }
do {
    let wf = try session.load(args[1])
    let outcome = try await session.run(wf, options: RunOptions(jobs: args.count > 4 ? Int(args[4]) ?? 1 : 1, runsDirectory: URL(fileURLWithPath: args[3])),
                                        board: board, cancellation: cancellation)
    print(outcome.status.rawValue)
    withExtendedLifetime(interrupts) {}
    exit(outcome.status == .succeeded ? 0 : outcome.status == .cancelled ? 130 : 1)
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}
