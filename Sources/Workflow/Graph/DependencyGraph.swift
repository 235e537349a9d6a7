/// The `needs` relation as a graph: node → the nodes it depends on. Order-preserving so
/// that plans and listings follow the file's order wherever dependencies allow.
public struct DependencyGraph: Sendable {
    public private(set) var nodes: [String]
    public private(set) var dependencies: [String: [String]]

    public init(_ edges: [(String, [String])]) {
        nodes = edges.map(\.0)
        dependencies = Dictionary(edges, uniquingKeysWith: { a, b in a + b })
    }

    /// Kahn's algorithm, always taking the earliest ready node in file order; nil on a cycle.
    public func topologicalOrder() -> [String]? {
        var remaining = Dictionary(uniqueKeysWithValues: nodes.map { n in (n, Set(dependencies[n, default: []].filter { dependencies[$0] != nil })) })
        var order: [String] = []
        while order.count < nodes.count {
            guard let next = nodes.first(where: { remaining[$0]?.isEmpty == true }) else { return nil }
            order.append(next)
            remaining[next] = nil
            for key in remaining.keys { remaining[key]!.remove(next) }
        }
        return order
    }

    /// One cycle as a path [a, b, …] meaning a needs b needs … needs a; nil if acyclic.
    public func findCycle() -> [String]? {
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        var stack: [String] = []
        func visit(_ n: String) -> [String]? {
            marks[n] = .visiting
            stack.append(n)
            for d in dependencies[n, default: []] where dependencies[d] != nil {
                if marks[d] == .visiting {
                    return Array(stack[stack.firstIndex(of: d)!...])
                }
                if marks[d] == nil, let c = visit(d) { return c }
            }
            stack.removeLast()
            marks[n] = .done
            return nil
        }
        for n in nodes where marks[n] == nil {
            if let c = visit(n) { return c }
        }
        return nil
    }

    /// Every node that depends on `node`, directly or not.
    public func dependents(of node: String) -> Set<String> {
        var out: Set<String> = []
        var frontier = [node]
        while let n = frontier.popLast() {
            for m in nodes where dependencies[m, default: []].contains(n) && !out.contains(m) {
                out.insert(m)
                frontier.append(m)
            }
        }
        return out
    }
}
