import Synchronization

/// Which endpoint a health check gates.
public enum HealthKind: String, Sendable, CaseIterable {
    /// `/livez` and the systemd watchdog: failing means the node is wedged and should be restarted.
    case liveness
    /// `/readyz` and `READY=1`: failing means the node should not receive traffic yet.
    case readiness
}

/// The outcome of one health check.
public enum HealthStatus: Sendable, Equatable {
    case ok
    case fail(String)

    /// True for `.ok`.
    public var isPassing: Bool {
        if case .ok = self { return true }
        return false
    }
}

/// The evaluated state of every check of one kind, in registration order.
public struct HealthReport: Sendable, Equatable {
    /// One line per check.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var status: HealthStatus

        /// A check named `name` with `status`.
        public init(name: String, status: HealthStatus) {
            self.name = name
            self.status = status
        }
    }

    /// Every check of this kind with its status.
    public var entries: [Entry]

    /// A report of `entries`.
    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// True when every check passes (and trivially when there are none).
    public var isPassing: Bool { entries.allSatisfy { $0.status.isPassing } }

    /// The names of the failing checks.
    public var failing: [String] { entries.filter { !$0.status.isPassing }.map(\.name) }

    /// The body served by `/livez` and `/readyz`: one `name<TAB>ok|fail: why` line per check.
    public func render() -> String {
        var text = ""
        for entry in entries {
            switch entry.status {
            case .ok: text += "\(entry.name)\tok\n"
            case .fail(let why): text += "\(entry.name)\tfail: \(why)\n"
            }
        }
        return text
    }
}

/// The registry of named health checks that every subsystem registers with.
///
/// Checks are synchronous closures that read state the subsystem keeps current (an atomic, a mutex);
/// they must be cheap because `/livez`, `/readyz` and the watchdog evaluate them often.
public final class HealthRegistry: Sendable {
    /// A registered check.
    public typealias Check = @Sendable () -> HealthStatus

    private struct Registered {
        var name: String
        var kind: HealthKind
        var check: Check
    }

    private let checks = Mutex<[Registered]>([])

    public init() {}

    /// Registers `check` under `name` for `kind`, replacing any earlier check of the same name and kind.
    public func register(_ name: String, kind: HealthKind, check: @escaping Check) {
        checks.withLock { list in
            if let index = list.firstIndex(where: { $0.name == name && $0.kind == kind }) {
                list[index].check = check
            } else {
                list.append(Registered(name: name, kind: kind, check: check))
            }
        }
    }

    /// Removes the check `name` of `kind`, if present.
    public func unregister(_ name: String, kind: HealthKind) {
        checks.withLock { list in list.removeAll { $0.name == name && $0.kind == kind } }
    }

    /// Runs every check of `kind` and returns the report.
    public func evaluate(_ kind: HealthKind) -> HealthReport {
        // Copy the closures out so a check never runs under the registry's lock.
        let selected = checks.withLock { list in list.filter { $0.kind == kind } }
        return HealthReport(entries: selected.map { .init(name: $0.name, status: $0.check()) })
    }

    /// Publishes every check as `cohort_health_check{check,kind}` (1 passing, 0 failing), evaluated when
    /// `/metrics` is scraped, so an alert can watch the very checks behind `/livez`, `/readyz` and the
    /// systemd watchdog.
    public func export(to metrics: CohortMetrics) {
        let registry = metrics.registry
        metrics.beforeRender { [self] in
            for kind in HealthKind.allCases {
                for entry in evaluate(kind).entries {
                    registry.gauge(
                        "cohort_health_check", labels: [("check", entry.name), ("kind", kind.rawValue)],
                        help: "1 while the health check passes, 0 while it fails; kind liveness feeds /livez and the watchdog, readiness /readyz."
                    ).set(entry.status.isPassing ? 1.0 : 0.0)
                }
            }
        }
    }
}
