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

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for 784111777: the Gregorian calendar in UTC (FoundationEssentials'
    /// Swift implementation) and fixed English names, so that no locale data nor ICU formatter is touched.
    static func format(epochSeconds: Int64) -> String {
        let parts = gregorianGMT.dateComponents(
            [.year, .month, .day, .hour, .minute, .second, .weekday],
            from: Date(timeIntervalSince1970: TimeInterval(epochSeconds))
        )
        func two(_ value: Int?) -> String {
            let value = value ?? 0
            return value < 10 ? "0\(value)" : "\(value)"
        }
        let weekday = weekdays[((parts.weekday ?? 1) - 1) % 7]
        let month = months[((parts.month ?? 1) - 1) % 12]
        var year = "\(parts.year ?? 0)"
        while year.count < 4 { year = "0" + year }
        let time = "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second))"
        return "\(weekday), \(two(parts.day)) \(month) \(year) \(time) GMT"
    }

    private static let gregorianGMT: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar
    }()
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
