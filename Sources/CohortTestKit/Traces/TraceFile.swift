/// A data-driven trace file, in the manner of etcd-io/raft's `testdata/*.txt`.
///
/// A file is a sequence of comment lines (starting with `#`), blank lines and command blocks. A block is a
/// command line, optional argument lines, a `----` separator and the expected output, which runs up to
/// the next blank line (or the end of the file):
///
///     # a comment tells the story
///     campaign a
///     ----
///     a: follower → preCandidate (term 1)
///
/// Everything but the expected outputs is kept verbatim, so a file can be written back with new outputs.
public struct TraceFile: Sendable {
    /// A piece of the file: a line kept as it is, or a command block.
    enum Part: Sendable {
        /// A comment or blank line.
        case text(String)
        /// A command and its expected output.
        case block(TraceBlock)
    }

    /// The file's pieces, in order.
    var parts: [Part]

    /// The command blocks, in order.
    public var blocks: [TraceBlock] {
        parts.compactMap { if case .block(let block) = $0 { block } else { nil } }
    }

    /// Parses `text`; a malformed block throws, naming its line.
    public init(parsing text: String) throws(TraceError) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        parts = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            if Self.isBlank(line) || line.hasPrefix("#") {
                parts.append(.text(line))
                index += 1
                continue
            }
            let start = index
            var input = [line]
            index += 1
            while index < lines.count, lines[index] != TraceBlock.separator {
                guard !Self.isBlank(lines[index]) else {
                    throw TraceError("`\(line)` needs a `----` line before its expected output", line: start + 1)
                }
                input.append(lines[index])
                index += 1
            }
            guard index < lines.count else {
                throw TraceError("`\(line)` has no `----` line", line: start + 1)
            }
            index += 1
            var expected: [String] = []
            while index < lines.count, !Self.isBlank(lines[index]) {
                expected.append(lines[index])
                index += 1
            }
            parts.append(.block(TraceBlock(line: start + 1, input: input, expected: expected)))
        }
    }

    /// The file with each block's expected output replaced by `outputs[i]` (blocks past the end of
    /// `outputs` keep theirs).
    public func rendered(with outputs: [[String]]) -> String {
        var lines: [String] = []
        var blockIndex = 0
        for part in parts {
            switch part {
            case .text(let line):
                lines.append(line)
            case .block(let block):
                let output = blockIndex < outputs.count ? outputs[blockIndex] : block.expected
                lines += block.input + [TraceBlock.separator] + output
                blockIndex += 1
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func isBlank(_ line: String) -> Bool {
        line.allSatisfy(\.isWhitespace)
    }
}

/// One command block of a trace file.
public struct TraceBlock: Sendable {
    /// The line that separates a command from its expected output.
    static let separator = "----"

    /// The 1-based line number of the command line.
    public var line: Int
    /// The command line, then its argument lines.
    public var input: [String]
    /// The output the command must print, line by line.
    public var expected: [String]

    /// The parsed command.
    public var command: TraceCommand { TraceCommand(input) }
}

/// A command line split into its name, positional words and `key=value` options, with the argument lines
/// that followed it.
public struct TraceCommand: Sendable, CustomStringConvertible {
    /// The first word.
    public var name: String
    /// The other words without an `=`, in order.
    public var words: [String]
    /// The `key=value` words.
    public var options: [String: String]
    /// Lines after the command line, before `----`.
    public var arguments: [String]
    /// The command line as written.
    public var description: String

    /// Splits `input` (the command line first).
    public init(_ input: [String]) {
        let line = input.first ?? ""
        description = line
        let tokens = line.split(separator: " ").map(String.init)
        name = tokens.first ?? ""
        words = []
        options = [:]
        for token in tokens.dropFirst() {
            if let equals = token.firstIndex(of: "=") {
                options[String(token[..<equals])] = String(token[token.index(after: equals)...])
            } else {
                words.append(token)
            }
        }
        arguments = Array(input.dropFirst())
    }

    /// The positional word at `index`, or an error saying what is missing.
    public func word(_ index: Int, _ what: String) throws(TraceError) -> String {
        guard index < words.count else { throw TraceError("`\(description)`: missing \(what)") }
        return words[index]
    }

    /// The option `key` as a flag (`true`/`false`), or `fallback` when absent.
    public func flag(_ key: String, default fallback: Bool) throws(TraceError) -> Bool {
        switch options[key] {
        case nil: return fallback
        case "true"?: return true
        case "false"?: return false
        case let other?: throw TraceError("`\(description)`: \(key) must be true or false, not \(other)")
        }
    }

    /// The option `key` as a whole number, or `fallback` when absent.
    public func number(_ key: String, default fallback: Int) throws(TraceError) -> Int {
        guard let text = options[key] else { return fallback }
        guard let value = Int(text) else { throw TraceError("`\(description)`: \(key) must be a number, not \(text)") }
        return value
    }
}

/// A trace file or command that cannot be run as written; the message says what to fix.
public struct TraceError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var description: String
    /// The line of the trace file at fault, when the parser knows it.
    public var line: Int?

    /// An error saying `description`, about `line` when given.
    public init(_ description: String, line: Int? = nil) {
        self.description = description
        self.line = line
    }
}
