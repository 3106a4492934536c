import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Gossip
import Logging
import ServiceLifecycle
import Synchronization

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
        selection(live.filter { $0.name != selfID }.map(KnownMember.init(member:)))
    }

    /// The entries to store out of `members`: servers first, then by name, at most ``limit``.
    static func selection(_ members: some Sequence<KnownMember>) -> [KnownMember] {
        Array(members.sorted { ($0.server ? 0 : 1, $0.name) < ($1.server ? 0 : 1, $1.name) }.prefix(limit))
    }
}

extension KnownMember {
    /// The entry for a gossip member (its metadata decoded once, here).
    init(member: Member) {
        self.init(
            name: member.name.rawValue,
            address: JoinAddress(host: MeshMembership.host(member.ip), port: Int(member.port)),
            server: (try? NodeMeta(decoding: member.meta))?.role == .server
        )
    }
}

/// The live members as known-members entries, kept one membership update at a time (O(1) and one
/// metadata decode per update; a snapshot or resync rebuilds). Sorting them for the file is left to the
/// writer, which does it at most once per interval however many updates arrived.
struct KnownMembersView {
    let selfID: NodeID
    private(set) var entries: [NodeID: KnownMember] = [:]

    init(selfID: NodeID) {
        self.selfID = selfID
    }

    mutating func apply(_ update: MembershipUpdate) {
        switch update {
        case .snapshot(let members), .resync(let members):
            entries = [:]
            for member in members where member.name != selfID { entries[member.name] = KnownMember(member: member) }
        case .joined(let member), .updated(let member):
            guard member.name != selfID else { return }
            entries[member.name] = KnownMember(member: member)
        case .left(let member, _):
            entries[member.name] = nil
        }
    }

    /// What the file should hold now (``KnownMembersFile/known(_:excluding:)`` of the live members).
    var selection: [KnownMember] { KnownMembersFile.selection(entries.values) }
}

/// Keeps ``KnownMembersFile`` up to date from the gossip membership: rewritten when the live members change,
/// at most once per `minimumInterval`. A change that leaves no other member alive is not written, so the
/// file keeps the last members seen (a node that outlives the rest of its cluster still finds it again).
///
/// A membership update only updates ``KnownMembersView`` (O(1)) and rings the writer; the writer selects
/// and compares the entries when it wakes — once per interval at most, so a mass start's N updates cost
/// it a few selections, not N. The file only ever holds the latest view, so skipping the views in
/// between loses nothing.
final class KnownMembersService: Service {
    private let gossip: GossipService
    private let file: KnownMembersFile
    private let selfID: NodeID
    private let logger: Logger
    private let minimumInterval: Duration
    /// Written by the membership task, read by the writer.
    private let view: Mutex<KnownMembersView>

    init(gossip: GossipService, file: KnownMembersFile, selfID: NodeID, logger: Logger, minimumInterval: Duration = .seconds(1)) {
        self.gossip = gossip
        self.file = file
        self.selfID = selfID
        self.logger = logger
        self.minimumInterval = minimumInterval
        view = Mutex(KnownMembersView(selfID: selfID))
    }

    func run() async throws {
        let (changes, change) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await untilGracefulShutdown { [self] in
                    for await batch in self.gossip.events.subscribeBatches() {
                        self.view.withLock { view in for update in batch { view.apply(update) } }
                        change.yield()
                    }
                }
                change.finish()
            }
            group.addTask { [file, logger, minimumInterval] in
                var failed = false
                var written: [KnownMember] = []
                for await _ in changes {
                    let members = self.view.withLock { $0.selection }
                    guard !members.isEmpty, members != written else { continue }
                    written = members
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
