import CohortCore
import CohortTestKit
import Logging
import Processes
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

    /// Waits until an event matching `match` has arrived (10 s at most).
    func waitFor(
        _ what: String, fileID: String = #fileID, line: Int = #line, _ match: @escaping @Sendable (ProcessEvent) -> Bool
    ) async throws {
        try await waitUntil(within: .seconds(10), what, fileID: fileID, line: line) { self.events.contains(where: match) }
    }

    /// Waits until `event` has arrived (10 s at most).
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

/// The value of one sample in the registry's text output, e.g. `process_messages_dropped_total{reason="mailbox_full"}`.
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
