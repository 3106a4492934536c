import CohortConfig
import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// What a node takes from the machine it boots on: its incarnation and the environment's test switches.
/// ``CohortNode/prepare(settings:logger:metrics:environment:nowMilliseconds:)`` resolves it (the one
/// step that reads the disk, the clock and the environment); ``CohortNode/init(settings:logger:metrics:boot:)``
/// takes it as a value.
public struct NodeBoot: Sendable {
    /// This boot's incarnation: strictly greater than any earlier boot's of the same data directory.
    public var incarnation: Incarnation
    /// Environment variables the node reads: `COHORT_FAILPOINT_*` (test failpoints) and
    /// `COHORT_UNBOUNDED_RAFT` (the benchmark's every-server-a-voter mode).
    public var environment: [String: String]
    /// The members this node saw alive before it stopped (`<data_dir>/_sys/known-members`), tried as join
    /// addresses; empty without a data directory.
    public var knownMembers: [KnownMember]
    /// The durable `kv.crdt` stores' files and what they held (``CohortNode/prepare(settings:logger:metrics:environment:nowMilliseconds:)``
    /// reads them); a durable store missing here keeps memory only.
    var crdtStores: [String: CRDTStores.Durable] = [:]

    /// A boot with a given incarnation, for tests and embedders that manage incarnations themselves.
    public init(incarnation: Incarnation, environment: [String: String] = [:], knownMembers: [KnownMember] = []) {
        self.incarnation = incarnation
        self.environment = environment
        self.knownMembers = knownMembers
    }

    /// The incarnation is the wall clock, bumped past the last one persisted under `<data_dir>/_sys`, and
    /// persisted in turn (a failure to persist is logged: a restart within the same millisecond could
    /// then reuse it). Without a data directory it is the wall clock alone. The known members are read from
    /// the same directory.
    public static func resolve(
        settings: CohortSettings, logger: Logger, environment: [String: String], nowMilliseconds: UInt64
    ) -> NodeBoot {
        guard let dataDirectory = settings.cluster.raft.resolvedDataDirectory else {
            return NodeBoot(incarnation: Incarnation(nowMilliseconds), environment: environment)
        }
        let store = IncarnationStore(directory: dataDirectory + "/_sys")
        let next = Incarnation.next(after: store.load(), nowMilliseconds: nowMilliseconds)
        do {
            try store.store(next)
        } catch {
            logger.warning(
                "cannot persist the incarnation; a restart within the same millisecond could reuse it",
                metadata: ["path": "\(store.path)", "error": "\(error)"]
            )
        }
        let known = KnownMembersFile(directory: dataDirectory + "/_sys").load()
        return NodeBoot(incarnation: next, environment: environment, knownMembers: known)
    }
}
