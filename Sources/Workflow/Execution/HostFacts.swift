import Foundation

/// Where a run happened, written into its run record as `host`. Floating-point-heavy
/// stages give figures that move with the CPU model and the math library's kernel choice
/// (the same cache key, another machine, other decimals), so a record compared with
/// another machine's has to say which machine made it. The engine reads what any host
/// has (CPU, logical cores, operating system); the application adds what only it knows,
/// such as its BLAS build, through `RunOptions.host`.
struct HostFacts {
    /// CPU as `/proc/cpuinfo` names it: "AMD EPYC (family 23, model 49)"; nil when the
    /// file is absent (not Linux) or names no model.
    static func cpu(cpuinfo: String) -> String? {
        var fields: [String: String] = [:]
        for line in cpuinfo.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty, !fields.isEmpty { break }  // first processor only
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        guard let name = fields["model name"], !name.isEmpty else { return nil }
        guard let family = fields["cpu family"], let model = fields["model"] else { return name }
        return "\(name) (family \(family), model \(model))"
    }

    /// The record's `host` object: cpu, cores, os, then the application's own facts
    /// (which may not replace the engine's).
    static func record(extra: [String: String]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, value) in extra { out[key] = value }
        let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        out["cpu"] = info.flatMap(cpu(cpuinfo:)) ?? "unknown"
        out["cores"] = ProcessInfo.processInfo.activeProcessorCount
        out["os"] = ProcessInfo.processInfo.operatingSystemVersionString
        return out
    }
}
