import CohortCore

/// A change to the coordination state, as carried in a Raft command entry.
///
/// `time` is the leader's wall clock (milliseconds since the Unix epoch), written into the entry by the
/// leader when it appends it (``CoordinationCommand/stamp(_:time:)``): every replica applies the same
/// entry at the same time, so TTLs, lock delays and wait deadlines come out identical everywhere, whatever
/// each replica's own clock says. The state's clock is the largest time applied so far, so it never runs
/// backwards when leadership moves to a node whose clock is behind.
public struct CoordinationCommand: Sendable, Hashable {
    /// The leader's time when it appended the entry (0 until stamped).
    public var time: UInt64
    /// What to do.
    public var operation: Operation

    /// A command; the leader stamps `time` when it appends it.
    public init(_ operation: Operation, time: UInt64 = 0) {
        self.operation = operation
        self.time = time
    }

    /// The operations.
    public enum Operation: Sendable, Hashable {
        /// Sets `key` in `store` if `condition` holds; with a TTL (ms, > 0) the key expires that long after
        /// this write unless written again.
        case put(store: String, key: String, value: [UInt8], condition: Condition, ttl: UInt64)
        /// Removes `key` from `store` if it exists and `condition` holds.
        case delete(store: String, key: String, condition: Condition)
        /// Reads `key` through the log: how a node without a replica reads linearizably. Changes nothing.
        case read(store: String, key: String)
        /// Compares every key of `compares`; if all hold, applies `success`, else `failure`, atomically.
        case transaction(store: String, compares: [Compare], success: [TransactionOperation], failure: [TransactionOperation])
        /// Grants `name` to `holder` if it is free; else queues it for up to `wait` ms (0: fail fast).
        /// `lockDelay` (ms) is how long the lock stays unavailable if the holder's node departs.
        case acquireLock(name: String, holder: PID, wait: UInt64, lockDelay: UInt64)
        /// Releases `name` if `holder` holds it (granting the next waiter), or takes `holder` out of its
        /// queue.
        case releaseLock(name: String, holder: PID)
        /// Binds `name` to `pid` in the consistent scope if it is unbound (first write wins).
        case registerName(name: String, pid: PID)
        /// Unbinds `name` if `pid` owns it.
        case unregisterName(name: String, pid: PID)
        /// `pid` exited (or its session ended): releases its locks, names and places in lock queues.
        case releaseOwner(PID)
        /// `node` departed, or restarted past `throughIncarnation`: releases everything held by its
        /// processes of incarnations up to `throughIncarnation`, with the lock delays of their locks.
        case releaseNode(NodeID, throughIncarnation: UInt64)
        /// Time passed: expires TTL keys, lock waits and name reservations whose time came, ends lock
        /// delays that are over.
        case sweep
        /// Reserves `name` for `pid` for `timeout` ms (the first step of a strong registration) if no
        /// name record and no other reservation holds it. The reservation's token is the entry's index.
        case reserveName(name: String, pid: PID, timeout: UInt64)
        /// Turns the reservation `token` of `name` for `pid` into a strong name, if it is still there.
        case confirmName(name: String, pid: PID, token: UInt64)
        /// Drops the reservation `token` of `name` for `pid`, if it is still there.
        case cancelReservation(name: String, pid: PID, token: UInt64)
    }

    /// When a conditional write applies.
    public enum Condition: Sendable, Hashable {
        /// Always.
        case none
        /// Only when the key has no value.
        case absent
        /// Only when the key's version is this one.
        case version(UInt64)
    }

    /// One comparison of a transaction.
    public struct Compare: Sendable, Hashable {
        /// The key compared.
        public var key: String
        /// What it must be.
        public var expectation: Expectation

        /// A comparison.
        public init(key: String, _ expectation: Expectation) {
            self.key = key
            self.expectation = expectation
        }

        /// What a key must be for a comparison to hold.
        public enum Expectation: Sendable, Hashable {
            /// Present with this version.
            case version(UInt64)
            /// Present with this value.
            case value([UInt8])
            /// Absent.
            case absent
        }
    }

    /// One operation of a transaction's branch.
    public enum TransactionOperation: Sendable, Hashable {
        /// Sets a key (with a TTL in ms when > 0).
        case put(key: String, value: [UInt8], ttl: UInt64)
        /// Removes a key (nothing happens when it is absent).
        case delete(key: String)
        /// Reads a key, as of the transaction.
        case get(key: String)
    }
}

/// The sizes the coordination state accepts. A command over them does not decode, the same way on every
/// replica; the API refuses it before proposing, with `TOO_LARGE`.
public enum CoordinationLimits {
    /// A key, lock name or registered name, in UTF-8 bytes.
    public static let maxKeyBytes = 1024
    /// A store name, in UTF-8 bytes.
    public static let maxStoreNameBytes = 128
    /// A value.
    public static let maxValueBytes = 512 * 1024
    /// Comparisons, and operations per branch, in one transaction.
    public static let maxTransactionOperations = 128
    /// All the values of one transaction together.
    public static let maxTransactionBytes = 1024 * 1024
    /// A TTL (ms): ten years.
    public static let maxTTL: UInt64 = 10 * 365 * 24 * 3600 * 1000
    /// A lock wait (ms): one hour.
    public static let maxLockWait: UInt64 = 3600 * 1000
    /// A lock delay (ms): one minute, as Consul's.
    public static let maxLockDelay: UInt64 = 60 * 1000
    /// A name reservation (ms): ten minutes.
    public static let maxReservation: UInt64 = 600 * 1000
}
