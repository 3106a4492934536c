/// `admin.*`: the HTTP endpoint serving `/metrics`, `/livez`, `/readyz` and the `/v1` JSON API.
public struct AdminSettings: Sendable, Equatable {
    /// The default listen address, loopback only.
    public static let defaultAddress = HostPort(host: "127.0.0.1", port: 7960)

    /// `admin.address`: `host:port` to listen on; nil (written as "") = no HTTP endpoint. Port 0 picks an
    /// ephemeral port. Default: 127.0.0.1:7960.
    public var address: HostPort?
    /// `admin.token` as written. Default: "" (no token).
    public var token: String
    /// `admin.token_file`: path of a file holding the token (trimmed); wins over ``token``. Default: "".
    public var tokenFile: String
    /// The bearer token every `/v1` call must present, or nil when none is set. `token_file` content wins
    /// over `token`. Filled by ``ConfigLoader``.
    public var resolvedToken: String?

    /// Creates admin settings; every argument defaults to the key table's default.
    public init(
        address: HostPort? = AdminSettings.defaultAddress,
        token: String = "",
        tokenFile: String = "",
        resolvedToken: String? = nil
    ) {
        self.address = address
        self.token = token
        self.tokenFile = tokenFile
        self.resolvedToken = resolvedToken
    }
}

/// Log severity (`log.level`), least severe first; the raw values match swift-log's `Logger.Level`.
public enum LogLevel: String, Sendable, Equatable, Comparable, CaseIterable {
    /// Everything, including per-message tracing.
    case trace
    /// Diagnostics for developers.
    case debug
    /// Normal operation.
    case info
    /// Normal but significant events.
    case notice
    /// Something is wrong but the node carries on.
    case warning
    /// An operation failed.
    case error
    /// The node cannot carry on.
    case critical

    /// Orders by severity.
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Log output format (`log.format`).
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    /// One human-readable line per event.
    case text
    /// One JSON object per line.
    case json
    /// Native journal fields (the journal's native protocol).
    case journald
}

/// `log.*`: what is logged and how.
public struct LogSettings: Sendable, Equatable {
    /// `log.level`: minimum severity logged. Default: `.info`.
    public var level: LogLevel
    /// `log.format`. Default: `.text`.
    public var format: LogFormat

    /// Creates log settings; every argument defaults to the key table's default.
    public init(level: LogLevel = .info, format: LogFormat = .text) {
        self.level = level
        self.format = format
    }
}
