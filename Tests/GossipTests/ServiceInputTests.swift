import CohortTestKit
import CohortCore
import Gossip
import NIOCore
import NIOPosix
import Testing
import Wire

/// GossipService against hostile, foreign and malformed input over real sockets: encryption, garbage
/// datagrams and streams, TCP pings for other nodes, metrics.
@Suite("GossipService input", .serialized)
struct ServiceInputTests {
    static let key = [UInt8](repeating: 7, count: 32)
    static let otherKey = [UInt8](repeating: 9, count: 16)

    @Test func encryptedNodesConvergeAndAWrongKeyNeverMerges() async throws {
        try await withCluster { cluster in
            let a = try await cluster.start("a") { $0.keyring = [Self.key] }
            let b = try await cluster.start("b", joining: [a.joinAddress]) { $0.keyring = [Self.key, Self.otherKey] }
            try await cluster.waitForConvergence([a, b], alive: ["a", "b"])

            let c = try await cluster.start("c", joining: [a.joinAddress]) { $0.keyring = [Self.otherKey] }
            try await waitFor("a to refuse c's join streams") {
                (a.metric("gossip_dropped_total", ["reason": "decrypt_failed"]) ?? 0) >= 2
            }
            // A datagram sealed with the wrong key is dropped as well.
            let ping = GossipMessage.ping(PingMessage(sequenceNumber: 1, node: "a"))
            let sealed = try PacketEncoder(keyring: Keyring(primaryKey: Self.otherKey)).seal([ping], peerProtocolMax: 5)
            let before = a.metric("gossip_dropped_total", ["reason": "decrypt_failed"]) ?? 0
            try await sendDatagrams([sealed], to: a)
            try await waitFor("a to drop the foreign datagram") {
                (a.metric("gossip_dropped_total", ["reason": "decrypt_failed"]) ?? 0) > before
            }
            #expect(await !c.service.hasJoined)
            #expect(Set(await a.view().keys) == ["a", "b"])
            #expect(Set(await b.view().keys) == ["a", "b"])
            #expect(Set(await c.view().keys) == ["c"])
        }
    }

    @Test func garbageDatagramsAndStreamsAreCountedAndTheServiceKeepsWorking() async throws {
        try await withCluster { cluster in
            let a = try await cluster.start("a")
            let garbage: [[UInt8]] = [
                [0xFF, 1, 2, 3],                  // unknown message type
                [12, 0, 0, 0, 0, 4, 0x80],        // a CRC header that does not match
                [4, 0xC1],                        // alive with a broken body
                [9, 0x80],                        // compress without its fields
            ]
            var expected: [String: Double] = [:]
            for datagram in garbage {
                do throws(GossipDecodeError) {
                    _ = try PacketDecoder().decode(ByteBuffer(bytes: datagram))
                    Issue.record("\(datagram) decodes")
                } catch {
                    expected[error.reason, default: 0] += 1
                }
            }
            try await sendDatagrams(garbage.map { ByteBuffer(bytes: $0) }, to: a)
            try await waitFor("a to count every bad datagram by reason: \(expected)") {
                expected.allSatisfy { (a.metric("gossip_dropped_total", ["reason": $0.key]) ?? 0) >= $0.value }
            }
            let malformed = a.metric("gossip_dropped_total", ["reason": "malformed"]) ?? 0
            var reply = ByteBuffer(bytes: try await sendStream(ByteBuffer(bytes: [6, 0xC1, 0xC1, 0xC1]), to: a))
            let answer = try StreamDecoder().decode(&reply, endOfInput: true)
            #expect(answer?.messageType == .error, "the reply is \(String(describing: answer))")
            try await waitFor("a to count the bad stream") {
                (a.metric("gossip_dropped_total", ["reason": "malformed"]) ?? 0) > malformed
            }
            _ = try await sendStream(ByteBuffer(bytes: Array(repeating: 0x55, count: 64)), to: a)

            let b = try await cluster.start("b", joining: [a.joinAddress])
            try await cluster.waitForConvergence([a, b], alive: ["a", "b"])
        }
    }

    @Test func tcpPingIsAnsweredOnlyForOurName() async throws {
        try await withCluster { cluster in
            let a = try await cluster.start("a")
            let encoder = StreamEncoder(compression: false)
            let ours = try await sendStream(try encoder.encode(.ping(PingMessage(sequenceNumber: 42, node: "a"))), to: a)
            var buffer = ByteBuffer(bytes: ours)
            #expect(try StreamDecoder().decode(&buffer, endOfInput: true) == .ackResponse(AckResponseMessage(sequenceNumber: 42)))

            let theirs = try await sendStream(try encoder.encode(.ping(PingMessage(sequenceNumber: 43, node: "zed"))), to: a)
            #expect(theirs.isEmpty)
            #expect(a.metric("gossip_dropped_total", ["reason": "wrong_node"]) == 1)
        }
    }

    @Test func udpBlockedButTCPWorkingIsReportedNotSuspected() async throws {
        try await withCluster { cluster in
            // Slower than the other tests' timers: the TCP fallback ping must finish within a probe interval,
            // and the point here is that it does, not how fast a loaded machine can open a connection (a full
            // parallel run once took longer than a 1 s interval).
            let a = try await cluster.start("a") { settings in
                settings.swim.probeInterval = .seconds(3)
                settings.swim.probeTimeout = .milliseconds(500)
            }
            let ghostHost = uniqueLoopbackAddress()
            try await withFakePeer(host: ghostHost) { ghostPort in
                // Announce a member whose UDP swallows everything but whose TCP answers pings.
                let alive = AliveMessage(
                    incarnation: 1, node: "ghost", address: [UInt8](try #require(
                        GossipTestAddress.bytes(ghostHost)
                    )), port: UInt16(ghostPort), versions: ProtocolVersions.cohort.bytes
                )
                try await sendDatagrams([try PacketEncoder().seal([.alive(alive)], peerProtocolMax: 5)], to: a)
                try await waitFor("a to report ghost's UDP as blocked") {
                    (a.metric("gossip_udp_unreachable_total") ?? 0) >= 1
                }
                // The probe's result is counted when its round ends, after the UDP timeout was.
                try await waitFor("a to count a tcp_only probe") {
                    (a.metric("gossip_probes_total", ["result": "tcp_only"]) ?? 0) >= 1
                }
                #expect(await a.view()["ghost"] == .alive)
            }
        }
    }

    @Test func metricsExistAtZeroWithHelp() async throws {
        try await withCluster { cluster in
            let a = try await cluster.start("a")
            let text = a.registry.emitToString()
            for name in [
                "gossip_members", "gossip_convergence_seconds", "gossip_messages_total", "gossip_bytes_total",
                "gossip_probes_total", "gossip_dropped_total", "gossip_udp_unreachable_total",
            ] {
                #expect(text.contains("# HELP \(name) "), "no HELP for \(name)")
            }
            #expect(a.metric("gossip_dropped_total", ["reason": "decrypt_failed"]) == 0)
            #expect(a.metric("gossip_probes_total", ["result": "failed"]) == 0)
            #expect(a.metric("gossip_udp_unreachable_total") == 0)
            #expect(a.metric("gossip_members", ["state": "alive"]) == 1)
        }
    }

    @Test func invalidKeyFailsRunWithAClearError() async throws {
        let service = GossipService(
            settings: GossipServiceSettings(name: NodeID("x"), bindHost: uniqueLoopbackAddress(), bindPort: 0, keyring: [[1, 2, 3]]),
            logger: .init(label: "test")
        )
        await #expect(throws: GossipServiceError.invalidKey(size: 3)) { try await service.run() }
    }
}

/// Sends raw datagrams to `node` from a socket of our own.
func sendDatagrams(_ datagrams: [ByteBuffer], to node: TestNode) async throws {
    let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: uniqueLoopbackAddress(), port: 0) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
            }
        }
    let target = try SocketAddress(ipAddress: node.host, port: node.port)
    try await channel.executeThenClose { _, outbound in
        for datagram in datagrams { try await outbound.write(AddressedEnvelope(remoteAddress: target, data: datagram)) }
    }
}

/// Opens a TCP connection to `node`, writes `bytes` and returns whatever comes back before it closes.
func sendStream(_ bytes: ByteBuffer, to node: TestNode) async throws -> [UInt8] {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connectTimeout(.seconds(2))
        .connect(host: node.host, port: node.port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(bytes)
        var reply: [UInt8] = []
        do {
            for try await chunk in inbound { reply += chunk.readableBytesView }
        } catch {
            // A reset after the reply is fine; the bytes read are what matter.
        }
        return reply
    }
}

enum GossipTestAddress {
    /// The 4 bytes of a dotted IPv4 address.
    static func bytes(_ host: String) -> [UInt8]? {
        let parts = host.split(separator: ".").compactMap { UInt8($0) }
        return parts.count == 4 ? parts : nil
    }
}

/// Runs `body` while a fake member listens on `host`: its UDP socket swallows every datagram, its TCP
/// listener (same port) acks every ping. Both sockets are closed when `body` returns.
func withFakePeer(host: String, _ body: (Int) async throws -> Void) async throws {
    // Accepted channels come raw, reads off, and are wrapped by the accept loop (as the gossip service does):
    // wrapping them in the child initializer traps when the listener closes while a node's next ping is
    // being accepted ("Deinited NIOAsyncWriter without calling finish()", apple/swift-nio#3481), which
    // crashed a full parallel run once.
    let tcp = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelOption(.autoRead, value: false)
        .bind(host: host, port: 0) { channel in
            channel.eventLoop.makeCompletedFuture { channel }
        }
    let port = try #require(tcp.channel.localAddress?.port)
    let udp = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
            }
        }
    try await udp.executeThenClose { udpIn, _ in
        try await tcp.executeThenClose { connections in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for try await _ in udpIn {} }
                group.addTask {
                    try await withThrowingDiscardingTaskGroup { serving in
                        for try await child in connections {
                            serving.addTask {
                                let wrapping = child.eventLoop.submit {
                                    let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child)
                                    try child.syncOptions?.setOption(.autoRead, value: true)
                                    return connection
                                }
                                guard let connection = try? await wrapping.get() else {
                                    child.close(promise: nil)
                                    return
                                }
                                try? await answerPings(connection)
                            }
                        }
                    }
                }
                try await body(port)
                group.cancelAll()
            }
        }
    }
}

private func answerPings(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async throws {
    try await connection.executeThenClose { inbound, outbound in
        var buffer = ByteBuffer()
        for try await var chunk in inbound {
            buffer.writeBuffer(&chunk)
            guard let message = try StreamDecoder().decode(&buffer) else { continue }
            if case .ping(let ping) = message {
                try await outbound.write(try StreamEncoder().encode(.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber))))
            }
            return
        }
    }
}
