import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Gossip
import Logging
import ServiceLifecycle

/// A member this node saw alive: its name, gossip address and whether it is a Cohort server.
public struct KnownMember: Sendable, Hashable {
    public var name: String
    public var address: JoinAddress
    public var server: Bool

    public init(name: String, address: JoinAddress, server: Bool) {
        self.name = name
        self.address = address
        self.server = server
    }
}

/// The members this node last saw alive, in `<data_dir>/_sys/known-members` (Serf's snapshot): tried as
/// join addresses when the node starts again, so a restarted node — a seed with no `join_addrs` too — is
/// back in its cluster at once instead of after `rejoin_interval`.
///
/// A text file, one member a line: `name host:port server|client`, servers first, at most ``limit``.
/// Lines it cannot read are skipped (the worst a damaged file does is lose those entries).
struct KnownMembersFile {
    /// `<data_dir>/_sys`.
    let directory: String

    static let name = "known-members"
    /// Enough to find the cluster again; a join asks each of them at once.
    static let limit = 64
    static let header = "# cohort known members v1: name gossip-address role; tried as join addresses at start"

    var path: String { directory + "/" + Self.name }

    /// The members stored, or none when there is no file.
    func load() -> [KnownMember] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return Self.decode(String(decoding: data, as: UTF8.self))
    }

    /// Durably replaces the stored members.
    func store(_ members: [KnownMember]) throws {
        try DurableFile.replace(Self.name, in: directory, with: Array(Self.encode(members).utf8))
    }

    static func encode(_ members: [KnownMember]) -> String {
        ([header] + members.prefix(limit).map { "\($0.name) \($0.address) \($0.server ? "server" : "client")" })
            .joined(separator: "\n") + "\n"
    }

    static func decode(_ text: String) -> [KnownMember] {
        var members: [KnownMember] = []
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") && members.count < limit {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 3, fields[2] == "server" || fields[2] == "client",
                  let address = JoinAddress(parsing: String(fields[1])), !address.host.isEmpty
            else { continue }
            members.append(KnownMember(name: String(fields[0]), address: address, server: fields[2] == "server"))
        }
        return members
    }

    /// What to store for the live members: every one but this node, servers first, then by name.
    static func known(_ live: some Sequence<Member>, excluding selfID: NodeID) -> [KnownMember] {
        let members = live.filter { $0.name != selfID }.map { member in
            KnownMember(
                name: member.name.rawValue,
                address: JoinAddress(host: MeshMembership.host(member.ip), port: Int(member.port)),
                server: (try? NodeMeta(decoding: member.meta))?.role == .server
            )
        }
        return Array(members.sorted { ($0.server ? 0 : 1, $0.name) < ($1.server ? 0 : 1, $1.name) }.prefix(limit))
    }
}

/// Keeps ``KnownMembersFile`` up to date from the gossip membership: rewritten when the live members change,
/// at most once per `minimumInterval`. A change that leaves no other member alive is not written, so the
/// file keeps the last members seen (a node that outlives the rest of its cluster still finds it again).
final class KnownMembersService: Service {
    private let gossip: GossipService
    private let file: KnownMembersFile
    private let selfID: NodeID
    private let logger: Logger
    private let minimumInterval: Duration

    init(gossip: GossipService, file: KnownMembersFile, selfID: NodeID, logger: Logger, minimumInterval: Duration = .seconds(1)) {
        self.gossip = gossip
        self.file = file
        self.selfID = selfID
        self.logger = logger
        self.minimumInterval = minimumInterval
    }

    func run() async throws {
        let (changes, change) = AsyncStream.makeStream(of: [KnownMember].self, bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [gossip, selfID] in
                var live: [NodeID: Member] = [:]
                var written: [KnownMember] = []
                for await update in gossip.events.subscribe().cancelOnGracefulShutdown() {
                    switch update {
                    case .snapshot(let members), .resync(let members):
                        live = Dictionary(members.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
                    case .joined(let member), .updated(let member):
                        live[member.name] = member
                    case .left(let member, _):
                        live[member.name] = nil
                    }
                    let known = KnownMembersFile.known(live.values, excluding: selfID)
                    guard !known.isEmpty, known != written else { continue }
                    written = known
                    change.yield(known)
                }
                change.finish()
            }
            group.addTask { [file, logger, minimumInterval] in
                var failed = false
                for await members in changes {
                    do {
                        try file.store(members)
                        failed = false
                    } catch {
                        if !failed {
                            logger.warning("cannot record the known members", metadata: ["path": "\(file.path)", "error": "\(error)"])
                        }
                        failed = true
                    }
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: minimumInterval) }
                }
            }
        }
    }
}
