@testable import CohortConfig
import Testing

/// The configuration file's YAML, composed from libyaml's events (YAMLDocument.swift).
@Suite struct YAMLDocumentTests {
    /// The tree as text: maps `{k: v}`, lists `[a, b]`, plain scalars bare, others quoted; `@line` after each.
    private func shape(_ node: YAMLNode?) -> String {
        guard let node else { return "nil" }
        switch node {
        case .scalar(let scalar): return (scalar.isPlain ? scalar.string : "'\(scalar.string)'") + "@\(scalar.line)"
        case .sequence(let sequence):
            return "[" + sequence.items.map(shape).joined(separator: ", ") + "]@\(sequence.line)"
        case .mapping(let mapping):
            return "{" + mapping.entries.map { "\(shape($0.key)): \(shape($0.value))" }.joined(separator: ", ") + "}@\(mapping.line)"
        }
    }

    private func composed(_ text: String) throws(YAMLError) -> String { shape(try YAMLNode.compose(text)) }

    private func failure(_ text: String) -> YAMLError? {
        do throws(YAMLError) {
            _ = try YAMLNode.compose(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func mapsListsAndScalarsKeepTheirOrderTextAndLines() throws {
        let text = "b: 1\na:\n  - x\n  - \"y\"\n  - 'z'\nc: {d: true, e: [1, 2]}\nf: |\n  two\n  lines\n"
        let tree = try composed(text)
        #expect(
            tree
                == "{b@1: 1@1, a@2: [x@3, 'y'@4, 'z'@5]@3, c@6: {d@6: true@6, e@6: [1@6, 2@6]@6}@6, "
                + "f@7: 'two\nlines\n'@7}@1")
    }

    @Test func everyScalarStaysTextAndOnlyPlainOnesCanBeNull() throws {
        // No implicit typing: the schema reads the text. A quoted "null" is the word, a plain one is null.
        let node = try #require(try YAMLNode.compose("a: 010\nb: 1e3\nc: yes\nd: ~\ne: \"null\"\nf:\n"))
        guard case .mapping(let mapping) = node else { Issue.record("not a map"); return }
        let values = mapping.entries.map { entry -> String in
            guard case .scalar(let scalar) = entry.value else { return "?" }
            return "\(scalar.string)|\(scalar.isPlain)"
        }
        #expect(values == ["010|true", "1e3|true", "yes|true", "~|true", "null|false", "|true"])
        // Through the loader: a quoted "null" name is a name, a plain one keeps the default.
        #expect(try loader().load(yaml: "cluster:\n  name: \"null\"\n").cluster.name == "null")
        #expect(try loader(hostName: "box-1").load(yaml: "cluster:\n  name: null\n").cluster.name == "box-1")
    }

    @Test func anEmptyDocumentOrOnlyCommentsHoldsNothing() throws {
        #expect(try YAMLNode.compose("") == nil)
        #expect(try YAMLNode.compose("# nothing here\n\n") == nil)
        #expect(try composed("---\nname: a\n...\n") == "{name@2: a@2}@2")
    }

    @Test func anAliasStandsForWhatItsAnchorNames() throws {
        let text = "base: &b\n  x: 1\ncopy: *b\nword: &w hello\nagain: *w\n"
        let tree = try composed(text)
        #expect(tree == "{base@1: {x@2: 1@2}@1, copy@3: {x@2: 1@2}@1, word@4: hello@4, again@5: hello@5}@1")
        #expect(failure("a: *nowhere\n") == YAMLError(problem: "unknown alias *nowhere", line: 1))
        // Through the loader: the alias's value is read as if written there.
        let settings = try loader().load(yaml: "cluster:\n  name: &n box-7\n  failure_domain: *n\n")
        #expect(settings.cluster.name == "box-7")
        #expect(settings.cluster.failureDomain == "box-7")
    }

    @Test func anAliasBombIsRefusedBeforeItTakesTheMemory() {
        // Ten levels of ten aliases each: 10^10 nodes once expanded.
        var text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            let previous = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
            text += "l\(level): &l\(level) [\(previous)]\n"
        }
        let error = failure(text)
        #expect(error?.problem == "the document expands to more than 100000 nodes (through aliases)")
        #expect(error?.line == 5)  // about 11, 111, 1,111, 11,111 nodes on lines 1-4; line 5 would add 111,111
    }

    @Test func aKeyGivenTwiceInOneMapIsAnErrorAtItsSecondLine() {
        #expect(failure("a: 1\nb:\n  c: 1\n  c: 2\n") == YAMLError(problem: "duplicate key c", line: 4))
        // The same key in two different maps is fine.
        #expect(failure("a:\n  c: 1\nb:\n  c: 2\n") == nil)
    }

    @Test func aSecondDocumentIsAnError() {
        #expect(failure("a: 1\n---\nb: 2\n") == YAMLError(problem: "expected a single document, found a second", line: 2))
    }

    @Test func libyamlsOwnErrorsCarryTheirLine() {
        let indentation = failure("cluster:\n  enabled: true\n   name: x\n")
        #expect(indentation?.line == 3)
        #expect(indentation?.problem.contains("mapping values are not allowed") == true)
        let unclosed = failure("a: [1, 2\nb: 3\n")
        #expect(unclosed?.line != nil)
        #expect(unclosed?.problem.isEmpty == false)
        let tab = failure("a:\n\tb: 1\n")
        #expect(tab?.line == 2)
    }

    @Test func aControlCharacterIsAReaderErrorNamingItsByteOffset() {
        // (Bytes that are not UTF-8 never reach the composer: the loader refuses a file that does not decode.)
        #expect(failure("a: ok\nb: \u{07}\n") == YAMLError(problem: "control characters are not allowed (byte 9)", line: nil))
    }
}

/// Values in messages are quoted with control characters escaped (`RawValue.quoted`, without Foundation's
/// `String(format:)`).
@Suite struct QuotedValueTests {
    @Test func controlCharactersAreEscapedAsTwoHexDigits() {
        #expect(RawValue.quoted("a\u{07}b") == "\"a\\x07b\"")
        #expect(RawValue.quoted("\u{1F}\u{7F}") == "\"\\x1F\\x7F\"")
        #expect(RawValue.quoted("tab\there \"q\" \\") == "\"tab\\there \\\"q\\\" \\\\\"")
        #expect(RawValue.quoted("café") == "\"café\"")
    }
}
