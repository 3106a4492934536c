import CohortCore
import CohortTestKit
@testable import Processes
@testable import ProcessCore
import Testing

/// The remote signal format: round trips, exact bytes, and hostile input.
@Suite("process signal codec")
struct ProcessSignalCodecTests {
    static let a = PID(node: NodeID("node-a"), incarnation: Incarnation(1_764_246_229_000), serial: 42)
    static let b = PID(node: NodeID("b@x.y"), incarnation: Incarnation(3), serial: 1)
    static let ref = MonitorReference(node: NodeID("node-a"), incarnation: Incarnation(9), serial: 7)
    static let outcomes: [ProcessOutcome] = [
        .normal(nil), .normal([]), .normal([1, 2, 3]), .failed("boom"), .cancelled("é ✓"), .terminated,
        .linked(b), .noProcess, .nodeDown,
    ]

    /// One of every signal, with every outcome.
    static let samples: [ProcessSignal] = [
        .message(from: a, to: b, topic: "orders.created", payload: Array(0..<200)),
        .message(from: nil, to: b, topic: "", payload: []),
        .monitor(ref: ref, watcher: a, target: b),
        .demonitor(ref: ref, target: b),
        .link(a, b),
        .unlink(b, a),
        .cancel(target: b, reason: "name revoked: x", from: a),
        .cancel(target: b, reason: "", from: nil),
        .terminate(target: b, from: a),
        .terminate(target: b, from: nil),
    ] + outcomes.flatMap { outcome in
        [ProcessSignal.down(ref: ref, target: b, outcome: outcome), .linkDown(from: a, to: b, outcome: outcome)]
    }

    @Test("every signal and outcome survives a round trip")
    func roundTrip() throws {
        for signal in Self.samples {
            #expect(try ProcessSignalCodec.decode(ProcessSignalCodec.encode(signal)) == signal)
        }
    }

    @Test("the byte layout of a message is the documented one")
    func messageBytes() throws {
        let pid = PID(node: NodeID("n"), incarnation: Incarnation(2), serial: 3)
        let bytes = try ProcessSignalCodec.encode(.message(from: nil, to: pid, topic: "t", payload: [0xAB]))
        #expect(bytes == [
            1, 1, 0,  // version, kind message, no sender
            1, 0x6E, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3,  // to: "n", incarnation 2, serial 3
            0, 1, 0x74,  // topic "t"
            0, 0, 0, 1, 0xAB,  // payload
        ])
    }

    @Test("every truncation of every signal is an error, never a shorter signal")
    func truncations() throws {
        #expect(throws: ProcessWireError.empty) { try ProcessSignalCodec.decode([]) }
        for signal in Self.samples {
            let bytes = try ProcessSignalCodec.encode(signal)
            for cut in 1..<bytes.count {
                #expect(throws: ProcessWireError.truncated, "\(signal) cut at \(cut)") {
                    try ProcessSignalCodec.decode(Array(bytes.prefix(cut)))
                }
            }
            #expect(throws: ProcessWireError.trailingBytes(1)) { try ProcessSignalCodec.decode(bytes + [0]) }
        }
    }

    @Test("unknown versions, kinds and tags, bad UTF-8 and lying lengths are typed errors")
    func malformed() throws {
        let message = try ProcessSignalCodec.encode(.message(from: nil, to: Self.b, topic: "t", payload: []))
        #expect(throws: ProcessWireError.unsupportedVersion(2)) { try ProcessSignalCodec.decode([2] + message.dropFirst()) }
        #expect(throws: ProcessWireError.unknownKind(0)) { try ProcessSignalCodec.decode([1, 0]) }
        #expect(throws: ProcessWireError.unknownKind(10)) { try ProcessSignalCodec.decode([1, 10]) }
        #expect(throws: ProcessWireError.invalidTag(field: "optional pid", value: 2)) { try ProcessSignalCodec.decode([1, 1, 2]) }
        #expect(throws: ProcessWireError.invalidText(field: "node")) { try ProcessSignalCodec.decode([1, 1, 0, 0]) }
        #expect(throws: ProcessWireError.invalidText(field: "node")) { try ProcessSignalCodec.decode([1, 9, 1, 0xFF]) }
        // A payload length of 4 GiB - 1 is refused before anything is allocated or read.
        var huge = try ProcessSignalCodec.encode(.message(from: nil, to: Self.b, topic: "", payload: []))
        huge.replaceSubrange(huge.count - 4..<huge.count, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: ProcessWireError.oversized(field: "payload")) { try ProcessSignalCodec.decode(huge) }
        // A topic longer than its limit.
        var topic = try ProcessSignalCodec.encode(.message(from: nil, to: Self.b, topic: "", payload: []))
        topic.replaceSubrange(topic.count - 6..<topic.count - 4, with: [0x04, 0x01])
        #expect(throws: ProcessWireError.oversized(field: "topic")) { try ProcessSignalCodec.decode(topic) }
        let badOutcome = try ProcessSignalCodec.encode(.linkDown(from: Self.a, to: Self.b, outcome: .terminated))
        #expect(throws: ProcessWireError.invalidTag(field: "outcome", value: 7)) {
            try ProcessSignalCodec.decode(badOutcome.dropLast() + [7])
        }
    }

    @Test("oversized fields are refused on encode; long reasons are cut to the limit")
    func encodeLimits() throws {
        let topic = String(repeating: "t", count: ProcessWireLimits.maxTopicBytes + 1)
        #expect(throws: ProcessWireError.oversized(field: "topic")) {
            try ProcessSignalCodec.encode(.message(from: nil, to: Self.b, topic: topic, payload: []))
        }
        let node = PID(node: NodeID(String(repeating: "n", count: 256)), incarnation: Incarnation(1), serial: 1)
        #expect(throws: ProcessWireError.oversized(field: "node")) { try ProcessSignalCodec.encode(.link(node, Self.b)) }
        let long = String(repeating: "é", count: 3000)  // 6000 bytes
        let decoded = try ProcessSignalCodec.decode(
            ProcessSignalCodec.encode(.linkDown(from: Self.a, to: Self.b, outcome: .failed(long)))
        )
        guard case .linkDown(_, _, .failed(let cut)) = decoded else {
            Issue.record("decoded \(decoded)")
            return
        }
        #expect(cut.utf8.count <= ProcessWireLimits.maxReasonBytes && cut.utf8.count > 4000)
        #expect(long.hasPrefix(cut))
    }

    @Test("seeded random and mutated bytes decode to a signal or a typed error, and decoded signals re-encode")
    func randomInput() throws {
        var generator = SplitMix64(seed: 7_031)
        let valid = try Self.samples.map { try ProcessSignalCodec.encode($0) }
        var decoded = 0
        for round in 0..<30_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = generator.bytes(Int.random(in: 0...80, using: &generator))
                if bytes.count > 1 {
                    bytes[0] = 1
                    bytes[1] = UInt8.random(in: 1...9, using: &generator)
                }
            } else {
                bytes = valid[Int.random(in: 0..<valid.count, using: &generator)]
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            guard let signal = try? ProcessSignalCodec.decode(bytes) else { continue }
            decoded += 1
            #expect(try ProcessSignalCodec.decode(ProcessSignalCodec.encode(signal)) == signal)
        }
        #expect(decoded > 100)
    }

    @Test("a runtime counts undecodable signals and keeps working")
    func runtimeCountsDecodeErrors() async throws {
        let registry = PrometheusRegistry()
        let runtime = ProcessRuntime(node: NodeID("b@x.y"), incarnation: Incarnation(3), logger: quietLogger, metrics: registry)
        let (pid, events) = runtime.spawnRecorder()
        var generator = SplitMix64(seed: 99)
        var rejected = 0
        for _ in 0..<5_000 {
            let bytes = generator.bytes(Int.random(in: 0...40, using: &generator))
            if (try? ProcessSignalCodec.decode(bytes)) == nil { rejected += 1 }
            runtime.receive(bytes, from: NodeID("node-a"))
        }
        #expect(metric(registry, #"processes_messages_dropped_total{reason="decode_error"}"#) == Double(rejected))
        let message = try ProcessSignalCodec.encode(.message(from: Self.a, to: pid, topic: "still", payload: [1]))
        runtime.receive(message, from: NodeID("node-a"))
        try await events.waitFor(.message(ProcessMessage(from: Self.a, topic: "still", payload: [1])))
        #expect(metric(registry, #"processes_messages_total{path="remote_in"}"#) == 1)
    }
}
