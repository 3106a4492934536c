import Glibc

/// Sends service-manager notifications (`READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1`) by systemd's notify
/// protocol (`sd_notify(3)`): one datagram of newline-separated `KEY=value` assignments to the Unix socket that
/// `NOTIFY_SOCKET` names (a path, or `@name` in the abstract namespace).
///
/// Every message reads `NOTIFY_SOCKET` from the process environment at the time of the call, as `sd_notify(0, …)`
/// does; the environment is never unset, so child processes and later calls see the same socket. Each message
/// uses a socket of its own, so one notifier may be shared by every service.
public struct SystemdNotifier: Sendable {
    /// The value of `NOTIFY_SOCKET` when the notifier was made: a path, or `@name` for the abstract namespace.
    public let socket: String

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, or nil when this process has no watchdog
    /// (`WATCHDOG_USEC` unset, or `WATCHDOG_PID` names another process).
    public let watchdogInterval: Duration?

    /// Internal: a notification always goes to the environment's socket, so a public init could only mislead.
    init(socket: String, watchdogInterval: Duration?) {
        self.socket = socket
        self.watchdogInterval = watchdogInterval
    }

    /// The notifier for this process, or nil when it was not started by a service manager (`NOTIFY_SOCKET` unset
    /// or empty).
    ///
    /// The watchdog interval is read as `sd_watchdog_enabled(0, …)` reads it, honouring `WATCHDOG_PID`; it is half
    /// of `WATCHDOG_USEC` so that one late ping never costs a restart.
    public static func fromEnvironment() -> SystemdNotifier? {
        guard let raw = getenv("NOTIFY_SOCKET") else { return nil }
        let socket = String(cString: raw)
        guard !socket.isEmpty else { return nil }
        return SystemdNotifier(socket: socket, watchdogInterval: watchdogIntervalFromEnvironment())
    }

    /// Half of `WATCHDOG_USEC` when the watchdog is enabled for this process, else nil: `WATCHDOG_USEC` is a
    /// positive decimal number of microseconds, and `WATCHDOG_PID`, when set, names this process.
    public static func watchdogIntervalFromEnvironment() -> Duration? {
        guard let raw = getenv("WATCHDOG_USEC"), let usec = UInt64(String(cString: raw)), usec > 0 else { return nil }
        if let raw = getenv("WATCHDOG_PID") {
            guard let pid = Int32(String(cString: raw)), pid == getpid() else { return nil }
        }
        return .microseconds(Int64(clamping: usec / 2))
    }

    /// Sends `READY=1`: the service finished starting up.
    public func ready() throws(SystemdNotifyError) {
        try notify("READY=1")
    }

    /// Sends `STATUS=<text>`, the free-form line `systemctl status` shows. Newlines are replaced by spaces.
    public func status(_ text: String) throws(SystemdNotifyError) {
        try notify("STATUS=" + Self.singleLine(text))
    }

    /// Sends `WATCHDOG=1`: the service is alive.
    public func watchdog() throws(SystemdNotifyError) {
        try notify("WATCHDOG=1")
    }

    /// Sends `STOPPING=1`: the service is shutting down.
    public func stopping() throws(SystemdNotifyError) {
        try notify("STOPPING=1")
    }

    /// Sends `state`, one or more newline-separated `KEY=value` assignments, in one datagram.
    public func notify(_ state: String) throws(SystemdNotifyError) {
        guard let raw = getenv("NOTIFY_SOCKET"), raw.pointee != 0 else { throw .notifySocketUnset(state: state) }
        let code = UnixDatagram.sendOnce(Array(state.utf8), to: String(cString: raw))
        if code != 0 { throw .sendFailed(state: state, errno: code) }
    }

    /// `text` with every line break replaced by a space, so it stays one assignment.
    static func singleLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}

/// Why a notification did not reach the service manager.
public enum SystemdNotifyError: Error, Equatable, CustomStringConvertible {
    /// The datagram was not sent: `errno`, typically because the socket is gone or refuses it (`EINVAL`: the
    /// variable is neither an absolute path nor `@name`).
    case sendFailed(state: String, errno: Int32)
    /// `NOTIFY_SOCKET` was unset when sending: something removed it from the environment after start-up.
    case notifySocketUnset(state: String)

    public var description: String {
        switch self {
        case .sendFailed(let state, let code):
            let reason = String(cString: strerror(code))
            return "notify \(state.debugDescription) failed: \(reason) (errno \(code)); check that NOTIFY_SOCKET "
                + "names a live socket and that the unit has Type=notify and NotifyAccess=main"
        case .notifySocketUnset(let state):
            return "notify \(state.debugDescription) sent nothing: NOTIFY_SOCKET is no longer set; "
                + "do not unset it in the daemon's environment"
        }
    }
}
