import CohortCore
import CohortTestKit
import Logging
@testable import Processes
@testable import ProcessCore
import Prometheus
import Synchronization

typealias PrometheusRegistry = PrometheusCollectorRegistry

/// Logs nothing: tests assert outcomes, not log lines.
let quietLogger = Logger(label: "test.processes") { _ in SwiftLogNoOpLogHandler() }

/// The events a process received, readable from the test.
final class Recorder: Sendable {
    private let storage = Mutex<[ProcessEvent]>([])

    var events: [ProcessEvent] { storage.withLock { $0 } }

    func append(_ event: ProcessEvent) {
        storage.withLock { $0.append(event) }
    }

    /// Waits until an event matching `match` has arrived (30 s at most). The deadline is generous on
    /// purpose: in the parallel suite the synchronous SWIM simulations hold both cooperative threads of a
    /// 2-core machine for seconds at a time, and a 10 s deadline was seen to run out once (a test whose
    /// event arrives in microseconds alone started its wait 5.5 s late).
    func waitFor(
        _ what: String, fileID: String = #fileID, line: Int = #line, _ match: @escaping @Sendable (ProcessEvent) -> Bool
    ) async throws {
        try await waitUntil(within: .seconds(30), what, fileID: fileID, line: line) { self.events.contains(where: match) }
    }

    /// Waits until `event` has arrived (30 s at most).
    func waitFor(_ event: ProcessEvent, fileID: String = #fileID, line: Int = #line) async throws {
        try await waitFor("\(event)", fileID: fileID, line: line) { $0 == event }
    }
}

extension ProcessRuntime {
    /// Spawns a process that records every event it receives until it is stopped.
    func spawnRecorder(trapLinks: Bool = false) -> (PID, Recorder) {
        let recorder = Recorder()
        let pid = spawn(options: SpawnOptions(trapLinks: trapLinks)) { context in
            for await event in context.mailbox {
                recorder.append(event)
            }
            return nil
        }
        return (pid, recorder)
    }

    /// The outcome of `pid`, waiting first until ``result(of:)`` is registered, then running `release` (which lets the
    /// process end): no race between a quick exit and the wait.
    func outcome(of pid: PID, after release: () -> Void) async throws -> ProcessOutcome {
        let waiting = Task { await self.result(of: pid) }
        try await waitUntil(within: .seconds(10), "a result(of:) waiter") { self.resultWaiterCount(pid) > 0 }
        release()
        return await waiting.value
    }

    /// Monitors with an end on this node (from the table, for tests that must wait until a remote signal arrived).
    var monitorCount: Int { state.withLock { $0.table.monitors.count } }

    /// Links held by this node's processes.
    var linkCount: Int { state.withLock { $0.table.processes.values.reduce(0) { $0 + $1.links.count } } }

    /// Spawns a process that waits for a gate to open, then returns `outcome`.
    func spawnGated(_ outcome: ProcessOutcome?, throwing: (any Error & Sendable)? = nil) -> (PID, AsyncStream<Void>.Continuation) {
        let (gate, open) = AsyncStream<Void>.makeStream()
        let pid = spawn { _ in
            for await _ in gate { break }
            if let throwing { throw throwing }
            return outcome
        }
        return (pid, open)
    }

    /// Spawns a process that waits until asked to stop (and then returns `.cancelled(reason)`) or stopped by force.
    @discardableResult
    func spawnIdle(trapLinks: Bool = false) -> PID {
        spawn(options: SpawnOptions(trapLinks: trapLinks)) { context in
            for await event in context.mailbox {
                if case .cancel(let reason) = event { return .cancelled(reason) }
            }
            return nil
        }
    }
}

/// The value of one sample in the registry's text output, e.g. `processes_messages_dropped_total{reason="mailbox_full"}`.
func metric(_ registry: PrometheusRegistry, _ sample: String) -> Double? {
    let text = registry.emitToString()
    for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
        return Double(line.dropFirst(sample.count + 1))
    }
    return nil
}

/// Four bytes, big-endian, for numbering messages.
func bytes(_ value: Int) -> [UInt8] {
    [UInt8(value >> 24 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
}

/// The number in four big-endian bytes.
func number(_ bytes: [UInt8]) -> Int {
    bytes.reduce(0) { $0 << 8 | Int($1) }
}
