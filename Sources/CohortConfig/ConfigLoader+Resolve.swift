import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Derived values, rules across keys, and warnings.
extension ConfigLoader {
    func resolve(_ settings: inout CohortSettings, values: [String: RawValue]) throws(ConfigError) {
        func raw(_ path: String) -> RawValue {
            values[path] ?? RawValue(path: path, content: .text(""), origin: .defaultValue)
        }
        if settings.cluster.name.isEmpty {
            let host = hostName.trimmingWhitespace()
            guard !host.isEmpty else {
                throw ConfigError(
                    keyPath: "cluster.name", message: "not set and the host name is unknown; set cluster.name")
            }
            settings.cluster.name = host
        }
        try checkOrder(
            shorter: raw("cluster.membership.probe_timeout"), settings.cluster.membership.probeTimeout,
            longer: raw("cluster.membership.probe_interval"), settings.cluster.membership.probeInterval)
        try checkOrder(
            shorter: raw("cluster.raft.heartbeat_interval"), settings.cluster.raft.heartbeatInterval,
            longer: raw("cluster.raft.election_timeout"), settings.cluster.raft.electionTimeout)
        // A follower that drops a transfer between two chunks the leader is still allowed to send would
        // make every attempt start over.
        try checkOrder(
            shorter: raw("cluster.raft.snapshot_chunk_timeout"), settings.cluster.raft.snapshotChunkTimeout,
            longer: raw("cluster.raft.snapshot_idle_timeout"), settings.cluster.raft.snapshotIdleTimeout)
        settings.cluster.membership.keyring = try keyring(settings.cluster.membership, raw)
        settings.admin.resolvedToken = try token(settings.admin, raw("admin.token_file"))
        settings.cluster.raft.resolvedDataDirectory = dataDirectory(settings.cluster.raft.dataDirectory)
        settings.warnings = Self.warnings(settings)
    }

    /// `shorter` must be below `longer`. The key set explicitly is blamed, the shorter one when both are.
    private func checkOrder(
        shorter: RawValue, _ short: Duration, longer: RawValue, _ long: Duration
    ) throws(ConfigError) {
        guard short >= long else { return }
        func name(_ raw: RawValue) -> String { String(raw.path.split(separator: ".").last!) }
        func written(_ raw: RawValue, _ value: Duration) -> String {
            DurationParser.format(value) + (raw.origin == .defaultValue ? ", the default" : "")
        }
        if shorter.origin == .defaultValue && longer.origin != .defaultValue {
            throw longer.error(
                "\(DurationParser.format(long)) must be longer than \(name(shorter)) (\(written(shorter, short)))")
        }
        throw shorter.error(
            "\(DurationParser.format(short)) must be shorter than \(name(longer)) (\(written(longer, long)))")
    }

    /// Primary key first: `secret_file` content, else `secret_key`; then `secret_keys`; duplicates dropped.
    private func keyring(
        _ membership: MembershipSettings, _ raw: (String) -> RawValue
    ) throws(ConfigError) -> [[UInt8]] {
        var keys: [[UInt8]] = []
        if !membership.secretFile.isEmpty {
            let fileRaw = raw("cluster.membership.secret_file")
            let path = expandingHome(membership.secretFile)
            let text = try readSmallFile(path, fileRaw)
            guard let key = Self.base64(text) else {
                throw fileRaw.error(
                    "\(path) does not hold valid base64; put a base64-encoded AES key of 16, 24 or 32 bytes in it "
                        + "(e.g. openssl rand -base64 32)")
            }
            guard [16, 24, 32].contains(key.count) else {
                throw fileRaw.error("\(path) holds a key of \(key.count) bytes; an AES key must be 16, 24 or 32 bytes")
            }
            keys.append(key)
        } else if !membership.secretKey.isEmpty {
            keys.append(try Self.decodeKey(membership.secretKey, raw("cluster.membership.secret_key")))
        }
        let listRaw = raw("cluster.membership.secret_keys")
        // The list's items carry their own path (`secret_keys[1]`) and line when the file wrote a YAML list.
        let items = (try? listRaw.list("")) ?? []
        for (index, text) in membership.secretKeys.enumerated() {
            let itemRaw = items.count == membership.secretKeys.count ? items[index] : listRaw
            let key = try Self.decodeKey(text, itemRaw, item: itemRaw.path.hasSuffix("]") ? nil : index)
            if !keys.contains(key) { keys.append(key) }
        }
        return keys
    }

    private static func decodeKey(_ text: String, _ raw: RawValue, item: Int? = nil) throws(ConfigError) -> [UInt8] {
        let which = item.map { "key \($0 + 1) " } ?? ""
        guard let key = base64(text) else {
            throw raw.error(
                "\(which)is not valid base64 (value redacted); use a base64-encoded AES key of 16, 24 or 32 bytes "
                    + "(e.g. openssl rand -base64 32)")
        }
        guard [16, 24, 32].contains(key.count) else {
            throw raw.error(
                "\(which)decodes to \(key.count) bytes (value redacted); an AES key must be 16, 24 or 32 bytes")
        }
        return key
    }

    private static func base64(_ text: String) -> [UInt8]? {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty, let data = Data(base64Encoded: trimmed) else { return nil }
        return Array(data)
    }

    /// `token_file` content (trimmed) wins over `token`; nil when neither is set.
    private func token(_ admin: AdminSettings, _ fileRaw: RawValue) throws(ConfigError) -> String? {
        if !admin.tokenFile.isEmpty {
            let path = expandingHome(admin.tokenFile)
            let token = try readSmallFile(path, fileRaw).trimmingWhitespace()
            guard !token.isEmpty else { throw fileRaw.error("\(path) is empty; put the bearer token in it") }
            guard !token.contains(where: \.isNewline) else {
                throw fileRaw.error("\(path) holds more than one line; put only the bearer token in it")
            }
            return token
        }
        return admin.token.isEmpty ? nil : admin.token
    }

    /// `data_dir`, else `$STATE_DIRECTORY` (its first path), else `<home>/.cohort/store`, else nil.
    private func dataDirectory(_ configured: String?) -> String? {
        if let configured, !configured.isEmpty { return expandingHome(configured) }
        if let state = environment["STATE_DIRECTORY"]?.split(separator: ":").first, !state.isEmpty {
            return String(state)
        }
        if let home = homeDirectory, !home.isEmpty {
            return (home.hasSuffix("/") ? String(home.dropLast()) : home) + "/.cohort/store"
        }
        return nil
    }

    /// `~/x` → `<home>/x` when the home directory is known.
    func expandingHome(_ path: String) -> String {
        guard path == "~" || path.hasPrefix("~/"), let home = homeDirectory, !home.isEmpty else { return path }
        return home + path.dropFirst()
    }

    private func readSmallFile(_ path: String, _ raw: RawValue) throws(ConfigError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path)
        } catch {
            throw raw.error("cannot read \(path): \(error)")
        }
        guard bytes.count <= Self.maximumFileSize else { throw raw.error("\(path) is larger than 1 MiB") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw raw.error("\(path) is not UTF-8 text")
        }
        return text
    }

    static func warnings(_ settings: CohortSettings) -> [String] {
        var warnings: [String] = []
        let cluster = settings.cluster
        if cluster.enabled && cluster.membership.keyring.isEmpty {
            warnings.append(
                "no cluster key set: gossip and the internode mesh are unencrypted "
                    + "(set cluster.membership.secret_key or secret_file)")
        }
        if !cluster.membership.secretFile.isEmpty && !cluster.membership.secretKey.isEmpty {
            warnings.append("cluster.membership.secret_key is ignored: secret_file wins")
        }
        let expect = cluster.raft.bootstrapExpect
        if expect > 1 && expect % 2 == 0 {
            warnings.append(
                "cluster.raft.bootstrap_expect: \(expect) is even; \(expect) initial voters tolerate no more "
                    + "failures than \(expect - 1)")
        }
        if cluster.raft.resolvedDataDirectory == nil {
            warnings.append(
                "data_dir does not resolve (no cluster.raft.data_dir, no $STATE_DIRECTORY, no home directory): "
                    + "Raft runs diskless")
        }
        if !settings.admin.tokenFile.isEmpty && !settings.admin.token.isEmpty {
            warnings.append("admin.token is ignored: token_file wins")
        }
        if let address = settings.admin.address, settings.admin.resolvedToken == nil, !isLoopback(address.host) {
            warnings.append(
                "admin.address \(address) is reachable from other hosts and no admin.token is set: "
                    + "the /v1 API is open to anyone who can connect")
        }
        let diskless = settings.stores.filter { $0.kind == .crdt && $0.durable }.map(\.name)
        if !diskless.isEmpty, settings.cluster.raft.resolvedDataDirectory == nil {
            warnings.append(
                "stores (\(diskless.joined(separator: ", "))) are durable kv.crdt stores but data_dir does not resolve: "
                    + "they keep memory only (a restart starts them from what the other nodes hold)")
        }
        let local = settings.stores.filter { $0.kind == .local }.map(\.name)
        if settings.cluster.enabled, !local.isEmpty {
            warnings.append("stores (\(local.joined(separator: ", "))) are kv.local: they serve only with the cluster disabled and refuse every call here")
        }
        return warnings
    }

    private static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }
}
