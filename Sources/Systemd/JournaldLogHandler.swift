import CSystemd
import Glibc
import Logging
import Observability

/// A swift-log handler that writes each event to the systemd journal with structured fields, through
/// `sd_journal_sendv`.
///
/// Fields: `MESSAGE`, `PRIORITY` (syslog levels), `SYSLOG_IDENTIFIER`, `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`,
/// `COHORT_LOGGER` (the logger label), `COHORT_SOURCE` (the module), and one field per metadata entry named by
/// `JournalField.name(forMetadataKey:)` (`raft.term` → `RAFT_TERM`), so `journalctl RAFT_TERM=4` works. Use it when
/// `stderrIsJournal(environment:)` says stderr already goes to the journal. If the journal refuses an entry, the
/// line goes to stderr instead.
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

    /// Creates a handler for the logger `label`, typically through
    /// `LoggingSystem.bootstrap { JournaldLogHandler(label: $0) }`.
    public init(
        label: String,
        identifier: String = "cohortd",
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.identifier = identifier
        self.metadataProvider = metadataProvider
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
        if Self.send(fields) < 0 {
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

    /// Sends `fields` as one journal entry; returns `sd_journal_sendv`'s result (negative errno on failure).
    static func send(_ fields: [JournalField]) -> Int32 {
        // One buffer holds every "NAME=value" so the iovecs point into memory that lives for the whole call.
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = buffer.count
            buffer.append(contentsOf: field.description.utf8)
            ranges.append(start..<buffer.count)
        }
        return buffer.withUnsafeMutableBytes { bytes -> Int32 in
            let vectors = ranges.map { range in
                iovec(iov_base: bytes.baseAddress.map { $0 + range.lowerBound }, iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }
}
