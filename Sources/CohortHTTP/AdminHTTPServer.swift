#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSupport
import ServiceLifecycle
import Synchronization

/// The admin endpoint's HTTP/1.1 server: what Hummingbird's `Application` runs, less its date cache, a
/// service that wakes the process every second to format the `Date` header whether or not a request
/// comes. Here the header is formatted when a response needs it, at most once per second
/// (``HTTPDateCache``), so an idle node's admin server costs no wakeup.
struct AdminHTTPServer: Service {
    let responder: RouterResponder<BasicRequestContext>
    let configuration: ServerConfiguration
    let onServerRunning: @Sendable (any Channel) async -> Void
    let logger: Logger

    func run() async throws {
        let responder = responder, logger = logger, serverName = configuration.serverName
        let dates = HTTPDateCache()
        let server = try HTTPServerBuilder { respond in
            OnChannelLoop(HTTP1Channel(responder: respond))
        }.buildServer(
            configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger
        ) { request, writer, channel in
            let context = BasicRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error  // the connection closes: no response can follow a request that did not parse
            } catch {
                logger.debug("unhandled error in an admin route", metadata: ["error": "\(error)"])
                response = Response(status: .internalServerError, body: .init())
            }
            response.headers[.date] = dates.current()
            if let serverName { response.headers[.server] = serverName }
            try await writer.write(response: response.head, body: response.body)
        } onServerRunning: { channel in
            await onServerRunning(channel)
        }
        try await server.run()
    }
}

/// A connection's requests handled on the connection's own event loop instead of Swift's global pool:
/// the request arrives, the route runs and the response is written on the loop that reads and writes the
/// socket, so a request costs no thread switch of its own (on the global pool it cost two: the loop handed
/// the request to a pool thread, which handed the response back to the loop). Hummingbird starts each
/// connection's task in a task group without an executor preference; this child channel gives it one.
/// Routes therefore must not block (none do: Raft writes and reads await the Raft service's loop, large
/// encodings are bounded by the routes' limits).
struct OnChannelLoop<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner

    init(_ inner: Inner) { self.inner = inner }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(eventLoop: value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}

/// The HTTP `Date` header's value (RFC 9110 IMF-fixdate), formatted on demand and reused within the
/// second.
final class HTTPDateCache: Sendable {
    private let cached = Mutex<(second: Int64, text: String)?>(nil)
    private let now: @Sendable () -> Double

    /// `now`: seconds since the Unix epoch (the wall clock by default).
    init(now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.now = now
    }

    /// The header for the current second.
    func current() -> String {
        let second = Int64(now().rounded(.down))
        if let hit = cached.withLock({ $0 }), hit.second == second { return hit.text }
        let text = Self.format(epochSeconds: second)
        cached.withLock { $0 = (second, text) }
        return text
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for 784111777. Plain arithmetic on the proleptic Gregorian calendar in
    /// UTC (the civil-from-days conversion of Howard Hinnant's date algorithms) and fixed English names: no
    /// formatter, calendar or time zone object, whose first use loads ICU's locale and zone data (a few MiB
    /// resident in every node, Benchmarks/results/memory.md).
    static func format(epochSeconds: Int64) -> String {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        let secondOfDay = epochSeconds - days * 86_400
        // Days since 0000-03-01, in 400-year eras of 146,097 days; years start in March so that the leap day
        // is the last day of a year.
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (Sunday = 0)

        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var yearText = "\(year)"
        while yearText.count < 4 { yearText = "0" + yearText }
        let time = "\(two(secondOfDay / 3_600)):\(two(secondOfDay % 3_600 / 60)):\(two(secondOfDay % 60))"
        return "\(weekdays[weekday]), \(two(day)) \(months[Int(month) - 1]) \(yearText) \(time) GMT"
    }

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
