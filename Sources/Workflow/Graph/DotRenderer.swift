/// Graphviz DOT for a validated workflow: one node per stage (name and type), an edge
/// from each needed stage to its consumer labelled with the artifact types it carries.
public enum DotRenderer {
    public static func render(_ workflow: ValidatedWorkflow, cached: Set<String> = []) -> String {
        var lines = ["digraph \"\(escape(workflow.spec.name))\" {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
        for s in workflow.stages {
            let style = cached.contains(s.name) ? ", style=\"rounded,filled\", fillcolor=\"#dddddd\"" : ""
            lines.append("  \"\(escape(s.name))\" [label=\"\(escape(s.name))\\n(\(escape(s.declaration.type)))\"\(style)];")
        }
        for s in workflow.stages {
            for n in s.needs {
                let upstream = workflow.stage(named: n)!
                let carried = upstream.declaration.produces.filter { s.declaration.consumes.contains($0) || s.declaration.optionallyConsumes.contains($0) }
                let label = carried.isEmpty ? "" : " [label=\"\(escape(carried.joined(separator: ", ")))\"]"
                lines.append("  \"\(escape(n))\" -> \"\(escape(s.name))\"\(label);")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
