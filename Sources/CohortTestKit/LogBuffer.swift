import Logging
import Synchronization

/// Lines logged by a test's nodes, kept in memory (the newest 3000–4000) to print when the test fails.
public final class LogBuffer: Sendable {
    private let lines = Mutex<[String]>([])

    /// An empty buffer.
    public init() {}

    /// Adds a line, dropping the oldest thousand when full.
    public func append(_ line: String) {
        lines.withLock { lines in
            if lines.count >= 4000 { lines.removeFirst(1000) }
            lines.append(line)
        }
    }

    /// Every line kept, oldest first.
    public var all: [String] { lines.withLock { $0 } }
}

/// A log handler writing one line per event into a ``LogBuffer``: time, `[name]` when given, level,
/// message and sorted metadata.
public struct BufferLogHandler: LogHandler {
    /// Where lines go.
    public let buffer: LogBuffer
    /// Prefixed as `[name]` to every line; nil for none.
    public let name: String?
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .debug
    public var metadataProvider: Logger.MetadataProvider?

    /// A handler writing into `buffer`.
    public init(buffer: LogBuffer, name: String? = nil) {
        self.buffer = buffer
        self.name = name
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }
        let rendered = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let prefix = name.map { " [\($0)]" } ?? ""
        buffer.append("\(ContinuousClock.now)\(prefix) \(event.level) \(event.message) \(rendered)")
    }
}

/// Collects everything a stream yields, in a task cancelled by ``stop()`` or on release.
public final class Collector<Element: Sendable>: Sendable {
    private final class Items: Sendable {
        let value = Mutex<[Element]>([])
    }

    private let items = Items()
    private let task: Task<Void, Never>

    /// Starts collecting `stream`.
    public init(_ stream: AsyncStream<Element>) {
        let items = items
        task = Task {
            for await item in stream { items.value.withLock { $0.append(item) } }
        }
    }

    /// What arrived so far.
    public var all: [Element] { items.value.withLock { $0 } }

    /// Stops collecting.
    public func stop() {
        task.cancel()
    }

    deinit { task.cancel() }
}
