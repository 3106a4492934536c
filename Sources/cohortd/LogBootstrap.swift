import CohortConfig
import Logging
import Observability
import Systemd

/// Installs the process-wide log handler chosen by `log.format` and `log.level`.
enum LogBootstrap {
    static func bootstrap(_ settings: LogSettings, environment: [String: String]) {
        let level = Logger.Level(settings.level)
        // Under systemd with stderr connected to the journal, plain text becomes native journal entries.
        let format = settings.format == .text && stderrIsJournal(environment: environment) ? .journald : settings.format
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch format {
            case .text: handler = StreamLogHandler.standardError(label: label)
            case .json: handler = JSONLogHandler(label: label)
            case .journald: handler = JournaldLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}

extension Logger.Level {
    init(_ level: LogLevel) {
        switch level {
        case .trace: self = .trace
        case .debug: self = .debug
        case .info: self = .info
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }
}
