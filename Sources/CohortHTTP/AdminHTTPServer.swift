import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
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
        let server = try HTTPServerBuilder.http1().buildServer(
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

    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for 784111777.
    static func format(epochSeconds: Int64) -> String {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        let secondOfDay = epochSeconds - days * 86_400
        // Civil date from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = weekdays[Int(((days % 7) + 7) % 7)]
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekday), \(two(day)) \(months[Int(month - 1)]) \(year) "
            + "\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) GMT"
    }
}
