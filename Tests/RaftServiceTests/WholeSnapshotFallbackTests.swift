import CohortCore
import CohortTestKit
import Logging
import Mesh
import RaftCore
import RaftPersistence
@testable import Raft
import Synchronization
import Testing

/// The fallback for rolling upgrades: a follower still takes a whole snapshot in one `.raftSnapshot`
/// message (format version 2), as a leader of the earlier release sends it. The leader here is a bare
/// mesh that speaks only that format; the payloads are built by hand from the documented layout, so the
/// wire format itself is pinned.
@Suite(.serialized) struct WholeSnapshotFallbackTests {
    static let leaderTerm: Term = 2
    static let snapshotIndex: LogIndex = 10
    static let commands = (0..<5).map { command("old", $0) }

    /// The snapshot a leader of the earlier release holds: five commands, through index 10 of term 2,
    /// with both nodes as voters, serialized as the list state machine does.
    static func snapshot(leader: NodeID, follower: NodeID) -> (message: [UInt8], data: [UInt8]) {
        let source = ListStateMachine()
        for (offset, bytes) in commands.enumerated() {
            _ = source.apply(LogEntry(term: leaderTerm, index: LogIndex(offset + 1), payload: .command(bytes)))
        }
        let message = Message(from: leader, to: follower, term: leaderTerm, kind: .snapshot(metadata(leader, follower)))
        return (MessageCodec().encode(message), source.snapshot()())
    }

    static func metadata(_ leader: NodeID, _ follower: NodeID) -> SnapshotMetadata {
        SnapshotMetadata(index: snapshotIndex, term: leaderTerm, configuration: Configuration(voters: [leader, follower]))
    }

    /// `u8 version 2 | u32 message length | message | u32 CRC-32C of the data | data` (docs/raft.md).
    static func formatTwo(message: [UInt8], data: [UInt8], checksum: UInt32? = nil) -> [UInt8] {
        [2] + ListStateMachine.u32(message.count) + message + ListStateMachine.u32(Int(checksum ?? CRC32C.checksum(data))) + data
    }

    @Test func aFollowerInstallsAWholeSnapshotFromALeaderOfTheEarlierRelease() async throws {
        try await withRaftCluster { cluster in
            let follower = try await cluster.join("b")
            try await EarlierReleaseLeader.with("a", logs: cluster.logs, follower: follower) { leader in
                let (message, data) = Self.snapshot(leader: leader.id, follower: follower.id)
                #expect(leader.send(Self.formatTwo(message: message, data: data), to: follower.id) == .queued)
                // Restored (off the event loop), then installed on the actor: wait for both.
                try await waitFor("the follower to restore and install the snapshot") {
                    follower.machine.all == Self.commands && follower.metric("raft_snapshots_installed_total") == 1
                }
                let status = await follower.status
                #expect(status.term == Self.leaderTerm && status.leader == leader.id)
                #expect(status.commitIndex == Self.snapshotIndex && status.appliedIndex == Self.snapshotIndex)
                #expect(status.voters == [leader.id, follower.id].sorted())
                let stored = try #require(try follower.storage.latestSnapshot())
                #expect(stored.metadata == Self.metadata(leader.id, follower.id))
                #expect(stored.data == data)
                #expect(follower.metric("raft_snapshots_installed_total") == 1)
                #expect(follower.metric("raft_dropped_messages_total", ["reason": "malformed"]) == 0)
                // It acknowledges the snapshot to the leader that sent it, as it does a chunked one.
                try await waitFor("the follower to acknowledge the snapshot") {
                    leader.answers.contains { answer in
                        guard case .appendResponse(let response) = answer.kind else { return false }
                        return response.accepted && response.index == Self.snapshotIndex && answer.term == Self.leaderTerm
                    }
                }
            }
        }
    }

    @Test func aMalformedWholeSnapshotIsDroppedAndCountedAndChangesNothing() async throws {
        try await withRaftCluster { cluster in
            let follower = try await cluster.join("b")
            try await EarlierReleaseLeader.with("a", logs: cluster.logs, follower: follower) { leader in
                let (message, data) = Self.snapshot(leader: leader.id, follower: follower.id)
                let whole = Self.formatTwo(message: message, data: data)
                let heartbeat = Message(from: leader.id, to: follower.id, term: Self.leaderTerm, kind: .heartbeat(commit: 0, readSequence: 0))
                var flipped = whole
                flipped[flipped.count - 1] ^= 0x01
                let malformed: [[UInt8]] = [
                    flipped,  // the data fails its checksum
                    Self.formatTwo(message: message, data: data, checksum: 0),  // a wrong checksum
                    Array(whole.prefix(3)),  // cut inside the message length
                    Array(whole.prefix(5 + message.count + 2)),  // cut inside the checksum
                    ListStateMachine.u32(message.count) + message + data,  // version 1: no version byte, no checksum
                    [3] + Array(whole.dropFirst()),  // an unknown version
                    [],
                    Self.formatTwo(message: [0xDE, 0xAD], data: data),  // a message that does not decode
                    Self.formatTwo(message: MessageCodec().encode(heartbeat), data: data),  // a message that is no snapshot
                ]
                // Well formed, but claiming a sender the mesh says it is not.
                let spoofed = Message(from: NodeID("c"), to: follower.id, term: Self.leaderTerm, kind: .snapshot(Self.metadata(leader.id, follower.id)))
                for payload in malformed + [Self.formatTwo(message: MessageCodec().encode(spoofed), data: data)] {
                    #expect(leader.send(payload, to: follower.id) == .queued)
                }
                try await waitFor("the follower to count every malformed payload and the misaddressed one") {
                    follower.metric("raft_dropped_messages_total", ["reason": "malformed"]) == Double(malformed.count)
                        && follower.metric("raft_dropped_messages_total", ["reason": "misaddressed"]) == 1
                }
                let status = await follower.status
                #expect(status.term == 0 && status.leader == nil && status.voters.isEmpty)
                #expect(status.commitIndex == 0 && status.appliedIndex == 0 && status.lastLogIndex == 0)
                #expect(follower.machine.all.isEmpty)
                #expect(try follower.storage.latestSnapshot() == nil)
                #expect(follower.metric("raft_snapshots_installed_total") == 0)
                #expect(leader.answers.isEmpty, "the follower answered none of them")
                // It still takes a good one.
                #expect(leader.send(whole, to: follower.id) == .queued)
                try await waitFor("the follower to restore and install the snapshot") {
                    follower.machine.all == Self.commands && follower.metric("raft_snapshots_installed_total") == 1
                }
            }
        }
    }
}

extension WholeSnapshotFallbackTests {
    /// The chunked format's last chunk carries the core's message; data that checks out with a message
    /// that is no snapshot installs nothing, and the leader hears an error rather than "complete".
    @Test func aChunkedSnapshotWhoseMessageIsNoSnapshotIsRefused() async throws {
        try await withRaftCluster { cluster in
            let follower = try await cluster.join("b")
            try await EarlierReleaseLeader.with("a", logs: cluster.logs, follower: follower) { leader in
                let (message, data) = Self.snapshot(leader: leader.id, follower: follower.id)
                let heartbeat = Message(from: leader.id, to: follower.id, term: Self.leaderTerm, kind: .heartbeat(commit: 0, readSequence: 0))
                let identity = SnapshotIdentity(index: Self.snapshotIndex, term: Self.leaderTerm)
                func chunk(_ message: [UInt8]) -> [UInt8] {
                    SnapshotChunk(
                        snapshot: identity, total: UInt64(data.count), checksum: CRC32C.checksum(data), offset: 0,
                        message: message, bytes: data
                    ).encode()
                }
                await #expect(throws: MeshError.self) {
                    try await leader.mesh.request(chunk(MessageCodec().encode(heartbeat)), to: follower.id, endpoint: .raftSnapshot, class: .bulk, timeout: .seconds(10))
                }
                #expect(follower.metric("raft_dropped_messages_total", ["reason": "malformed"]) == 1)
                #expect(follower.metric("raft_snapshots_installed_total") == 0)
                #expect(follower.machine.all.isEmpty)
                // The same data with the snapshot's own message completes and installs.
                let reply = try await leader.mesh.request(chunk(message), to: follower.id, endpoint: .raftSnapshot, class: .bulk, timeout: .seconds(10))
                #expect(SnapshotChunkReply.decode(reply) == .complete)
                try await waitFor("the follower to restore and install the snapshot") {
                    follower.machine.all == Self.commands && follower.metric("raft_snapshots_installed_total") == 1
                }
            }
        }
    }
}

/// A leader of the earlier release, as far as the follower can tell: a bare mesh (no Raft service) that
/// sends whole snapshots on `.raftSnapshot` and keeps every core message the follower sends it on `.raft`.
final class EarlierReleaseLeader: Sendable {
    let id: NodeID
    let mesh: MeshService
    private let received = Mutex<[Message]>([])

    /// What the follower sent this leader, decoded.
    var answers: [Message] { received.withLock { $0 } }

    private init(id: NodeID, mesh: MeshService) {
        self.id = id
        self.mesh = mesh
    }

    /// Runs `body` with a leader named `name` whose mesh is connected to `follower` (both sides know each
    /// other); the leader's mesh stops afterwards.
    static func with(
        _ name: String, logs: LogBuffer, follower: RaftTestNode, _ body: (EarlierReleaseLeader) async throws -> Void
    ) async throws {
        var settings = MeshSettings(nodeID: NodeID(name), incarnation: Incarnation(1))
        settings.bindHost = uniqueLoopbackAddress()
        let logger = Logger(label: "leader.\(name)") { _ in BufferLogHandler(buffer: logs, name: name) }
        let mesh = MeshService(settings: settings, logger: logger)
        let leader = EarlierReleaseLeader(id: NodeID(name), mesh: mesh)
        mesh.setMessageHandler(for: .raft) { [weak leader] inbound in
            guard let message = try? MessageCodec().decode(inbound.payload) else { return }
            leader?.received.withLock { $0.append(message) }
        }
        let running = RunningServices([mesh], logger: logger)
        do {
            guard let port = await mesh.waitUntilBound() else {
                try await running.result()
                throw MeshDidNotBind(node: name)
            }
            await mesh.setPeer(follower.id, host: follower.host, port: follower.port, incarnation: follower.incarnation)
            await follower.mesh.setPeer(leader.id, host: settings.bindHost, port: port, incarnation: Incarnation(1))
            mesh.connect(to: follower.id)
            try await waitFor("the leader's mesh to connect to \(follower.id)") { mesh.isConnected(to: follower.id) }
            try await body(leader)
        } catch {
            await running.crash()
            throw error
        }
        await running.crash()
    }

    /// Sends `payload` as one `.raftSnapshot` message (bulk class), as the earlier release did.
    func send(_ payload: [UInt8], to peer: NodeID) -> MeshSendResult {
        mesh.send(payload, to: peer, endpoint: .raftSnapshot, class: .bulk)
    }
}
