import CohortCore
import Logging

/// Work decided under the lock and done after it is released: resuming continuations and cancelling tasks can run
/// arbitrary code, and transport sends may take time, so none of it happens while the table is locked.
struct Deferred: Sendable {
    var wakes: [(CheckedContinuation<ProcessEvent?, Never>, ProcessEvent)] = []
    var closedReaders: [CheckedContinuation<ProcessEvent?, Never>] = []
    var results: [(CheckedContinuation<ProcessOutcome, Never>, ProcessOutcome)] = []
    var kills: [Task<Void, Never>] = []
    var exits: [(PID, ProcessOutcome)] = []
    /// Signals this caller must hand to the transport (it found the outbox idle), in order.
    var outbound: [(ProcessSignal, NodeID)] = []

    func perform(_ runtime: ProcessRuntime) {
        for (reader, event) in wakes {
            reader.resume(returning: event)
        }
        for reader in closedReaders {
            reader.resume(returning: nil)
        }
        for (waiter, outcome) in results {
            waiter.resume(returning: outcome)
        }
        for task in kills {
            task.cancel()
        }
        if runtime.logger.logLevel <= .debug {
            for (pid, outcome) in exits {
                runtime.logger.debug("process exited", metadata: ["process.pid": "\(pid)", "process.outcome": "\(outcome)"])
            }
        }
        if !exits.isEmpty {
            let observers = runtime.exitObservers.withLock { $0 }
            for (pid, outcome) in exits {
                for observer in observers { observer(pid, outcome) }
            }
        }
        if !outbound.isEmpty { runtime.drainOutbox(startingWith: outbound) }
    }
}

extension ProcessRuntime {
    /// Carries out the table's effects that must happen under the lock (mailbox enqueues, so mailbox order is the
    /// decision order; bookkeeping; queuing signals) and returns the rest. Delivered messages are counted on `path`.
    func apply(_ effects: [ProcessEffect], to state: inout State, path: ProcessMetrics.Path = .local) -> Deferred {
        var deferred = Deferred()
        for effect in effects {
            switch effect {
            case .deliver(let event, let pid):
                if deliver(event, to: pid, in: &state, deferred: &deferred), case .message = event {
                    metrics.message(path)
                }
            case .signal(let signal, let node):
                state.outbox.append((signal, node))
            case .exited(let pid, let outcome):
                if let reader = state.mailboxes.removeValue(forKey: pid.serial)?.close() {
                    deferred.closedReaders.append(reader)
                }
                for waiter in state.resultWaiters.removeValue(forKey: pid.serial) ?? [] {
                    deferred.results.append((waiter, outcome))
                }
                deferred.exits.append((pid, outcome))
                metrics.exited(outcome, alive: state.table.count)
            case .kill(let pid):
                if let task = state.tasks[pid.serial] { deferred.kills.append(task) }
            case .dropped(let reason):
                metrics.dropped(reason)
            }
        }
        // Every handler that creates or removes a monitor passes through here; the store is one atomic write.
        metrics.monitors(state.table.monitors.count)
        takeOutbox(&state, into: &deferred)
        return deferred
    }

    /// Queues `event` in the mailbox of the local process `pid`; counts a drop and returns false if it is full or gone.
    func deliver(_ event: ProcessEvent, to pid: PID, in state: inout State, deferred: inout Deferred) -> Bool {
        guard let mailbox = state.mailboxes[pid.serial] else {
            if case .message = event { metrics.dropped(.noProcess) }
            return false
        }
        switch mailbox.enqueue(event) {
        case .queued:
            return true
        case .wake(let reader, let event):
            deferred.wakes.append((reader, event))
            return true
        case .full:
            metrics.dropped(.mailboxFull)
            return false
        case .closed:
            if case .message = event { metrics.dropped(.noProcess) }
            return false
        }
    }

    /// Makes this caller the one to send the outbox if nobody else is.
    func takeOutbox(_ state: inout State, into deferred: inout Deferred) {
        guard !state.draining, !state.outbox.isEmpty else { return }
        state.draining = true
        swap(&deferred.outbound, &state.outbox)
    }

    /// Hands signals to the transport in outbox order until the outbox is empty. Only one caller at a time does
    /// this (the `draining` flag), so signals leave in the order they were decided, without holding the lock.
    func drainOutbox(startingWith batch: [(ProcessSignal, NodeID)]) {
        var batch = batch
        while true {
            for (signal, node) in batch {
                send(signal, to: node)
            }
            batch = state.withLock { state in
                var next: [(ProcessSignal, NodeID)] = []
                swap(&next, &state.outbox)
                if next.isEmpty { state.draining = false }
                return next
            }
            if batch.isEmpty { return }
        }
    }

    /// Encodes one signal and hands it to the transport.
    private func send(_ signal: ProcessSignal, to node: NodeID) {
        guard let transport else {
            metrics.dropped(.nodeDown)
            return
        }
        do {
            transport.send(try ProcessSignalCodec.encode(signal), to: node)
            if case .message = signal { metrics.message(.remoteOut) }
        } catch {
            metrics.dropped(.oversized)
            logger.warning(
                "process signal not sent: \(error)", metadata: ["peer": "\(node)", "process.signal": "\(signal.kind)"]
            )
        }
    }
}

extension ProcessSignal {
    /// The signal's kind, for logs (never its payload).
    var kind: String {
        switch self {
        case .message: "message"
        case .monitor: "monitor"
        case .demonitor: "demonitor"
        case .down: "down"
        case .link: "link"
        case .unlink: "unlink"
        case .linkDown: "link_down"
        case .cancel: "cancel"
        case .terminate: "terminate"
        }
    }
}
