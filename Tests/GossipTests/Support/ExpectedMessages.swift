import Gossip

/// The Swift values of the messages Tools/memberlist-vectors encodes in Go (see `namedMessages` there).
enum ExpectedMessages {
    static let ping = PingMessage(sequenceNumber: 42, node: "node-b")
    static let pingSource = PingMessage(
        sequenceNumber: 70_000, node: "node-b", sourceAddress: [127, 0, 0, 1], sourcePort: 7946, sourceNode: "node-a"
    )
    static let suspect = SuspectMessage(incarnation: 3, node: "node-c", from: "node-a")
    static let alive = AliveMessage(incarnation: 1, node: "node-a", address: [127, 0, 0, 1], port: 7946)
    static let user: [UInt8] = Array("payload bytes".utf8)

    static let named: [(name: String, message: GossipMessage)] = [
        ("ping", .ping(ping)),
        ("ping-source", .ping(pingSource)),
        ("indirect-ping", .indirectPing(IndirectPingMessage(
            sequenceNumber: 7, target: [10, 0, 0, 2], port: 7946, node: "node-c", wantsNack: true,
            sourceAddress: [10, 0, 0, 1], sourcePort: 7946, sourceNode: "node-a"
        ))),
        ("indirect-ping-minimal", .indirectPing(IndirectPingMessage(
            sequenceNumber: 300, target: [UInt8](repeating: 0, count: 15) + [1], port: 8301, node: "n", wantsNack: false
        ))),
        ("ack", .ackResponse(AckResponseMessage(sequenceNumber: 42))),
        ("ack-payload", .ackResponse(AckResponseMessage(sequenceNumber: UInt32.max, payload: Array("hello".utf8)))),
        ("nack", .nackResponse(NackResponseMessage(sequenceNumber: 9))),
        ("suspect", .suspect(suspect)),
        ("alive", .alive(alive)),
        ("alive-meta", .alive(AliveMessage(
            incarnation: 2, node: "node-a", address: [127, 0, 0, 1], port: 7946, meta: (0..<200).map { UInt8($0) }
        ))),
        ("dead-leave", .dead(DeadMessage(incarnation: 65_536, node: "node-c", from: "node-c"))),
        ("user", .user(user)),
    ]

    static let pushPull = PushPullMessage(
        join: true,
        nodes: [
            PushNodeState(name: "node-a", address: [127, 0, 0, 1], port: 7946, incarnation: 1, state: .alive),
            PushNodeState(
                name: "node-b", address: [127, 0, 0, 2], port: 7946, meta: [0xC7, 1], incarnation: 5, state: .left
            ),
        ],
        userState: Array("state".utf8)
    )
}
