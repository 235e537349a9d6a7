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
            commandName: "gc", abstract: "Remove results not used by the latest run of any workflow (and leftovers of interrupted runs).")
        @OptionGroup var cache: CacheOptions

        func run() throws {
            let store = try CacheStore(root: cache.cacheURL)
            let lock = try FileLock(path: store.lockPath) { holder in
                FileHandle.standardError.write(Data("funad: cache in use by \(holder); waiting…\n".utf8))
            }
            // The newest intact record per workflow; damaged ones are set aside with a note.
            let inUse = RunRecords.keysInUse(runsDirectory: cache.runsURL)
            for note in inUse.notes { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            let keep = inUse.keys
            let removed = store.removeEntries(except: keep)
            withExtendedLifetime(lock) {}
            print("removed \(removed.count) entries (\(byteString(removed.reduce(0) { $0 + $1.totalBytes }))); kept \(keep.count) used by latest runs")
        }
    }

    struct Clean: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "clean", abstract: "Remove every stored result (run records are kept).")
        @OptionGroup var cache: CacheOptions

        func run() throws {
            let store = try CacheStore(root: cache.cacheURL)
            let lock = try FileLock(path: store.lockPath) { holder in
                FileHandle.standardError.write(Data("funad: cache in use by \(holder); waiting…\n".utf8))
            }
            let removed = store.removeEntries(except: [])
            try? FileManager.default.removeItem(at: store.root.appendingPathComponent("resume"))
            withExtendedLifetime(lock) {}
            print("removed \(removed.count) entries (\(byteString(removed.reduce(0) { $0 + $1.totalBytes })))")
        }
    }
}

func byteString(_ n: Int64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n), i = 0
    while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}
