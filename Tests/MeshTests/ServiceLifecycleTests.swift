import CohortCore
import CohortTestKit
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import Mesh

/// Ports, the dialling rule, and stopping.
@Suite struct ServiceLifecycleTests {
    @Test func portZeroPicksTheMeshRangeFirst() async throws {
        try await withMesh { mesh in
            let host = uniqueLoopbackAddress()
            let first = try await mesh.start("a", host: host)
            let second = try await mesh.start("b", host: host)
            // The first free ports of the range in order. Another process's wildcard bind on one of them
            // (a daemon of a parallel test) makes it unavailable here too, so check the order, not the numbers.
            #expect((7950...7959).contains(first.port))
            #expect((7950...7959).contains(second.port))
            #expect(second.port > first.port)
            #expect(first.service.advertisedHost == host)
        }
    }

    @Test func portZeroFallsBackToAnEphemeralPortWhenTheRangeIsTaken() async throws {
        let host = uniqueLoopbackAddress()
        var blockers: [any Channel] = []
        for port in 7950...7959 {
            // A port another process holds with a wildcard bind is taken already, which is what this wants.
            if let blocker = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: host, port: port).get() {
                blockers.append(blocker)
            }
        }
        defer { for blocker in blockers { blocker.close(promise: nil) } }
        try await withMesh { mesh in
            let node = try await mesh.start("a", host: host)
            #expect(node.port > 0 && !(7950...7959).contains(node.port))
        }
    }

    @Test func aFixedPortInUseFailsRunWithTheFix() async throws {
        try await withMesh { mesh in
            let host = uniqueLoopbackAddress()
            let taken = try await mesh.start("a", host: host)
            var settings = MeshSettings(nodeID: NodeID("b"), incarnation: Incarnation(1))
            settings.bindHost = host
            settings.bindPort = taken.port
            let service = MeshService(settings: settings, logger: .init(label: "test"))
            await #expect(throws: MeshError.self) { try await service.run() }
            // Whoever waits for the port hears that there will be none, instead of waiting forever.
            #expect(await service.waitUntilBound() == nil)
            #expect(await taken.service.waitUntilBound() == taken.port)
        }
    }

    @Test func invalidSettingsFailRun() async throws {
        var settings = MeshSettings(nodeID: NodeID("a"), incarnation: Incarnation(1))
        settings.keyring = [[1, 2, 3]]
        let service = MeshService(settings: settings, logger: .init(label: "test"))
        await #expect(throws: MeshError.invalidSettings("a keyring key is 3 bytes; cluster keys must be 16, 24 or 32 bytes")) {
            try await service.run()
        }
    }

    @Test func aPeerIsDialledOnlyOnceSomethingIsSentToIt() async throws {
        // Raw listeners stand in for peers, counting the connections they get.
        let accepted = Mutex<[String: Int]>([:])
        func listener(_ name: String) async throws -> (host: String, port: Int, channel: any Channel) {
            let host = uniqueLoopbackAddress()
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { child in
                    accepted.withLock { $0[name, default: 0] += 1 }
                    return child.eventLoop.makeSucceededVoidFuture()
                }
                .bind(host: host, port: 0).get()
            return (host, channel.localAddress!.port!, channel)
        }
        let smaller = try await listener("a")
        let larger = try await listener("c")
        defer {
            smaller.channel.close(promise: nil)
            larger.channel.close(promise: nil)
        }
        try await withMesh { mesh in
            let b = try await mesh.start("b")
            await b.service.setPeer(NodeID("a"), host: smaller.host, port: smaller.port, incarnation: nil)
            await b.service.setPeer(NodeID("c"), host: larger.host, port: larger.port, incarnation: nil)
            #expect(b.service.directory.link(NodeID("a"))?.isDialing == false, "known peers are not dialled")
            #expect(b.service.directory.link(NodeID("c"))?.isDialing == false)
            // A message to c — the larger ID — dials it; a, with nothing to send, is left alone.
            #expect(b.service.send([1], to: NodeID("c"), endpoint: testEndpoint, class: .relay) == .queued)
            try await waitFor("b to dial c") { accepted.withLock { $0["c", default: 0] } >= 1 }
            #expect(accepted.withLock { $0["a", default: 0] } == 0)
            #expect(b.service.directory.link(NodeID("a"))?.isDialing == false)
            #expect(b.service.directory.link(NodeID("c"))?.isDialing == true, "the fake peer never answers: b keeps trying")
        }
    }

    @Test func gracefulShutdownFailsPendingRequestsAndDisconnectsPeers() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a")
            let b = try await mesh.start("b", handlers: { service in
                service.setRequestHandler(for: .forward) { _ in
                    try await hangUntilCancelled()
                }
            })
            try await mesh.connect(a, b)
            let events = Collector(b.service.peerEvents)
            let request = Task { try await a.service.request([1], to: b.id, endpoint: .forward, class: .raft, timeout: .seconds(60)) }
            try await waitFor("the request to be pending") { a.service.pending.count == 1 }
            try await a.stop()
            await #expect(throws: MeshError.stopped) { try await request.value }
            #expect(a.service.send([1], to: b.id, endpoint: testEndpoint, class: .raft) == .dropped(.stopped))
            try await waitFor("b to see a disconnect") { events.all.contains(.disconnected(a.id)) }
        }
    }

    @Test func peerEventsStartWithASnapshot() async throws {
        try await withMesh { mesh in
            let a = try await mesh.start("a")
            let b = try await mesh.start("b")
            let c = try await mesh.start("c")
            try await mesh.connect(a, b)
            try await mesh.connect(a, c)
            let events = Collector(a.service.peerEvents)
            try await waitFor("the snapshot") { events.all.count >= 2 }
            #expect(Array(events.all.prefix(2)) == [.connected(b.id, b.incarnation), .connected(c.id, c.incarnation)])
        }
    }
}
