#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// A swift-log handler writing one JSON object per line to standard error (`log.format: json`).
///
/// Fields: `ts` (RFC 3339 UTC), `level`, `logger`, `msg`, `source`, then every metadata key.
public struct JSONLogHandler: LogHandler {
    /// Metadata attached to every message.
    public var metadata: Logger.Metadata = [:]
    /// The minimum level written.
    public var logLevel: Logger.Level
    private let label: String

    /// Creates a handler for the logger `label` at `level`.
    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = Self.format(
            date: Date(), level: event.level, label: label, message: "\(event.message)",
            metadata: metadata.merging(event.metadata ?? [:]) { $1 }, source: event.source
        )
        StandardError.write(line)
    }

    /// Renders one line; public so tests can pin the format.
    public static func format(
        date: Date, level: Logger.Level, label: String, message: String,
        metadata: Logger.Metadata, source: String
    ) -> String {
        var object: [String: String] = [:]
        for (key, value) in metadata { object[key] = "\(value)" }
        object["ts"] = date.formatted(.iso8601)
        object["level"] = level.rawValue
        object["logger"] = label
        object["msg"] = message
        object["source"] = source
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(object) else { return #"{"msg":"unencodable log line"}"# }
        return String(decoding: data, as: UTF8.self)
    }
}
