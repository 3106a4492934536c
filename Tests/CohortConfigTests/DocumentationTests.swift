@testable import CohortConfig
import Foundation
import Testing

/// `docs/configuration.md` documents every key, its default and its variables.
@Suite struct DocumentationTests {
    /// The reference, found from this file's real location (the test directory may be a symlink).
    static func reference() throws -> String {
        let here = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        let docs = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/configuration.md")
        return try String(contentsOf: docs, encoding: .utf8)
    }

    /// Key table rows of the reference: key path → the default column.
    static func documentedDefaults() throws -> [String: String] {
        var rows: [String: String] = [:]
        for line in try reference().split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.replacingOccurrences(of: "\\|", with: "/").split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4 else { continue }
            rows[String(cells[0].dropFirst().dropLast())] = cells[2]
        }
        return rows
    }

    /// Scalar values of `renderYAML()` by key path.
    static func renderedScalars(_ settings: CohortSettings) -> [String: String] {
        var values: [String: String] = [:]
        var sections: [String] = []
        for line in settings.renderYAML().split(separator: "\n") where !line.hasPrefix("#") {
            let depth = line.prefix(while: { $0 == " " }).count / 2
            guard let colon = line.firstIndex(of: ":"), !line.contains("- ") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            sections = Array(sections.prefix(depth))
            var value = String(line[line.index(after: colon)...])
            if let comment = value.range(of: "  #") { value = String(value[..<comment.lowerBound]) }
            value = value.trimmingCharacters(in: .whitespaces)
            if value.isEmpty {
                sections.append(name)
            } else {
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                values[(sections + [name]).joined(separator: ".")] = value
            }
        }
        return values
    }

    @Test func everyKeyAndVariableIsDocumented() throws {
        let text = try Self.reference()
        let rows = try Self.documentedDefaults()
        for key in ConfigSchema.keys {
            #expect(rows[key.path] != nil, "\(key.path) has no row in docs/configuration.md")
            for variable in key.variables {
                #expect(text.contains("`\(variable)`"), "\(variable) is not documented")
            }
        }
        for variable in ConfigLoader.exemptVariables { #expect(text.contains("`\(variable)`")) }
    }

    @Test func documentedDefaultsMatchTheCode() throws {
        let rows = try Self.documentedDefaults()
        let rendered = Self.renderedScalars(try loader().defaults())
        var compared = 0
        for (path, column) in rows where column.hasPrefix("`") && column.hasSuffix("`") && ConfigSchema.keysByPath[path] != nil {
            var documented = String(column.dropFirst().dropLast())
            if documented == "\"\"" { documented = "" }
            guard let value = rendered[path] else { continue }
            #expect(value == documented, "\(path): docs say \(documented), code says \(value)")
            compared += 1
        }
        #expect(compared >= 35)
    }
}
