/// The identity of a log entry, `(term, index)`, ordered as Raft orders "more up to date" logs: a later
/// last term wins, and with equal terms the longer log wins.
public struct LogPosition: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The entry's term.
    public var term: Term
    /// The entry's index.
    public var index: LogIndex

    /// The position of the entry at `index` written in `term`.
    public init(term: Term, index: LogIndex) {
        self.term = term
        self.index = index
    }

    /// The position before the first entry of an empty log.
    public static let zero = LogPosition(term: 0, index: 0)

    public static func < (lhs: LogPosition, rhs: LogPosition) -> Bool {
        lhs.term != rhs.term ? lhs.term < rhs.term : lhs.index < rhs.index
    }

    public var description: String { "\(index)@\(term)" }
}
