/// `funad stages`: every registered stage type with its artifacts and parameters, made
/// from the same declarations the validator checks against.
public enum StageCatalog {
    public static func render(_ registry: StageRegistry) -> String {
        var out: [String] = []
        for name in registry.sortedNames {
            let d = registry[name]!.declaration
            let origin = d.definitionFile.map { " (plugin: \($0))" } ?? ""
            out.append("\(d.type) (v\(d.version))\(origin): \(d.summary)")
            let consumes = d.consumes + d.optionallyConsumes.map { "\($0) (optional)" }
            out.append("  consumes: \(consumes.isEmpty ? "-" : consumes.joined(separator: ", "))")
            out.append("  produces: \(d.produces.joined(separator: ", "))")
            if d.parameters.isEmpty { out.append("  parameters: none") } else { out.append("  parameters:") }
            render(d.parameters, indent: "    ", into: &out)
            out.append("")
        }
        return out.joined(separator: "\n")
    }

    private static func render(_ params: [ParameterDeclaration], indent: String, into out: inout [String]) {
        for p in params {
            var line = "\(indent)\(p.name): \(p.type)"
            if p.required { line += ", required" }
            if let d = p.defaultValue { line += ", default \(d.canonicalJSON)" }
            line += " — \(p.help)"
            out.append(line)
            if case .object(let children) = p.type { render(children, indent: indent + "  ", into: &out) }
        }
    }
}
