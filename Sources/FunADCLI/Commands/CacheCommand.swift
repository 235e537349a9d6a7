import ArgumentParser
import Foundation
import Workflow

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "Inspect and prune the stage-result cache.",
        subcommands: [List.self, GarbageCollect.self, Clean.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List stored stage results.")
        @OptionGroup var cache: CacheOptions

        func run() throws {
            let store = try CacheStore(root: cache.cacheURL)
            let entries = store.listEntries()
            let f = ISO8601DateFormatter()
            for e in entries {
                print("\(e.key.prefix(12))  \(f.string(from: e.created))  \(byteString(e.totalBytes).padding(toLength: 9, withPad: " ", startingAt: 0))  \(e.workflow)/\(e.stage) (\(e.stageType) v\(e.version))")
            }
            print("\(entries.count) entries, \(byteString(entries.reduce(0) { $0 + $1.totalBytes })) in \(store.root.path)")
        }
    }

    struct GarbageCollect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Remove results that neither the latest run of a workflow nor the latest run-stage job of a stage uses.",
            discussion: """
            Keeps: the entries named by the newest intact run record of each workflow \
            (<runs>/<workflow>/<time>-<pid>/run.json, written by funad run); the entries named by \
            the job records of funad run-stage (<runs>/<workflow>/jobs/<stage>.json: each stage's \
            latest key, its whole result and its shards; what a Snakemake run computed); and the \
            side-store folders those entries or running jobs use (image-features/<recipe>: the \
            per-image features of extract). Removes everything else: other entries, the \
            quarantine, in-progress folders of processes that died, unused side-store folders \
            and unfinished files in the kept ones. A running job keeps its work. A damaged job \
            record stops gc before anything is removed (exit 2).
            """)
        @OptionGroup var cache: CacheOptions

        func run() throws {
            let store = try CacheStore(root: cache.cacheURL)
            let lock = try FileLock(path: store.lockPath) { holder in
                FileHandle.standardError.write(Data("funad: cache in use by \(holder); waiting…\n".utf8))
            }
            // The newest intact record per workflow; damaged ones are set aside with a note.
            let inUse = RunRecords.keysInUse(runsDirectory: cache.runsURL)
            for note in inUse.notes { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            // Single-stage jobs' records; a damaged one throws before anything is removed.
            let jobs = try JobRecords.keysInUse(runsDirectory: cache.runsURL)
            let report = CacheCollector(store: store, registry: CommandRegistry.load()).collect(keeping: inUse.keys.union(jobs.keys))
            withExtendedLifetime(lock) {}
            print("removed \(report.removedEntries.count) entries (\(byteString(report.removedEntries.reduce(0) { $0 + $1.totalBytes }))); "
                  + "kept \(report.keptEntries): those named by the latest run record of each workflow (\(count(inUse.records.count, "record"))) "
                  + "and by the latest run-stage job of each stage (\(count(jobs.records.count, "job record")))")
            printSideStores(report)
        }
    }

    struct Clean: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clean", abstract: "Remove every stored result and side store (image-features); run records are kept.",
            discussion: "A running job keeps its in-progress work and the side-store folder it uses.")
        @OptionGroup var cache: CacheOptions

        func run() throws {
            let store = try CacheStore(root: cache.cacheURL)
            let lock = try FileLock(path: store.lockPath) { holder in
                FileHandle.standardError.write(Data("funad: cache in use by \(holder); waiting…\n".utf8))
            }
            let report = CacheCollector(store: store, registry: CommandRegistry.load()).clean()
            withExtendedLifetime(lock) {}
            print("removed \(report.removedEntries.count) entries (\(byteString(report.removedEntries.reduce(0) { $0 + $1.totalBytes })))")
            printSideStores(report)
        }
    }
}

/// One line per side store that has a folder, and one for dead in-progress folders.
private func printSideStores(_ report: CacheCollector.Report) {
    for side in report.sideStores {
        let total = side.keptItems.count + side.removedItems.count
        var line = "\(side.name): removed \(side.removedItems.count) of \(count(total, "folder")) (\(byteString(side.removedBytes)))"
        if let entry = side.keptAllFor {
            line += "; kept all: entry \(entry) was stored before funad recorded which folder it used"
        } else {
            line += ", kept \(side.keptItems.count) used by kept entries or running jobs"
        }
        if side.removedPartials > 0 { line += "; removed \(count(side.removedPartials, "unfinished file"))" }
        print(line)
    }
    if report.staleTemporaries > 0 { print("removed \(count(report.staleTemporaries, "unfinished stage folder")) of processes that died") }
}

/// "1 record", "2 records".
private func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

func byteString(_ n: Int64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n), i = 0
    while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}
