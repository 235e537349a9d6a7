import Foundation

/// A small RFC 4180 reader (quoted fields, doubled quotes, CRLF) for the labels files of
/// VisA (`split_csv/1cls.csv`) and of generic datasets. Rows keep their 1-based line
/// numbers so errors can point at them.
struct CSVTable {
    var header: [String]
    var rows: [(line: Int, fields: [String])]
    let path: String

    static func read(_ url: URL) throws -> CSVTable {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw DatasetError("\(url.path): cannot read CSV file (\(error.localizedDescription))")
        }
        return try parse(text, path: url.path)
    }

    static func parse(_ text: String, path: String) throws -> CSVTable {
        var records: [(Int, [String])] = []
        var field = "", fields: [String] = []
        var inQuotes = false, line = 1, recordLine = 1
        var chars = Array(text.unicodeScalars)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        func endRecord() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty) {
                records.append((recordLine, fields))
            }
            fields = []; field = ""
        }
        while i < chars.count {
            let c = chars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                inQuotes = true
            } else if c == "," {
                fields.append(field); field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < chars.count && chars[i + 1] == "\n" { i += 1 }
                endRecord()
                line += 1
                recordLine = line
            } else {
                field.unicodeScalars.append(c)
            }
            i += 1
        }
        if inQuotes { throw DatasetError("\(path):\(recordLine): unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        guard let first = records.first else { throw DatasetError("\(path): empty CSV file, expected a header row") }
        let header = first.1.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let rows = records.dropFirst().map { (line: $0.0, fields: $0.1.map { $0.trimmingCharacters(in: .whitespaces) }) }
        for row in rows where row.fields.count != header.count {
            throw DatasetError("\(path):\(row.line): \(row.fields.count) fields, expected \(header.count) "
                               + "(columns \(header.joined(separator: ",")))")
        }
        return CSVTable(header: header, rows: Array(rows), path: path)
    }

    /// Index of a required column, or an error naming the file and the columns found.
    func column(_ name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw DatasetError("\(path): missing column \"\(name)\" (found \(header.joined(separator: ",")))")
        }
        return i
    }
}
