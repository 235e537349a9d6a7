import Foundation
import Workflow

/// The Lua hooks of one stage run: loaded once from the stage's `hooks:` and `lua:`
/// parameters (one sandboxed state per hook), with `print` going to the stage log. After
/// the run, `record` writes what the scripts logged with `funad.log` to `hooks.json` and
/// a summary into the run record.
final class HookSet {
    let hooks: [String: LuaHook]

    init(_ context: StageContext) throws {
        let limits = LuaHookParameters.limits(context.parameters)
        var hooks: [String: LuaHook] = [:]
        for (name, reference) in LuaHookParameters.references(context.parameters).sorted(by: { $0.key < $1.key }) {
            hooks[name] = try LuaHook(reference, limits: limits, stage: context.stageName,
                                      print: { [weak context] line in context?.log("[\(reference.displayName)] \(line)") })
            context.log("hook \(name): \(reference.displayName) (parameters \(reference.parameters.canonicalJSON))")
        }
        self.hooks = hooks
    }

    subscript(name: String) -> LuaHook? { hooks[name] }

    var isEmpty: Bool { hooks.isEmpty }

    /// `hooks.json` (every logged value) and a compact summary per hook in the record.
    func record(into context: StageContext) throws {
        guard !hooks.isEmpty else { return }
        var file: [String: Any] = [:]
        var summary: [String: Any] = [:]
        for (name, hook) in hooks.sorted(by: { $0.key < $1.key }) {
            let logged = hook.loggedValues
            file[name] = ["script": hook.reference.displayName, "calls": hook.callCount,
                          "logged": logged.map { ["call": $0.call, "at": $0.label, "name": $0.name, "value": $0.value] as [String: Any] }]
            var byName: [String: [Double]] = [:]
            for v in logged { byName[v.name, default: []].append(v.value) }
            summary[name] = ["script": hook.reference.displayName, "calls": hook.callCount,
                             "logged": byName.mapValues { v in ["count": v.count, "first": v.first!, "last": v.last!,
                                                                "mean": v.reduce(0, +) / Double(v.count)] as [String: Any] }]
        }
        let data = try JSONSerialization.data(withJSONObject: file, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: context.outputDirectory.appendingPathComponent("hooks.json"))
        context.record("hooks", summary)
    }
}
