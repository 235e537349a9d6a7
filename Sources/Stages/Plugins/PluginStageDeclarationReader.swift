import Foundation
import Workflow

/// Turns a plugin file's `stage = {...}` table into the `StageDeclaration` the validator,
/// the catalog and the cache key read, so that a plugin stage is checked exactly like a
/// built-in one. The reading is strict: a misspelt field or a default of the wrong type
/// would otherwise surface only when a workflow runs, far from the file at fault. Each
/// problem is one line naming the file and the field.
struct PluginStageDeclarationReader {
    /// The name shown in messages (`plugins/stages/score-ensemble.lua`).
    var file: String
    /// Type names a plugin may not take (the built-in ones).
    var reserved: Set<String>

    static let fields = ["type", "version", "summary", "consumes", "optionally_consumes", "produces", "params"]
    static let parameterFields = ["type", "default", "min", "max", "values", "of", "required", "help"]
    static let parameterTypes = ["int", "number", "bool", "string", "choice", "list"]
    static let elementTypes = ["int", "number", "bool", "string"]
    /// Declared by funad for every plugin stage (the sandbox limits).
    static let reservedParameters: Set<String> = [PluginStageLimits.parameterName]

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// The declaration in `value` (the global `stage`), with the limits parameter added.
    func read(_ value: LuaValue) throws(Problem) -> StageDeclaration {
        guard let table = value.tableValue, table.array.isEmpty else {
            throw fail("stage", value, "a table {type = ..., version = ..., summary = ..., produces = {...}, params = {...}, ...} (and a global function run(ctx))")
        }
        for key in table.fields.keys.sorted() where !Self.fields.contains(key) {
            throw Problem(description: "\(file): stage.\(key) is not a declaration field\(NameSuggestion.hint(for: key, among: Self.fields)); expected one of \(Self.fields.joined(separator: ", "))")
        }
        let f = table.fields
        let type = try name(f["type"], field: "stage.type", what: "a stage type name")
        if reserved.contains(type) {
            throw Problem(description: "\(file): stage.type is '\(type)', the name of a built-in stage type; choose another name")
        }
        guard let version = f["version"].flatMap(integer), version >= 1 else {
            throw fail("stage.version", f["version"], "an integer ≥ 1")
        }
        guard let summary = f["summary"]?.stringValue, !summary.isEmpty, !summary.contains("\n") else {
            throw fail("stage.summary", f["summary"], "a one-line description")
        }
        let consumes = try names(f["consumes"], field: "stage.consumes", allowEmpty: true)
        let optional = try names(f["optionally_consumes"], field: "stage.optionally_consumes", allowEmpty: true)
        guard f["produces"] != nil else { throw fail("stage.produces", nil, "a list of artifact types, e.g. {\"scores\"}") }
        let produces = try names(f["produces"], field: "stage.produces", allowEmpty: false)
        let parameters = try self.parameters(f["params"])
        return StageDeclaration(type: type, version: version, summary: summary, consumes: consumes, optionallyConsumes: optional,
                                produces: produces, parameters: parameters + [PluginStageLimits.declaration])
    }

    // MARK: - parameters

    private func parameters(_ value: LuaValue?) throws(Problem) -> [ParameterDeclaration] {
        guard let value else { return [] }
        guard let table = value.tableValue, table.array.isEmpty else {
            throw fail("stage.params", value, "a table of parameter name = {type = ..., ...}")
        }
        var out: [ParameterDeclaration] = []
        for name in table.fields.keys.sorted() {
            let field = "stage.params.\(name)"
            guard Self.isParameterName(name) else {
                throw Problem(description: "\(file): \(field) is not a valid parameter name; expected lowercase letters, digits and '_', starting with a letter")
            }
            if Self.reservedParameters.contains(name) {
                throw Problem(description: "\(file): \(field) is declared by funad for every plugin stage (the sandbox limits); choose another name")
            }
            out.append(try parameter(name, table.fields[name]!, field: field))
        }
        return out
    }

    private func parameter(_ name: String, _ value: LuaValue, field: String) throws(Problem) -> ParameterDeclaration {
        guard let table = value.tableValue, table.array.isEmpty else {
            throw fail(field, value, "a table {type = ..., default = ..., help = ...}")
        }
        let f = table.fields
        for key in f.keys.sorted() where !Self.parameterFields.contains(key) {
            throw Problem(description: "\(file): \(field).\(key) is not a parameter field\(NameSuggestion.hint(for: key, among: Self.parameterFields)); expected one of \(Self.parameterFields.joined(separator: ", "))")
        }
        guard let kind = f["type"]?.stringValue, Self.parameterTypes.contains(kind) else {
            throw fail("\(field).type", f["type"], "one of \(Self.parameterTypes.joined(separator: ", "))")
        }
        guard let help = f["help"]?.stringValue, !help.isEmpty, !help.contains("\n") else {
            throw fail("\(field).help", f["help"], "a one-line description of the parameter")
        }
        var required = false
        if let r = f["required"] {
            guard let b = r.boolValue else { throw fail("\(field).required", r, "true or false") }
            required = b
        }
        for key in ["min", "max"] where f[key] != nil && kind != "int" && kind != "number" {
            throw Problem(description: "\(file): \(field).\(key) is set on a \(kind) parameter; only int and number parameters take min and max")
        }
        if f["values"] != nil && kind != "choice" {
            throw Problem(description: "\(file): \(field).values is set on a \(kind) parameter; only choice parameters take values")
        }
        if f["of"] != nil && kind != "list" {
            throw Problem(description: "\(file): \(field).of is set on a \(kind) parameter; only list parameters take of")
        }
        let type = try parameterType(kind, f, field: field)
        var defaultValue: ParameterValue?
        if let d = f["default"] {
            guard let converted = Self.convert(d, to: type) else { throw fail("\(field).default", d, type.description) }
            defaultValue = converted
            if required {
                throw Problem(description: "\(file): \(field).required is true but a default is given; a parameter with a default is never missing")
            }
        }
        return ParameterDeclaration(name, type, default: defaultValue, required: required, help: help)
    }

    private func parameterType(_ kind: String, _ f: [String: LuaValue], field: String) throws(Problem) -> ParameterType {
        switch kind {
        case "int":
            let lo = try bound(f["min"], field: "\(field).min", integral: true)
            let hi = try bound(f["max"], field: "\(field).max", integral: true)
            if lo == nil && hi == nil { return .int() }
            let l = lo.map { Int($0) } ?? Int.min, h = hi.map { Int($0) } ?? Int.max
            guard l <= h else { throw Problem(description: "\(file): \(field).min is \(l), above max \(h)") }
            return .int(range: l...h)
        case "number":
            let lo = try bound(f["min"], field: "\(field).min", integral: false)
            let hi = try bound(f["max"], field: "\(field).max", integral: false)
            if lo == nil && hi == nil { return .double() }
            let l = lo ?? -.infinity, h = hi ?? .infinity
            guard l <= h else { throw Problem(description: "\(file): \(field).min is \(l), above max \(h)") }
            return .double(range: l...h)
        case "bool": return .bool
        case "string": return .string
        case "choice":
            let words = f["values"]?.tableValue.flatMap { $0.fields.isEmpty ? $0.array.compactMap(\.stringValue) : nil } ?? []
            guard !words.isEmpty, words.count == f["values"]?.tableValue?.array.count, Set(words).count == words.count else {
                throw fail("\(field).values", f["values"], "a non-empty list of distinct strings")
            }
            return .choice(words)
        default: // list
            guard let of = f["of"]?.stringValue, Self.elementTypes.contains(of) else {
                throw fail("\(field).of", f["of"], "one of \(Self.elementTypes.joined(separator: ", ")) (the element type)")
            }
            return .list(try parameterType(of, [:], field: field))
        }
    }

    private func bound(_ value: LuaValue?, field: String, integral: Bool) throws(Problem) -> Double? {
        guard let value else { return nil }
        if integral {
            guard let i = integer(value) else { throw fail(field, value, "an integer") }
            return Double(i)
        }
        guard let d = value.numberValue, d.isFinite else { throw fail(field, value, "a finite number") }
        return d
    }

    // MARK: - values

    /// A Lua value as a parameter value of `type`, or nil when it is not one (the same
    /// rules the validator applies to YAML: ints are integral, numbers widen ints, ranges
    /// and choice words hold).
    static func convert(_ value: LuaValue, to type: ParameterType) -> ParameterValue? {
        switch type {
        case .int(let range):
            guard case .integer(let i) = value, let v = Int(exactly: i) else { return nil }
            return range.map { $0.contains(v) } ?? true ? .int(v) : nil
        case .double(let range):
            guard let v = value.numberValue, v.isFinite else { return nil }
            return range.map { $0.contains(v) } ?? true ? .double(v) : nil
        case .bool: return value.boolValue.map(ParameterValue.bool)
        case .string: return value.stringValue.map(ParameterValue.string)
        case .choice(let words): return value.stringValue.flatMap { words.contains($0) ? .string($0) : nil }
        case .list(let element):
            guard let t = value.tableValue, t.fields.isEmpty else { return nil }
            var items: [ParameterValue] = []
            for item in t.array {
                guard let v = convert(item, to: element) else { return nil }
                items.append(v)
            }
            return .list(items)
        default: return nil
        }
    }

    /// Stage types and artifact types: lowercase letters, digits and '-', from a letter.
    static func isTypeName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, ("a"..."z").contains(first), !s.hasSuffix("-") else { return false }
        return s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    static func isParameterName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    private func name(_ value: LuaValue?, field: String, what: String) throws(Problem) -> String {
        guard let s = value?.stringValue, Self.isTypeName(s) else {
            throw fail(field, value, "\(what) of lowercase letters, digits and '-', starting with a letter")
        }
        return s
    }

    private func names(_ value: LuaValue?, field: String, allowEmpty: Bool) throws(Problem) -> [String] {
        guard let value else { return [] }
        guard let t = value.tableValue, t.fields.isEmpty, allowEmpty || !t.array.isEmpty else {
            throw fail(field, value, allowEmpty ? "a list of artifact types, e.g. {\"scores\"}" : "a non-empty list of artifact types, e.g. {\"scores\"}")
        }
        var out: [String] = []
        for (i, item) in t.array.enumerated() {
            out.append(try name(item, field: "\(field)[\(i + 1)]", what: "an artifact type name"))
        }
        return out
    }

    private func integer(_ value: LuaValue) -> Int? {
        if case .integer(let i) = value { return Int(exactly: i) }
        return nil
    }

    private func fail(_ field: String, _ value: LuaValue?, _ expected: String) -> Problem {
        Problem(description: "\(file): \(field) is \(Self.describe(value)); expected \(expected)")
    }

    /// A Lua value as a message shows it: 'text', 3, 2.5, true, missing, a table.
    static func describe(_ value: LuaValue?) -> String {
        switch value {
        case nil, .nil?: return "missing"
        case .boolean(let b)?: return b ? "true" : "false"
        case .integer(let i)?: return "\(i)"
        case .number(let d)?: return "\(d)"
        case .string(let s)?: return "'\(s)'"
        case .table?, .vector?: return "a table"
        }
    }
}
