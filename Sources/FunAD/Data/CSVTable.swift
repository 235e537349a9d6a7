import Foundation

/// A small RFC 4180 reader (quoted fields, doubled quotes, CRLF) for the labels files of
/// VisA (`split_csv/1cls.csv`) and of generic datasets. Rows keep their 1-based line
/// numbers so errors can point at them.
struct CSVTable {
    var header: [String]
    var rows: [(line: Int, fields: [String])]
    let path: String

    /// Labels files list one image per row: VisA's `1cls.csv` (10,821 images) is ~1 MB.
    /// 256 MiB is hundreds of times any real one and still fits in memory as text.
    static let maxFileBytes = 256 << 20
    /// Characters in one row (a quoted field's line breaks included). A row is a few paths
    /// and labels, ~100 characters; the bound stops an unterminated quote or a binary file
    /// from turning into one huge field.
    static let maxRowCharacters = 1 << 16
    /// Fields in one row. Labels files have 3–6 columns.
    static let maxColumns = 1024

    static func read(_ url: URL) throws -> CSVTable {
        if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int, size > maxFileBytes {
            throw DatasetError("\(url.path): CSV file has \(size) bytes; a labels file may have at most \(maxFileBytes) bytes")
        }
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
        var inQuotes = false, line = 1, recordLine = 1, recordStart = 0
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
            guard i - recordStart < maxRowCharacters || (!inQuotes && (c == "\n" || c == "\r")) else {
                throw DatasetError("\(path):\(recordLine): row longer than \(maxRowCharacters) characters; a labels file may have at most \(maxRowCharacters) per row")
            }
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
                guard fields.count + 1 < maxColumns else {
                    throw DatasetError("\(path):\(recordLine): more than \(maxColumns) columns; a labels file may have at most \(maxColumns)")
                }
                fields.append(field); field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < chars.count && chars[i + 1] == "\n" { i += 1 }
                endRecord()
                line += 1
                recordLine = line
                recordStart = i + 1
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
