import Glibc
import Logging
import Observability
import Synchronization

/// A swift-log handler that writes each event to the systemd journal with structured fields, by the journal's
/// native protocol: one datagram per entry to `/run/systemd/journal/socket` (``JournalSocket``).
///
/// Fields: `MESSAGE`, `PRIORITY` (syslog levels), `SYSLOG_IDENTIFIER`, `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`,
/// `COHORT_LOGGER` (the logger label), `COHORT_SOURCE` (the module), and one field per metadata entry named by
/// `JournalField.name(forMetadataKey:)` (`raft.term` → `RAFT_TERM`), so `journalctl RAFT_TERM=4` works. Use it when
/// `stderrIsJournal(environment:)` says stderr already goes to the journal. If the journal refuses an entry (one
/// larger than a datagram, or a journal that is not running), the line goes to stderr instead — the journal's
/// stream, without the fields.
public struct JournaldLogHandler: LogHandler {
    /// The logger label, sent as `COHORT_LOGGER`.
    public let label: String
    /// The `SYSLOG_IDENTIFIER`, the name `journalctl -t` selects by.
    public let identifier: String
    /// Metadata attached to every event of this handler.
    public var metadata: Logger.Metadata = [:]
    /// The minimum level this handler receives.
    public var logLevel: Logger.Level = .info
    /// Contributes task-local metadata to every event.
    public var metadataProvider: Logger.MetadataProvider?
    /// Where entries go: journald's socket (tests give one of their own).
    let socket: JournalSocket

    /// Creates a handler for the logger `label`, typically through
    /// `LoggingSystem.bootstrap { JournaldLogHandler(label: $0) }`.
    public init(
        label: String,
        identifier: String = "cohortd",
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.init(label: label, identifier: identifier, metadataProvider: metadataProvider, socket: .shared)
    }

    init(label: String, identifier: String = "cohortd", metadataProvider: Logger.MetadataProvider? = nil, socket: JournalSocket) {
        self.label = label
        self.identifier = identifier
        self.metadataProvider = metadataProvider
        self.socket = socket
    }

    /// Reads or writes one metadata entry of this handler.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Sends `event` to the journal.
    public func log(event: LogEvent) {
        let metadata = effectiveMetadata(for: event)
        let fields = Self.fields(for: event, label: label, identifier: identifier, metadata: metadata)
        if socket.send(fields) != 0 {
            StandardError.write("\(event.level) \(label): \(event.message)")
        }
    }

    /// The metadata sent with `event`: this handler's, overridden by the provider's, overridden by the event's,
    /// plus `error.message` and `error.type` when the event carries an error (as swift-log's own handlers do).
    public func effectiveMetadata(for event: LogEvent) -> Logger.Metadata {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata {
            merged.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        return merged
    }

    /// The journal fields for `event`, in order: the fixed fields, then metadata sorted by key. `metadata` is the
    /// merged metadata (handler, provider, event); the event's own metadata is not read again.
    public static func fields(
        for event: LogEvent,
        label: String,
        identifier: String,
        metadata: Logger.Metadata
    ) -> [JournalField] {
        var fields = [
            JournalField("MESSAGE", event.message.description),
            JournalField("PRIORITY", String(syslogPriority(event.level))),
            JournalField("SYSLOG_IDENTIFIER", identifier),
            JournalField("CODE_FILE", event.file),
            JournalField("CODE_LINE", String(event.line)),
            JournalField("CODE_FUNC", event.function),
            JournalField("COHORT_LOGGER", label),
            JournalField("COHORT_SOURCE", event.source),
        ]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            fields += JournalField.fields(forMetadataKey: key, value: value)
        }
        return fields
    }

    /// The syslog priority journald stores for a swift-log level: critical 2, error 3, warning 4, notice 5,
    /// info 6, debug and trace 7.
    public static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .critical: return 2
        case .error: return 3
        case .warning: return 4
        case .notice: return 5
        case .info: return 6
        case .debug, .trace: return 7
        }
    }
}

/// The journal's native socket: each entry one datagram of fields, `NAME=value\n` when the value has no line
/// break, else `NAME\n`, the value's length (64-bit little-endian), the value and `\n`
/// (`systemd.journal-fields(7)`, and "Native Journal Protocol" in systemd's documentation). One socket, opened
/// at the first entry, serves every logger (a datagram socket is safe to share between threads).
///
/// libsystemd passes an entry too large for a datagram through a sealed memfd; this does not (Cohort's log
/// lines are far below the limit, which is the socket's send buffer, 8 MiB asked for): such an entry fails with
/// `EMSGSIZE` and the handler writes it to stderr.
public final class JournalSocket: Sendable {
    /// The socket journald listens on.
    public static let defaultPath = "/run/systemd/journal/socket"
    /// The send buffer asked for (the kernel caps it at `net.core.wmem_max`).
    static let sendBufferBytes: Int32 = 8 << 20
    /// The one every ``JournaldLogHandler`` uses.
    public static let shared = JournalSocket(path: defaultPath)

    /// Where entries go.
    public let path: String
    /// `path` parsed (nil: not a socket address; every send fails with `EINVAL`).
    private let address: UnixDatagram.Address?
    /// The open socket, or -1 before the first entry (and after a failure to open one).
    private let descriptor = Mutex<Int32>(-1)

    /// A socket sending to `path` (tests use one of their own).
    public init(path: String) {
        self.path = path
        address = UnixDatagram.Address(path)
    }

    deinit {
        let fd = descriptor.withLock { $0 }
        if fd >= 0 { close(fd) }
    }

    /// Sends `fields` as one entry; 0, or the `errno` of the failure (`ENOENT` or `ECONNREFUSED`: no journal).
    public func send(_ fields: [JournalField]) -> Int32 {
        guard let address else { return EINVAL }
        // The descriptor, or minus the errno of the failure to open one (read where it happened).
        let fd = descriptor.withLock { fd -> Int32 in
            if fd < 0 {
                guard let socket = UnixDatagram.openSocket() else { return -errno }
                var size = Self.sendBufferBytes
                _ = setsockopt(socket, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                fd = socket
            }
            return fd
        }
        guard fd >= 0 else { return -fd }
        return UnixDatagram.send(Self.encode(fields), on: fd, to: address)
    }

    /// One entry's datagram.
    public static func encode(_ fields: [JournalField]) -> [UInt8] {
        var bytes: [UInt8] = []
        for field in fields {
            bytes.append(contentsOf: field.name.utf8)
            let value = field.value.utf8
            guard value.contains(UInt8(ascii: "\n")) else {
                bytes.append(UInt8(ascii: "="))
                bytes.append(contentsOf: value)
                bytes.append(UInt8(ascii: "\n"))
                continue
            }
            bytes.append(UInt8(ascii: "\n"))
            withUnsafeBytes(of: UInt64(value.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: value)
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }
}
