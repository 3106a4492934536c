/// The settings of one scope that its core acts on, in milliseconds (the shell converts the configuration's durations).
public struct ScopeSettings: Sendable, Equatable {
    /// How long a sync waits for its acknowledgement before it is sent again.
    public var syncInterval: UInt64
    /// How often one random peer gets a digest (anti-entropy); nil: never.
    public var antiEntropyInterval: UInt64?
    /// Resends of an unanswered sync before the peer's circuit breaker opens.
    public var maxRetries: Int
    /// The most groups this node may have local members in; a join that would add one more fails.
    public var maxGroups: Int
    /// How often a node with members, that broadcast nothing to a peer lately, sends it a beat; nil: never.
    public var beatInterval: UInt64?
    /// How long an open breaker stays open before one more sync is tried.
    public var breakerOpenFor: UInt64

    public init(
        syncInterval: UInt64 = 2_000, antiEntropyInterval: UInt64? = 30_000, maxRetries: Int = 3,
        maxGroups: Int = 1_000_000, beatInterval: UInt64? = 100_000, breakerOpenFor: UInt64? = nil
    ) {
        self.syncInterval = max(1, syncInterval)
        self.antiEntropyInterval = antiEntropyInterval
        self.maxRetries = max(0, maxRetries)
        self.maxGroups = max(0, maxGroups)
        self.beatInterval = beatInterval
        self.breakerOpenFor = breakerOpenFor ?? antiEntropyInterval ?? 30_000
    }
}

/// Why a local operation was refused.
public enum GroupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Only this node's live processes join and leave here (as in OTP's `pg`).
    case notLocal(String)
    /// The group name is empty or longer than ``GroupFrame/maxGroupBytes`` UTF-8 bytes.
    case invalidGroup(String)
    /// Joining would make this node a member of more than `max_groups` groups.
    case tooManyGroups(limit: Int)
    /// No members given.
    case noMembers
    /// The configuration's `pg.scopes` has no scope of this name.
    case unknownScope(String)

    public var description: String {
        switch self {
        case .notLocal(let pid): "\(pid) is not a live process of this node; a process joins and leaves groups on its own node"
        case .invalidGroup(let why): "invalid group name: \(why)"
        case .tooManyGroups(let limit): "this node already has members in \(limit) groups of the scope (max_groups)"
        case .noMembers: "no processes given"
        case .unknownScope(let name): "no pg scope named \(name); the scopes are the configuration's pg.scopes"
        }
    }
}
