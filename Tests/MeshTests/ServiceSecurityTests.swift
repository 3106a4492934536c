import CohortCore
import CohortTestKit
import NIOCore
import NIOPosix
import Testing
@testable import Mesh

/// Keys over real sockets, and hostile bytes from raw clients: each bad connection is closed and
/// counted, and the node keeps serving its real peers.
@Suite struct ServiceSecurityTests {
    static let key1: [UInt8] = Array(repeating: 0x11, count: 32)
    static let key2: [UInt8] = Array(repeating: 0x22, count: 24)

    @Test func encryptedNodesExchangeMessagesAndRequests() async throws {
        try await withMesh { mesh in
            let handlers: (MeshService) -> Void = { $0.setRequestHandler(for: .forward) { $0.payload + [0] } }
            let a = try await mesh.start("a", keyring: [Self.key1], handlers: handlers)
            let b = try await mesh.start("b", keyring: [Self.key1], handlers: handlers)
            try await mesh.connect(a, b)
            for index in 0..<2000 { _ = a.service.send(numbered(index, size: 300), to: b.id, endpoint: testEndpoint, class: .relay) }
            let big = [UInt8](repeating: 7, count: 200_000)
            _ = b.service.send(big, to: a.id, endpoint: testEndpoint, class: .bulk)
            #expect(try await b.service.request([5], to: a.id, endpoint: .forward, class: .raft, timeout: .seconds(30)) == [5, 0])
            try await waitFor("every message to arrive") { b.inbox.count == 2000 && a.inbox.count == 1 }
            #expect(b.inbox.from(a.id).map { number(of: $0.payload) } == Array(0..<2000))
            #expect(a.inbox.all.first?.payload == big)
        }
    }

    @Test func aPeerWithTheWrongKeyCannotConnect() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a", keyring: [Self.key1])
            let b = try await mesh.start("b", keyring: [Self.key2])
            await a.know(b)
            await b.know(a)
            _ = a.service.send([1], to: b.id, endpoint: testEndpoint, class: .relay)
            try await waitFor("b to refuse a's key twice (a redials)") {
                (b.metric("internode_handshake_failures_total", ["reason": "bad_key"]) ?? 0) >= 2
            }
            #expect(!a.service.isConnected(to: b.id) && !b.service.isConnected(to: a.id))
            #expect(b.inbox.count == 0)
            #expect(a.service.queueDepth(to: b.id, class: .relay) == 1)
            #expect(b.logs.all.contains { $0.contains("mesh handshake failed") && $0.contains("bad_key") && $0.contains("remote=") })
        }
    }

    @Test func keyRotationConnectsThroughASecondaryKey() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a", keyring: [Self.key2, Self.key1])
            let b = try await mesh.start("b", keyring: [Self.key1, Self.key2])
            try await mesh.connect(a, b)
            _ = a.service.send([42], to: b.id, endpoint: testEndpoint, class: .raft)
            try await waitFor("the message to arrive") { b.inbox.count == 1 }
        }
    }

    @Test func plaintextPeerCannotJoinAnEncryptedMesh() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a")
            let b = try await mesh.start("b", keyring: [Self.key1])
            await a.know(b)
            a.service.connect(to: b.id)
            try await waitFor("b to refuse the plaintext dialer") {
                (b.metric("internode_handshake_failures_total", ["reason": "encryption_mismatch"]) ?? 0) >= 1
            }
            #expect(!b.service.isConnected(to: a.id))
            #expect(a.logs.all.contains { $0.contains("internode mesh is not encrypted or authenticated; set cluster.membership.secret_key") })
            #expect(!b.logs.all.contains { $0.contains("not encrypted") })
        }
    }

    /// Starts a connected pair a–b and checks after `attack` against b that b still serves a.
    func afterAttack(
        keyring: [[UInt8]] = [], _ attack: (MeshTestNode) async throws -> Void,
        check: (MeshTestNode) async throws -> Void
    ) async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a", keyring: keyring)
            let b = try await mesh.start("b", keyring: keyring)
            try await mesh.connect(a, b)
            try await attack(b)
            try await check(b)
            #expect(a.service.send([1], to: b.id, endpoint: testEndpoint, class: .raft) == .queued)
            try await waitFor("b to still serve a") { b.inbox.from(a.id).count == 1 }
            #expect(a.service.isConnected(to: b.id))
        }
    }

    @Test func garbageInsteadOfAHelloIsRefused() async throws {
        try await afterAttack({ b in
            let closed = try await rawSession(to: b) { _, outbound in
                try await outbound.write(buffer([0, 0, 0, 16] + Array("GET / HTTP/1.1\r\n".utf8)))
            }
            #expect(closed)
        }, check: { b in
            try await waitFor("b to count the failure") { b.metric("internode_handshake_failures_total", ["reason": "bad_magic"]) == 1 }
        })
    }

    @Test func oversizedFrameBeforeTheHandshakeIsRefusedAtOnce() async throws {
        try await afterAttack({ b in
            let closed = try await rawSession(to: b) { _, outbound in
                try await outbound.write(buffer([0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]))
            }
            #expect(closed)
        }, check: { b in
            try await waitFor("b to count the failure") { b.metric("internode_handshake_failures_total", ["reason": "malformed"]) == 1 }
        })
    }

    @Test func silentClientIsClosedAtTheHandshakeTimeout() async throws {
        try await withMesh { mesh in
            let b = try await mesh.start("b", configure: { $0.handshakeTimeout = .milliseconds(200) })
            let closed = try await rawSession(to: b) { _, _ in }
            #expect(closed)
            try await waitFor("b to count the timeout") { b.metric("internode_handshake_failures_total", ["reason": "timeout"]) == 1 }
        }
    }

    @Test func ofTwoNodesDiallingEachOtherTheSmallerIDsConnectionIsKept() async throws {
        // b dials "a" and "z", whose listeners accept and stay silent, so each attempt stays in its handshake.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: uniqueLoopbackAddress(), port: 0).get()
        defer { silent.close(promise: nil) }
        try await withMesh { mesh in
            let b = try await mesh.start("b")
            for peer in ["a", "z"] {
                await b.service.setPeer(NodeID(peer), host: silent.localAddress!.ipAddress!, port: silent.localAddress!.port!, incarnation: nil)
                #expect(b.service.send([1], to: NodeID(peer), endpoint: testEndpoint, class: .relay) == .queued)
            }
            try await waitFor("b to be dialling both") {
                b.service.directory.link(NodeID("a"))?.isAttempting == true
                    && b.service.directory.link(NodeID("z"))?.isAttempting == true
            }
            // "z", larger than b, dials b meanwhile: refused, b's own connection is the one to keep.
            let refused = try await rawSession(to: b) { frames, outbound in
                await #expect(throws: (any Error).self) { _ = try await rawHandshake(as: "z", to: b, frames: &frames, outbound: outbound) }
            }
            #expect(refused)
            try await waitFor("b to count the crossed dial") { b.metric("internode_handshake_failures_total", ["reason": "crossed"]) == 1 }
            #expect(!b.service.isConnected(to: NodeID("z")))
            // "a", smaller than b, dials b meanwhile: taken, and b's queued message goes on it.
            _ = try await rawSession(to: b) { frames, outbound in
                _ = try await rawHandshake(as: "a", to: b, frames: &frames, outbound: outbound)
                // b writes its finish and only then makes the connection a's active one (`runSession`): the
                // dialler can read the finish first (seen once in a full parallel run).
                try await waitFor("b to take a's connection") { b.service.isConnected(to: NodeID("a")) }
                while var frame = try await frames.next() {
                    let header = try FrameHeader.read(from: &frame)
                    if header.trafficClass == .relay, header.kind == .message { break }
                }
            }
            #expect(b.metric("internode_handshake_failures_total", ["reason": "crossed"]) == 1)
        }
    }

    @Test(arguments: [("a", "z"), ("z", "a")])
    func aCrossedDialArrivingAfterOurConnectionIsLiveIsRefused(dialler: String, crosser: String) async throws {
        // The dialler's connection to the crosser is live on both sides; the crosser's own dial, started before
        // the dialler's reached it, arrives only now. Taken, it would replace the live connection on both sides
        // and fail every request already written on it; refused (whichever ID is smaller), the live connection
        // stays, and the crosser's dial loop stops.
        try await withMesh { mesh in
            let ours = try await mesh.start(dialler)
            let peer = try await mesh.start(crosser, incarnation: 7)
            await ours.know(peer)
            #expect(ours.service.send([1], to: peer.id, endpoint: testEndpoint, class: .relay) == .queued)
            try await waitFor("the dialler's connection") { peer.inbox.from(ours.id).count == 1 && peer.service.isConnected(to: ours.id) }
            let epoch = try #require(ours.service.directory.link(peer.id)?.liveConnection?.epoch)
            let refused = try await rawSession(to: ours) { frames, outbound in
                await #expect(throws: (any Error).self) { _ = try await rawHandshake(as: crosser, to: ours, frames: &frames, outbound: outbound) }
            }
            #expect(refused)
            try await waitFor("the crossed dial counted") { ours.metric("internode_handshake_failures_total", ["reason": "crossed"]) == 1 }
            #expect(ours.service.directory.link(peer.id)?.liveConnection?.epoch == epoch, "the live connection was replaced")
            #expect(ours.service.send([2], to: peer.id, endpoint: testEndpoint, class: .relay) == .queued)
            try await waitFor("the next message on the same connection") { peer.inbox.from(ours.id).count == 2 }
            #expect(ours.service.directory.link(peer.id)?.liveConnection?.epoch == epoch)
        }
    }

    @Test func aSessionFrameRightBehindTheAcceptorsFinishIsRead() async throws {
        // A raw acceptor writes its finish and a 4 KiB message in one write: the dialer's decoder splits both
        // out of one read, before its handshake task runs again, so the session's frame limit must already
        // be in force (the handshake's 512 bytes would close the connection as oversized).
        let host = uniqueLoopbackAddress()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: host, port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LengthPrefixedFrameDecoder(limit: FrameSizeLimit(1 << 24)))
                    )
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = try #require(listener.channel.localAddress?.port)
        try await withMesh { mesh in
            let a = try await mesh.start("a")
            await a.service.setPeer(NodeID("z"), host: host, port: port, incarnation: Incarnation(7))
            #expect(a.service.send([1], to: NodeID("z"), endpoint: testEndpoint, class: .relay) == .queued)
            try await listener.executeThenClose { connections in
                var accepted = connections.makeAsyncIterator()
                var failure: (any Error)?
                do {
                    let connection = try #require(try await accepted.next())
                    try await connection.executeThenClose { inbound, outbound in
                        var frames = inbound.makeAsyncIterator()
                        var machine = MeshHandshake(
                            role: .acceptor, localID: NodeID("z"), localIncarnation: Incarnation(7), keyring: nil,
                            nonce: [UInt8](repeating: 9, count: 32)
                        )
                        _ = try machine.receiveHello(try #require(try await frames.next()))
                        try await outbound.write(framed(machine.makeHello(streamID: 99, resume: 0)))
                        try machine.receiveFinish(try #require(try await frames.next()))
                        var both = framed(try machine.makeFinish())
                        let message = [UInt8](repeating: 0x5A, count: 4096)
                        both.writeImmutableBuffer(framed(frameBody(FrameHeader(trafficClass: .control, kind: .message, endpoint: testEndpoint), message)))
                        try await outbound.write(both)
                        try await waitFor("the message behind the finish") { a.inbox.from(NodeID("z")).map(\.payload) == [message] }
                        #expect(a.metric("internode_frame_errors_total", ["reason": "oversized"]) ?? 0 == 0)
                    }
                } catch {
                    failure = error
                }
                // The relay message stays unacknowledged, so the node would dial again; and every connection
                // accepted meanwhile must be closed through its wrapper (NIO traps on an async channel dropped
                // unfinished): stop the dialling and the listening, then close whatever is left.
                await a.service.removePeer(NodeID("z"))
                try? await listener.channel.close()
                while let extra = try? await accepted.next() {
                    try? await extra.executeThenClose { _, _ in }
                }
                if let failure { throw failure }
            }
        }
    }

    @Test func nodesDiallingEachOtherAtOnceSettleOnOneConnection() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a")
            let b = try await mesh.start("b")
            await a.know(b)
            await b.know(a)
            // Both need the other at the same moment: both dial.
            async let fromA: Void = { for index in 0..<200 { _ = a.service.send(numbered(index), to: b.id, endpoint: testEndpoint, class: .relay) } }()
            async let fromB: Void = { for index in 0..<200 { _ = b.service.send(numbered(index), to: a.id, endpoint: testEndpoint, class: .relay) } }()
            _ = await (fromA, fromB)
            try await waitFor("every message both ways") { a.inbox.from(b.id).count == 200 && b.inbox.from(a.id).count == 200 }
            #expect(a.inbox.from(b.id).map { number(of: $0.payload) } == Array(0..<200), "exactly once, in order")
            #expect(b.inbox.from(a.id).map { number(of: $0.payload) } == Array(0..<200))
            try await waitFor("one connection on each side") {
                a.metric("internode_connections") == 1 && b.metric("internode_connections") == 1
                    && a.service.isConnected(to: b.id) && b.service.isConnected(to: a.id)
            }
        }
    }

    @Test(arguments: ["oversized", "unknown_kind", "unknown_class", "malformed", "truncated"])
    func badFrameAfterTheHandshakeClosesThatConnectionOnly(_ reason: String) async throws {
        try await afterAttack({ b in
            let closed = try await rawSession(to: b) { frames, outbound in
                _ = try await rawHandshake(as: "0-raw", to: b, frames: &frames, outbound: outbound)
                switch reason {
                case "oversized":
                    try await outbound.write(buffer([0x01, 0x00, 0x01, 0x00]))  // 16 MiB + 256, above the limit
                case "unknown_kind":
                    var body = Array(frameBody(FrameHeader(trafficClass: .raft, kind: .message, endpoint: testEndpoint)).readableBytesView)
                    body[1] = 99
                    try await outbound.write(framed(buffer(body)))
                case "unknown_class":
                    var body = Array(frameBody(FrameHeader(trafficClass: .raft, kind: .message, endpoint: testEndpoint)).readableBytesView)
                    body[0] = 7
                    try await outbound.write(framed(buffer(body)))
                case "malformed":
                    try await outbound.write(framed(buffer([1, 0, 0])))
                default:
                    try await outbound.write(buffer([0, 0, 0, 100, 1, 2, 3]))
                    outbound.finish()
                }
            }
            #expect(closed)
        }, check: { b in
            try await waitFor("b to count the failure") { b.metric("internode_frame_errors_total", ["reason": reason]) == 1 }
        })
    }

    /// A record of raft messages from the raw client, numbered from `first`.
    static func messages(_ first: Int, count: Int = 3) -> ByteBuffer {
        recordPlaintext((first..<(first + count)).map {
            frameBody(FrameHeader(trafficClass: .raft, kind: .message, endpoint: testEndpoint), numbered($0))
        })
    }

    @Test(arguments: ["flipped", "dropped", "replayed", "reordered"])
    func badRecordClosesThatConnectionOnly(_ attack: String) async throws {
        try await afterAttack(keyring: [Self.key1], { b in
            let raw = NodeID("0-raw")
            let closed = try await rawSession(to: b) { frames, outbound in
                var session = try await rawHandshake(
                    as: raw.rawValue, to: b, keyring: MeshKeyring([Self.key1]), frames: &frames, outbound: outbound
                )
                let first = try sealedRecord(Self.messages(0), &session.sealer!)
                let second = try sealedRecord(Self.messages(3), &session.sealer!)
                switch attack {
                case "flipped":
                    try await outbound.write(first)
                    var bytes = Array(second.readableBytesView)
                    bytes[bytes.count / 2] ^= 0x08
                    try await outbound.write(buffer(bytes))
                case "dropped":
                    try await outbound.write(second)
                case "replayed":
                    try await outbound.write(first)
                    try await outbound.write(first)
                default:
                    // One write: b closes as soon as the first record it reads fails, and a second write
                    // could then meet the closed socket.
                    var both = second
                    both.writeImmutableBuffer(first)
                    try await outbound.write(both)
                }
            }
            #expect(closed)
            // Only what authenticated before the bad record was delivered, once and in order.
            let delivered = attack == "flipped" || attack == "replayed" ? [0, 1, 2] : []
            #expect(b.inbox.from(raw).map { number(of: $0.payload) } == delivered)
        }, check: { b in
            try await waitFor("b to count the failure") { b.metric("internode_frame_errors_total", ["reason": "bad_tag"]) == 1 }
        })
    }

    @Test(arguments: ["empty", "ends_inside_a_frame", "short_header", "unknown_class", "unknown_kind", "oversized"])
    func malformedFramesInsideASealedRecordCloseThatConnectionOnly(_ content: String) async throws {
        let message = Array(frameBody(FrameHeader(trafficClass: .raft, kind: .message, endpoint: testEndpoint), [1]).readableBytesView)
        let (plaintext, reason): ([UInt8], String) = switch content {
        case "empty": ([], "malformed")
        case "ends_inside_a_frame": ([0, 0, 0, 40] + message, "malformed")
        case "short_header": ([0, 0, 0, 3, 1, 0, 0], "malformed")
        case "unknown_class": ([0, 0, 0, UInt8(message.count), 7] + message.dropFirst(), "unknown_class")
        case "unknown_kind": ([0, 0, 0, UInt8(message.count), 1, 99] + message.dropFirst(2), "unknown_kind")
        default: ([0x01, 0x00, 0x01, 0x00] + message, "oversized")  // 16 MiB + 256, above the frame limit
        }
        try await afterAttack(keyring: [Self.key1], { b in
            let closed = try await rawSession(to: b) { frames, outbound in
                var session = try await rawHandshake(
                    as: "0-raw", to: b, keyring: MeshKeyring([Self.key1]), frames: &frames, outbound: outbound
                )
                try await outbound.write(sealedRecord(buffer(plaintext), &session.sealer!))
            }
            #expect(closed)
        }, check: { b in
            try await waitFor("b to count the failure") { b.metric("internode_frame_errors_total", ["reason": reason]) == 1 }
            #expect(b.metric("internode_frame_errors_total", ["reason": "bad_tag"]) == 0)
        })
    }

    @Test func replyToAnUnknownRequestIsDroppedAndCounted() async throws {
        try await afterAttack({ b in
            _ = try await rawSession(to: b) { frames, outbound in
                _ = try await rawHandshake(as: "0-raw", to: b, frames: &frames, outbound: outbound)
                try await outbound.write(framed(frameBody(FrameHeader(trafficClass: .raft, kind: .reply, endpoint: .raft, requestID: 12345), [1])))
                try await waitFor("b to count the unknown reply") { b.metric("internode_unknown_replies_total") == 1 }
                outbound.finish()
            }
        }, check: { b in
            try await waitFor("b to count the failure") { b.metric("internode_unknown_replies_total") == 1 }
            #expect(b.metric("internode_frame_errors_total", ["reason": "malformed"]) == 0)
        })
    }
}
