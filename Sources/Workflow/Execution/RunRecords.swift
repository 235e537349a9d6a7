import Foundation

/// Reads run records back: `funad cache gc` keeps the cache entries that the latest run
/// of each workflow used. A run of chosen stages (`funad run WORKFLOW STAGE…`, whose
/// record lists its `targets`) covers only part of the workflow, so the records before
/// it count too, back to and including the newest run of the whole workflow: running
/// one cell of a sweep again never makes gc drop the other cells. A record is trusted only if it parses as a run record with a
/// key for every stage; a damaged one (truncated, garbled, hand-edited) is renamed to
/// `run.json.damaged` with a note, and the workflow's previous intact record is used
/// instead, so a damaged record never makes gc drop results that are still in use.
/// A run folder without a record (a run killed before writing it) is passed over.
public enum RunRecords {
    public struct InUse: Sendable {
        /// Cache keys of the newest intact record of each workflow (and of the runs of
        /// chosen stages since the newest whole run).
        public var keys: Set<String>
        /// The records the keys came from.
        public var records: [URL]
        /// One line per damaged record set aside, for the user.
        public var notes: [String]
    }

    public static func keysInUse(runsDirectory: URL) -> InUse {
        var result = InUse(keys: [], records: [], notes: [])
        let fm = FileManager.default
        for workflow in ((try? fm.contentsOfDirectory(atPath: runsDirectory.path)) ?? []).sorted() {
            let folder = runsDirectory.appendingPathComponent(workflow)
            // Run folders are named yyyyMMdd-HHmmss-PID: newest first by name.
            let runs = ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0 != "latest" }.sorted(by: >)
            for run in runs {
                let record = folder.appendingPathComponent(run).appendingPathComponent("run.json")
                let parsed: Result<(keys: Set<String>, partial: Bool), Damage>
                do { parsed = keys(in: try BoundedRead.data(record, limit: maxRecordBytes)) }
                catch let big as BoundedRead.TooLarge { parsed = .failure(Damage(reason: big.description)) }
                catch { continue }
                switch parsed {
                case .success(let found):
                    result.keys.formUnion(found.keys)
                    result.records.append(record)
                    if found.partial { continue }
                case .failure(let problem):
                    let aside = record.appendingPathExtension("damaged")
                    try? fm.removeItem(at: aside)
                    let moved = (try? fm.moveItem(at: record, to: aside)) != nil
                    result.notes.append("funad: run record \(record.path) is damaged (\(problem.reason))"
                                        + (moved ? "; renamed to run.json.damaged" : "") + "; using the run before it")
                    continue
                }
                break
            }
        }
        return result
    }

    struct Damage: Error { var reason: String }

    /// A run record holds each stage's parameters, summary and file list: a few MB for the
    /// 91-stage MTD sweep. 256 MiB is far beyond any real one.
    public static let maxRecordBytes = 256 << 20

    /// The stage keys of a run record and whether it ran chosen stages only, or why it
    /// cannot be trusted.
    static func keys(in data: Data) -> Result<(keys: Set<String>, partial: Bool), Damage> {
        guard let object = try? JSONSerialization.jsonObject(with: data) else { return .failure(Damage(reason: "not valid JSON")) }
        guard let record = object as? [String: Any], record["funad_run_record"] as? Int == 1 else {
            return .failure(Damage(reason: "not a funad run record"))
        }
        guard let stages = record["stages"] as? [[String: Any]] else { return .failure(Damage(reason: "no list of stages")) }
        var keys: Set<String> = []
        for (i, stage) in stages.enumerated() {
            guard let key = stage["key"] as? String, CacheStore.isKey(key) else {
                return .failure(Damage(reason: "stage \(i + 1) has no valid cache key"))
            }
            keys.insert(key)
        }
        if let targets = record["targets"], !(targets is [String]) { return .failure(Damage(reason: "its targets are not a list of stage names")) }
        return .success((keys, !((record["targets"] as? [String]) ?? []).isEmpty))
    }
}
