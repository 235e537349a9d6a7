import Foundation

/// What single-stage jobs (`funad run-stage`, the jobs of an exported Snakefile) leave for
/// `funad cache gc`. Such jobs write no run record, and their markers may lie anywhere
/// (Snakemake's working folder, a bucket), so each job that ends with its result stored
/// updates one small record per stage beside its logs, `<runs>/<workflow>/jobs/<stage>.json`:
/// the stage's latest key and the entries stored under it (the whole result and, for a
/// sharded stage, its shards). A job on the same key adds its entry; a job on another key
/// (the workflow or its inputs changed) replaces the record, as a newer run record
/// replaces an older one. gc keeps every entry these records name.
///
/// Jobs on one workflow update the records under one lock (`jobs/.records.lock`), so
/// shards finishing together do not lose each other's entries.
public enum JobRecords {
    struct Record: Codable, Equatable {
        var format: Int
        var workflow: String
        var stage: String
        var key: String
        var entries: [String]
        var updated: Date

        enum CodingKeys: String, CodingKey {
            case format = "funad_job_record", workflow, stage, key, entries, updated
        }
    }

    static let format = 1
    static let folder = "jobs"

    /// The record of `stage` in a jobs folder.
    public static func url(stage: String, in directory: URL) -> URL {
        directory.appendingPathComponent("\(CacheStore.safeName(stage)).json")
    }

    /// A job record names one stage's keys (a few per shard): 16 MiB is thousands of
    /// times what a real one holds.
    static let maxRecordBytes = 16 << 20

    /// Adds a finished job (ran or cached) to its stage's record in `directory`.
    static func record(_ outcome: StageJobOutcome, workflow: String, in directory: URL) throws {
        let url = url(stage: outcome.stage, in: directory)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let lock = try FileLock(path: directory.appendingPathComponent(".records.lock").path) { _ in }
            defer { withExtendedLifetime(lock) {} }
            var entries: Set<String> = [outcome.entryKey]
            // A record that cannot be read is replaced: this job knows what it stored.
            if let data = try? BoundedRead.data(url, limit: maxRecordBytes), let old = try? CacheStore.decoder.decode(Record.self, from: data),
               old.format == format, old.key == outcome.key {
                entries.formUnion(old.entries)
            }
            let record = Record(format: format, workflow: workflow, stage: outcome.stage, key: outcome.key,
                                entries: entries.sorted(), updated: Date())
            try CacheStore.encoder.encode(record).write(to: url, options: .atomic)
        } catch let d as Diagnostic {
            throw d
        } catch {
            throw Diagnostic("cannot write the job record '\(url.path)': \(error.localizedDescription)")
        }
    }

    /// The entries named by every job record under `<runsDirectory>/*/jobs/`, and the
    /// records read. A damaged record throws: gc must not guess what its stage still needs.
    public static func keysInUse(runsDirectory: URL) throws -> (keys: Set<String>, records: [URL]) {
        let fm = FileManager.default
        var keys: Set<String> = []
        var records: [URL] = []
        for workflow in ((try? fm.contentsOfDirectory(atPath: runsDirectory.path)) ?? []).sorted() {
            let jobs = runsDirectory.appendingPathComponent(workflow).appendingPathComponent(folder)
            for name in ((try? fm.contentsOfDirectory(atPath: jobs.path)) ?? []).sorted() where name.hasSuffix(".json") && !name.hasPrefix(".") {
                let url = jobs.appendingPathComponent(name)
                let data: Data
                do { data = try BoundedRead.data(url, limit: maxRecordBytes) } catch let big as BoundedRead.TooLarge {
                    throw Diagnostic("job record '\(url.path)' is damaged (\(big)); gc removed nothing: re-run that stage's job "
                                     + "(funad run-stage) to rewrite it, or delete the file to let gc drop its results")
                } catch {
                    throw Diagnostic("cannot read the job record '\(url.path)': \(error.localizedDescription); gc removed nothing")
                }
                guard let record = try? CacheStore.decoder.decode(Record.self, from: data), record.format == format,
                      ([record.key] + record.entries).allSatisfy(CacheStore.isKey) else {
                    throw Diagnostic("job record '\(url.path)' is damaged (expected a funad job record with 64-hex-digit keys); "
                                     + "gc removed nothing: re-run that stage's job (funad run-stage) to rewrite it, or delete the file to let gc drop its results")
                }
                keys.formUnion(record.entries)
                records.append(url)
            }
        }
        return (keys, records)
    }
}
