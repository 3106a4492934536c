import CohortCore

/// A `host:port` to join through. A DNS name stands for every A and AAAA record it resolves to, so one
/// name can list a whole set of seeds (a Kubernetes headless service, a round-robin record).
public struct JoinAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IP literal or a DNS name.
    public var host: String
    /// The seed's gossip port.
    public var port: Int

    /// Creates an address; the port defaults to memberlist's 7946.
    public init(host: String, port: Int = 7946) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `host` (with `defaultPort`), `[v6]:port` or a bare IPv6 literal; nil when the
    /// text is empty or the port is not a number in 1…65535.
    public init?(parsing text: String, defaultPort: Int = 7946) {
        let text = text.trimmingWhitespace
        guard !text.isEmpty else { return nil }
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { self.init(host: host, port: defaultPort); return }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65_535).contains(port) else { return nil }
            self.init(host: host, port: port)
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            guard let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else { return nil }
            self.init(host: String(text[..<colon]), port: port)
        } else {
            self.init(host: text, port: defaultPort)
        }
    }

    /// `host:port`, with brackets around an IPv6 literal.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Everything a ``GossipService`` needs: identity, sockets, seeds, encryption and SWIM tuning.
public struct GossipServiceSettings: Sendable {
    /// The node's unique name (`cluster.name`).
    public var name: NodeID
    /// The address UDP and TCP bind to (`cluster.membership.bind_addr`). Default `0.0.0.0`.
    public var bindHost: String
    /// The port UDP and TCP share (`bind_port`). Default 7946; 0 picks a free port, read it back from
    /// ``GossipService/boundPort``.
    public var bindPort: Int
    /// What peers dial (`advertise_addr`); nil derives it: the bind address, or when binding a wildcard the
    /// first non-loopback IPv4 address of the host, or loopback when there is none.
    public var advertiseHost: String?
    /// The advertised port (`advertise_port`); nil is the bound port.
    public var advertisePort: Int?
    /// Seeds to join through (`join_addrs`); empty makes this node a seed.
    public var joinAddresses: [JoinAddress]
    /// Members this node saw alive before it last stopped (Cohort keeps them under
    /// `<data_dir>/_sys/known-members`, as Serf's snapshot does), tried beside the seeds: with every join
    /// and re-join round, and on a seed once at start, so a restarted node is back in its cluster at once
    /// instead of after `rejoinInterval`. None of them has to answer.
    public var knownAddresses: [JoinAddress] = []
    /// AES keys of 16, 24 or 32 bytes, the primary (the one we encrypt with) first; empty disables
    /// encryption.
    public var keyring: [[UInt8]]
    /// Probe, gossip, suspicion and push/pull tuning.
    public var swim: SWIMSettings
    /// How often a node that sees no other live member re-runs join (`rejoin_interval`). Default 30 s;
    /// zero disables.
    public var rejoinInterval: Duration
    /// LZW-compress what we send (memberlist's `EnableCompression`, default true). Compressed input is
    /// always accepted.
    public var compression: Bool
    /// This node's initial metadata (Cohort's `NodeMeta`), at most 512 bytes.
    public var meta: [UInt8]
    /// `cluster.membership.cluster_id`: alive announcements from Cohort nodes whose metadata names another
    /// cluster id are dropped, so two labelled clusters never merge. Foreign peers (no Cohort metadata) are
    /// not filtered. Empty (the default) accepts only unlabelled Cohort nodes.
    public var clusterID: String = ""
    /// Bound on one TCP exchange: a push/pull, an incoming connection, a large user message (memberlist's
    /// `TCPTimeout`). Default 10 s.
    public var tcpTimeout: Duration
    /// First pause between join rounds; it doubles up to ``joinBackoffMaximum``. Default 500 ms.
    public var joinBackoffInitial: Duration
    /// Longest pause between join rounds. Default 8 s.
    public var joinBackoffMaximum: Duration
    /// How long a graceful shutdown keeps gossiping our leave at most. Default 1 s.
    public var leaveTimeout: Duration
    /// When set, the first join waits until this node's metadata satisfies it (at most
    /// ``initialMetaTimeout``); nil (the default) joins at once. A node whose metadata is completed just
    /// after start (Cohort's internode port, known once the mesh is bound) sets it, so that its join
    /// announces the final metadata, as memberlist and Serf announce tags set before `Create`. Joining
    /// first and updating after announces the node twice, and every announcement is gossiped by every
    /// member, which in a mass start slows everyone's convergence (issue 18).
    public var isMetaComplete: (@Sendable (_ meta: [UInt8]) -> Bool)?
    /// The longest the first join waits for ``isMetaComplete``. Default 1 s.
    public var initialMetaTimeout: Duration = .seconds(1)

    /// Creates settings; everything but the name has the defaults documented on each property.
    public init(
        name: NodeID,
        bindHost: String = "0.0.0.0", bindPort: Int = 7946,
        advertiseHost: String? = nil, advertisePort: Int? = nil,
        joinAddresses: [JoinAddress] = [], keyring: [[UInt8]] = [],
        swim: SWIMSettings = .lan, rejoinInterval: Duration = .seconds(30),
        compression: Bool = true, meta: [UInt8] = [],
        tcpTimeout: Duration = .seconds(10),
        joinBackoffInitial: Duration = .milliseconds(500), joinBackoffMaximum: Duration = .seconds(8),
        leaveTimeout: Duration = .seconds(1)
    ) {
        self.name = name
        self.bindHost = bindHost
        self.bindPort = bindPort
        self.advertiseHost = advertiseHost
        self.advertisePort = advertisePort
        self.joinAddresses = joinAddresses
        self.keyring = keyring
        self.swim = swim
        self.rejoinInterval = rejoinInterval
        self.compression = compression
        self.meta = meta
        self.tcpTimeout = tcpTimeout
        self.joinBackoffInitial = joinBackoffInitial
        self.joinBackoffMaximum = joinBackoffMaximum
        self.leaveTimeout = leaveTimeout
    }
}

/// Why a ``GossipService`` could not start.
public enum GossipServiceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A key in `keyring` is not 16, 24 or 32 bytes long.
    case invalidKey(size: Int)
    /// `meta` is longer than memberlist's 512-byte limit.
    case metaTooLarge(size: Int)
    /// A host name did not resolve to any usable address.
    case unresolvable(host: String, reason: String)
    /// The advertised address is not an IPv4 or IPv6 address, or the port is out of range.
    case invalidAdvertiseAddress(String)
    /// UDP and TCP could not both be bound on the same port.
    case bindFailed(address: String, reason: String)

    /// A message for operators naming the setting and the fix.
    public var description: String {
        switch self {
        case .invalidKey(let size):
            "cluster.membership.secret_key: a key of \(size) bytes; AES keys are 16, 24 or 32 bytes"
        case .metaTooLarge(let size):
            "gossip metadata of \(size) bytes exceeds memberlist's 512-byte limit"
        case .unresolvable(let host, let reason):
            "cannot resolve \(host): \(reason)"
        case .invalidAdvertiseAddress(let address):
            "cluster.membership.advertise_addr: \(address) is not an IP address with a port in 1…65535"
        case .bindFailed(let address, let reason):
            "cluster.membership.bind_addr: cannot bind UDP and TCP on \(address): \(reason)"
        }
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var slice = Substring(self)
        while slice.first?.isWhitespace == true { slice = slice.dropFirst() }
        while slice.last?.isWhitespace == true { slice = slice.dropLast() }
        return String(slice)
    }
}
