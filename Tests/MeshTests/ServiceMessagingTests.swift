import CohortCore
import CohortTestKit
import Synchronization
import Testing
@testable import Mesh

/// Two MeshService nodes over real loopback TCP: messages per endpoint and class, order under load,
/// big chunked messages, request/reply and its failures.
@Suite struct ServiceMessagingTests {
    @Test func twoNodesExchangeMessagesOnEveryEndpointAndClass() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a")
            let b = try await mesh.start("b")
            let events = Collector(a.service.peerEvents)
            try await mesh.connect(a, b)
            let endpoints: [MeshEndpoint] = [.processes, .raft, .raftSnapshot, .forward, .groups, .names]
            for (index, endpoint) in endpoints.enumerated() {
                let trafficClass = TrafficClass.allCases[index % 4]
                #expect(a.service.send(numbered(index), to: b.id, endpoint: endpoint, class: trafficClass) == .queued)
                #expect(b.service.send(numbered(index + 100), to: a.id, endpoint: endpoint, class: trafficClass) == .queued)
            }
            try await waitFor("both sides to receive six messages") { a.inbox.count == 6 && b.inbox.count == 6 }
            for (index, endpoint) in endpoints.enumerated() {
                let atB = b.inbox.from(a.id, endpoint: endpoint)
                #expect(atB.map { number(of: $0.payload) } == [index])
                #expect(atB.first?.trafficClass == TrafficClass.allCases[index % 4])
                #expect(atB.first?.incarnation == a.incarnation)
                #expect(a.inbox.from(b.id, endpoint: endpoint).map { number(of: $0.payload) } == [index + 100])
            }
            try await waitFor("a's subscriber to see b connect") { events.all.contains(.connected(b.id, b.incarnation)) }
            #expect(a.metric("internode_connections") == 1)
            #expect((a.metric("internode_frames_total", ["class": "relay", "direction": "out"]) ?? 0) >= 1)
            #expect((b.metric("internode_bytes_total", ["class": "raft", "direction": "in"]) ?? 0) > 0)
            #expect(a.metric("internode_dropped_total", ["class": "relay", "reason": "queue_full"]) == 0)
        }
    }

    @Test func messagesFromOneSenderArriveInOrderUnderLoad() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a")
            let b = try await mesh.start("b")
            try await mesh.connect(a, b)
            let count = 20_000
            for index in 0..<count {
                #expect(a.service.send(numbered(index, size: 1024), to: b.id, endpoint: testEndpoint, class: .relay) == .queued)
            }
            // Raft in the same flow keeps its own order too.
            for index in 0..<1000 { _ = a.service.send(numbered(index), to: b.id, endpoint: .raft, class: .raft) }
            try await waitFor("b to receive every message") { b.inbox.count == count + 1000 }
            #expect(b.inbox.from(a.id).map { number(of: $0.payload) } == Array(0..<count))
            #expect(b.inbox.from(a.id, endpoint: .raft).map { number(of: $0.payload) } == Array(0..<1000))
            try await waitFor("relay to be acknowledged") { a.service.queueDepth(to: b.id, class: .relay) == 0 }
        }
    }

    @Test func largeMessagesAreChunkedAndReassembled() async throws {
        try await withMesh { mesh in
            let configure: (inout MeshSettings) -> Void = { $0.maxMessageBytes = 8 << 20 }
            let a = try await mesh.start("a", configure: configure)
            let b = try await mesh.start("b", configure: configure)
            try await mesh.connect(a, b)
            let big = (0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            #expect(a.service.send(big, to: b.id, endpoint: .raftSnapshot, class: .bulk) == .queued)
            #expect(a.service.send([1, 2], to: b.id, endpoint: .raft, class: .raft) == .queued)
            #expect(a.service.send(big + [0], to: b.id, endpoint: .raftSnapshot, class: .relay) == .queued)
            #expect(a.service.send([UInt8](repeating: 0, count: (8 << 20) + 1), to: b.id, endpoint: .raftSnapshot, class: .bulk)
                == .dropped(.tooLarge))
            try await waitFor("b to receive both big messages") { b.inbox.from(a.id, endpoint: .raftSnapshot).count == 2 }
            let received = b.inbox.from(a.id, endpoint: .raftSnapshot)
            #expect(received[0].payload == big || received[1].payload == big)
            #expect(received.contains { $0.payload == big + [0] })
            #expect(b.inbox.from(a.id, endpoint: .raft).map(\.payload) == [[1, 2]])
            #expect((a.metric("internode_frames_total", ["class": "bulk", "direction": "out"]) ?? 0) >= 80)
            #expect(a.metric("internode_dropped_total", ["class": "bulk", "reason": "too_large"]) == 1)
        }
    }

    @Test func requestsGetRepliesErrorsAndTimeouts() async throws {
        try await withMesh { mesh in
            struct Refused: Error, CustomStringConvertible {
                var description: String { "refused: not the leader" }
            }
            let handlers: (MeshService) -> Void = { service in
                service.setRequestHandler(for: .forward) { request in request.payload.reversed() }
                service.setRequestHandler(for: .names) { _ in throw Refused() }
                service.setRequestHandler(for: .groups) { _ in
                    try await hangUntilCancelled()
                }
            }
            let a = try await mesh.start("a", handlers: handlers)
            let b = try await mesh.start("b", handlers: handlers)
            try await mesh.connect(a, b)
            for trafficClass in TrafficClass.allCases {
                #expect(try await a.service.request([1, 2, 3], to: b.id, endpoint: .forward, class: trafficClass, timeout: .seconds(30)) == [3, 2, 1])
                #expect(try await b.service.request([4, 5], to: a.id, endpoint: .forward, class: trafficClass, timeout: .seconds(30)) == [5, 4])
            }
            await #expect(throws: MeshError.remote("refused: not the leader")) {
                try await a.service.request([], to: b.id, endpoint: .names, class: .control, timeout: .seconds(30))
            }
            await #expect(throws: MeshError.noHandler(.processes)) {
                try await a.service.request([], to: b.id, endpoint: .processes, class: .raft, timeout: .seconds(30))
            }
            await #expect(throws: MeshError.timeout(peer: b.id, after: .milliseconds(200))) {
                try await a.service.request([], to: b.id, endpoint: .groups, class: .raft, timeout: .milliseconds(200))
            }
            await #expect(throws: MeshError.unknownPeer(NodeID("nobody"))) {
                try await a.service.request([], to: NodeID("nobody"), endpoint: .forward, class: .raft, timeout: .seconds(1))
            }
            await #expect(throws: MeshError.tooLarge(bytes: (64 << 20) + 1, limit: 64 << 20)) {
                try await a.service.request([UInt8](repeating: 0, count: (64 << 20) + 1), to: b.id, endpoint: .forward, class: .bulk, timeout: .seconds(1))
            }
            #expect((a.metric("internode_request_duration_seconds_count") ?? 0) >= 6)
        }
    }

    @Test func concurrentRequestsAreMatchedToTheirReplies() async throws {
        try await withMesh { mesh in
            let handlers: (MeshService) -> Void = { $0.setRequestHandler(for: .forward) { $0.payload } }
            let a = try await mesh.start("a", handlers: handlers)
            let b = try await mesh.start("b", handlers: handlers)
            try await mesh.connect(a, b)
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<500 {
                    group.addTask {
                        let reply = try await a.service.request(
                            numbered(index), to: b.id, endpoint: .forward, class: index % 2 == 0 ? .raft : .relay, timeout: .seconds(60)
                        )
                        return number(of: reply) == index
                    }
                }
                for try await matched in group { #expect(matched) }
            }
        }
    }

    @Test func requestToAKnownPeerWaitsForTheConnection() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a")
            let host = uniqueLoopbackAddress()
            // b is not running yet; a knows where it will be.
            await a.service.setPeer(NodeID("b"), host: host, port: 7950, incarnation: nil)
            #expect(a.service.send([9], to: NodeID("b"), endpoint: testEndpoint, class: .relay) == .queued)
            let reply = Task { try await a.service.request([7], to: NodeID("b"), endpoint: .forward, class: .raft, timeout: .seconds(60)) }
            let b = try await mesh.start("b", host: host, port: 7950, handlers: { service in
                service.setRequestHandler(for: .forward) { $0.payload + [8] }
            })
            #expect(try await reply.value == [7, 8])
            try await waitFor("the queued message to arrive") { b.inbox.from(a.id).count == 1 }
        }
    }

    @Test func sendingToAnUnknownPeerIsRefusedAtOnce() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a")
            #expect(a.service.send([1], to: NodeID("stranger"), endpoint: testEndpoint, class: .relay) == .dropped(.unknownPeer))
            #expect(a.service.send([1], to: a.id, endpoint: testEndpoint, class: .raft) == .dropped(.unknownPeer))
            #expect(a.metric("internode_dropped_total", ["class": "relay", "reason": "unknown_peer"]) == 1)
            #expect(a.service.queueDepth(to: NodeID("stranger"), class: .relay) == 0)
        }
    }

    @Test func messagesWithoutAHandlerAreCounted() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a")
            let b = try await mesh.start("b")
            try await mesh.connect(a, b)
            #expect(a.service.send([1], to: b.id, endpoint: MeshEndpoint(rawValue: 999), class: .raft) == .queued)
            try await waitFor("b to count the message without a handler") {
                b.metric("internode_dropped_total", ["class": "raft", "reason": "no_handler"]) == 1
            }
        }
    }
}
