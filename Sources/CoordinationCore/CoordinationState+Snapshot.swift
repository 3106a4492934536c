import CohortCore

/// The state's snapshot bytes:
///
/// ```
/// "CSM" | u8 format 2 | u64 index | u64 clock
/// u32 count | keys:  text store | text key | blob value | u64 version | u64 created | u64 expires_at (0: none)
/// u32 count | locks: text name | holder? | u64 token | u64 granted_at | u64 lock_delay | u64 delayed_until
///                    | u32 count | waiters: pid | u64 deadline | u64 lock_delay
/// u32 count | names: text name | pid | u64 token | u8 scope (0 consistent, 1 strong)
/// u32 count | reservations: text name | pid | u64 token | u64 deadline
/// ```
///
/// Format 1 (before strong names) has no scope byte and no reservations section; it still restores,
/// every name consistent.
///
/// Each section strictly increasing by its key (store then key; names as UTF-8 bytes). The deadlines,
/// the holdings and the key counts are derived, so they are rebuilt rather than stored. A snapshot of
/// the earlier `SystemStore` (`u32 count | u32 key | u32 value | u64 version`, the default store only)
/// still restores.
extension CoordinationState {
    static let snapshotMagic: [UInt8] = [0x43, 0x53, 0x4D, 2]
    /// Format 1, before strong names.
    static let snapshotMagicV1: [UInt8] = [0x43, 0x53, 0x4D, 1]

    /// The whole state's bytes. Pure: call it on a copy, off the thread that applies entries.
    public func snapshot() -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(Self.snapshotMagic)
        writer.u64(index)
        writer.u64(clock)
        writer.u32(UInt32(keys.count))
        for (scoped, value) in keys {
            writer.text(scoped.store.string)
            writer.text(scoped.key.string)
            writer.storedValue(value)
        }
        writer.u32(UInt32(locks.count))
        for (name, record) in locks {
            writer.text(name.string)
            writer.lockRecord(record)
        }
        writer.u32(UInt32(names.count))
        for (name, record) in names {
            writer.text(name.string)
            writer.pid(record.pid)
            writer.u64(record.token)
            writer.u8(record.scope.rawValue)
        }
        writer.u32(UInt32(reservations.count))
        for (name, reservation) in reservations {
            writer.text(name.string)
            writer.pid(reservation.pid)
            writer.u64(reservation.token)
            writer.u64(reservation.deadline)
        }
        return writer.buffer
    }

    /// The state a snapshot holds; throws, naming what is wrong, for anything that is not exactly one
    /// (truncated, out of order, repeated, bad text, over a limit, bytes after the end).
    public init(snapshot bytes: [UInt8]) throws(CoordinationCodecError) {
        self.init()
        let version: Int
        if bytes.starts(with: Self.snapshotMagic) {
            version = 2
        } else if bytes.starts(with: Self.snapshotMagicV1) {
            version = 1
        } else {
            try restoreEarlier(bytes)
            return
        }
        var reader = ByteReader(bytes)
        _ = try? reader.bytes(Self.snapshotMagic.count)
        index = try reader.number("index")
        clock = try reader.number("clock")
        try restoreKeys(&reader)
        try restoreLocks(&reader)
        try restoreNames(&reader, scoped: version >= 2)
        if version >= 2 { try restoreReservations(&reader) }
        try reader.end()
        rebuildDerived()
    }

    private mutating func restoreKeys(_ reader: inout ByteReader) throws(CoordinationCodecError) {
        let count = try reader.sectionCount(minimumEntryBytes: 32, "keys")
        var entries: [(key: ScopedKey, value: StoredValue)] = []
        entries.reserveCapacity(count)
        for position in 0..<count {
            let store = try reader.text(limit: CoordinationLimits.maxStoreNameBytes, "store")
            let key = try reader.text(limit: CoordinationLimits.maxKeyBytes, "key")
            let scoped = ScopedKey(store: ByteKey(store), key: ByteKey(key))
            if let previous = entries.last?.key, !(previous < scoped) { throw .unordered(section: "keys", position: position) }
            entries.append((scoped, try reader.storedValue()))
        }
        keys = try Self.build(entries, section: "keys")
    }

    private mutating func restoreLocks(_ reader: inout ByteReader) throws(CoordinationCodecError) {
        let count = try reader.sectionCount(minimumEntryBytes: 39, "locks")
        var entries: [(key: ByteKey, value: LockRecord)] = []
        for position in 0..<count {
            let name = ByteKey(try reader.text(limit: CoordinationLimits.maxKeyBytes, "lock"))
            if let previous = entries.last?.key, !(previous < name) { throw .unordered(section: "locks", position: position) }
            entries.append((name, try reader.lockRecord()))
        }
        locks = try Self.build(entries, section: "locks")
    }

    private mutating func restoreNames(_ reader: inout ByteReader, scoped: Bool) throws(CoordinationCodecError) {
        let count = try reader.sectionCount(minimumEntryBytes: scoped ? 29 : 28, "names")
        var entries: [(key: ByteKey, value: NameRecord)] = []
        for position in 0..<count {
            let name = ByteKey(try reader.text(limit: CoordinationLimits.maxKeyBytes, "name"))
            if let previous = entries.last?.key, !(previous < name) { throw .unordered(section: "names", position: position) }
            var record = NameRecord(pid: try reader.pid("pid"), token: try reader.number("token"))
            if scoped {
                let scope = try reader.kind("name.scope")
                guard let known = NameRecord.Scope(rawValue: scope) else { throw .unknownKind(field: "name.scope", value: scope) }
                record.scope = known
            }
            entries.append((name, record))
        }
        names = try Self.build(entries, section: "names")
    }

    private mutating func restoreReservations(_ reader: inout ByteReader) throws(CoordinationCodecError) {
        let count = try reader.sectionCount(minimumEntryBytes: 36, "reservations")
        var entries: [(key: ByteKey, value: NameReservation)] = []
        for position in 0..<count {
            let name = ByteKey(try reader.text(limit: CoordinationLimits.maxKeyBytes, "reservation"))
            if let previous = entries.last?.key, !(previous < name) { throw .unordered(section: "reservations", position: position) }
            // A name is bound or reserved, never both.
            if names[name] != nil { throw .outOfRange(field: "reservation of a registered name") }
            let pid = try reader.pid("pid"), token = try reader.number("token")
            entries.append((name, NameReservation(pid: pid, token: token, deadline: try reader.number("deadline"))))
        }
        reservations = try Self.build(entries, section: "reservations")
    }

    /// The earlier `SystemStore` snapshot: the default store's keys with their versions.
    private mutating func restoreEarlier(_ bytes: [UInt8]) throws(CoordinationCodecError) {
        var reader = ByteReader(bytes)
        let count = Int(try reader.count32("count"))
        guard count <= reader.remaining / 16 else { throw .notASnapshot }
        var entries: [(key: ScopedKey, value: StoredValue)] = []
        entries.reserveCapacity(count)
        for position in 0..<count {
            let keyBytes = try reader.blob(limit: CoordinationLimits.maxKeyBytes, "key")
            guard let key = String(validating: keyBytes, as: UTF8.self) else { throw .bytes(.invalidUTF8(field: "key")) }
            let scoped = ScopedKey(store: ByteKey("default"), key: ByteKey(key))
            if let previous = entries.last?.key, !(previous < scoped) { throw .unordered(section: "keys", position: position) }
            let value = try reader.blob(limit: CoordinationLimits.maxValueBytes, "value")
            let version = try reader.number("version")
            entries.append((scoped, StoredValue(value: value, version: version, created: version)))
            index = max(index, version)
        }
        try reader.end()
        keys = try Self.build(entries, section: "keys")
        rebuildDerived()
    }

    private static func build<Key, Value>(
        _ entries: [(key: Key, value: Value)], section: String
    ) throws(CoordinationCodecError) -> PersistentSortedMap<Key, Value> {
        do {
            return try PersistentSortedMap(validatingSorted: entries)
        } catch {
            throw .unordered(section: section, position: entries.count)
        }
    }

    /// Rebuilds the key counts, the deadlines and the holdings from the keys, locks and names.
    mutating func rebuildDerived() {
        keyCounts = [:]
        var deadlines: [Deadline] = []
        for (scoped, value) in keys {
            keyCounts[scoped.store, default: 0] += 1
            if let expiresAt = value.expiresAt { deadlines.append(Deadline(at: expiresAt, subject: .expiry(scoped))) }
        }
        var holdings: [Holding] = []
        heldLocks = 0
        for (name, record) in locks {
            if let holder = record.holder {
                holdings.append(Holding(pid: holder, resource: .lock(name)))
                heldLocks += 1
            }
            if record.delayedUntil > 0 { deadlines.append(Deadline(at: record.delayedUntil, subject: .lockDelay(name))) }
            for waiter in record.waiters {
                holdings.append(Holding(pid: waiter.pid, resource: .wait(name)))
                deadlines.append(Deadline(at: waiter.deadline, subject: .lockWait(name, waiter.pid)))
            }
        }
        strongNames = 0
        for (name, record) in names {
            holdings.append(Holding(pid: record.pid, resource: .name(name)))
            if record.scope == .strong { strongNames += 1 }
        }
        for (name, reservation) in reservations {
            holdings.append(Holding(pid: reservation.pid, resource: .reservation(name)))
            deadlines.append(Deadline(at: reservation.deadline, subject: .reservation(name)))
        }
        self.deadlines = PersistentSortedMap(sortedSet: deadlines)
        self.holdings = PersistentSortedMap(sortedSet: holdings)
    }
}

extension PersistentSortedMap where Value == Bool {
    /// A set of keys (each mapped to `true`), sorted and deduplicated here.
    init(sortedSet keys: [Key]) {
        var unique: [(key: Key, value: Bool)] = []
        for key in keys.sorted() where unique.last?.key != key { unique.append((key, true)) }
        // Sorted and unique by construction.
        self = (try? PersistentSortedMap(validatingSorted: unique)) ?? PersistentSortedMap()
    }
}

extension ByteReader {
    /// A section's u32 count, refused when the bytes left cannot hold that many entries of at least
    /// `minimumEntryBytes` (so a hostile count reserves nothing).
    mutating func sectionCount(minimumEntryBytes: Int, _ field: String) throws(CoordinationCodecError) -> Int {
        let count = Int(try count32(field))
        guard count <= remaining / minimumEntryBytes else { throw .outOfRange(field: field) }
        return count
    }
}
