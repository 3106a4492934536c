/// A configuration problem, one line: where (`keyPath`) and what is wrong and allowed (`message`).
///
/// `keyPath` is the full key path (`cluster.raft.max_voters`, `pg.scopes[1].name`), `VARIABLE=value` for a
/// value from the environment, or the file path when the file itself is the problem. A value from the file
/// ends the message with ` (line N)`.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    /// Where the problem is.
    public var keyPath: String
    /// What is wrong and what is allowed.
    public var message: String

    /// Creates an error; newlines are folded to spaces so the description stays one line.
    public init(keyPath: String, message: String) {
        self.keyPath = Self.oneLine(keyPath)
        self.message = Self.oneLine(message)
    }

    /// `"<keyPath>: <message>"`.
    public var description: String { "\(keyPath): \(message)" }

    private static func oneLine(_ text: String) -> String {
        guard text.contains(where: \.isNewline) else { return text }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// Did-you-mean suggestions for misspelt keys and variables.
enum Suggestion {
    /// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let normalized = normalize(word)
        if let exact = candidates.first(where: { normalize($0) == normalized }) { return exact }
        let limit = word.count <= 4 ? 1 : word.count <= 12 ? 2 : 3
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(Array(word.lowercased()), Array(candidate.lowercased()))
            if distance <= limit, distance < (best?.distance ?? .max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// Case, `-` and `_` do not count: `maxVoters`, `max-voters` and `max_voters` are one key.
    private static func normalize(_ text: String) -> String {
        String(text.lowercased().filter { $0 != "_" && $0 != "-" })
    }

    /// Levenshtein distance.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
