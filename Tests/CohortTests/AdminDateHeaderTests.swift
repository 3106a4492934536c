@testable import CohortHTTP
import Foundation
import Synchronization
import Testing

/// The admin server's `Date` header, without Hummingbird's once-a-second date-cache task.
@Suite("Admin Date header")
struct AdminDateHeaderTests {
    @Test("the admin server's Date header: formatted when a response needs it, once per second")
    func httpDate() {
        #expect(HTTPDateCache.format(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDateCache.format(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDateCache.format(epochSeconds: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDateCache.format(epochSeconds: 1_798_761_599) == "Thu, 31 Dec 2026 23:59:59 GMT")
        let clock = Mutex<Double>(784_111_777.2)
        let cache = HTTPDateCache(now: { clock.withLock { $0 } })
        #expect(cache.current() == "Sun, 06 Nov 1994 08:49:37 GMT")
        clock.withLock { $0 = 784_111_777.9 }
        #expect(cache.current() == "Sun, 06 Nov 1994 08:49:37 GMT")
        clock.withLock { $0 = 784_111_778.0 }
        #expect(cache.current() == "Sun, 06 Nov 1994 08:49:38 GMT")
    }

    @Test("the Date header agrees with Foundation's formatter from 1900 to 2200, leap days and year ends included")
    func httpDateAgreesWithFoundation() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        // Every 1,000,003 s (about 11.6 days, drifting through the hours of the day), plus the seconds around
        // the leap days and year ends of the century years, which the arithmetic treats specially.
        var seconds = Array(stride(from: Int64(-2_208_988_800), through: 7_258_118_400, by: 1_000_003))
        for year in [1900, 2000, 2100, 2024, 2200] {
            for (month, day) in [(2, 28), (2, 29), (3, 1), (12, 31)] {
                var parts = DateComponents()
                (parts.year, parts.month, parts.day) = (year, month, day)
                (parts.hour, parts.minute, parts.second) = (23, 59, 59)
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(identifier: "GMT")!
                guard let date = calendar.date(from: parts), calendar.component(.day, from: date) == day else {
                    continue  // no 29 February that year
                }
                let second = Int64(date.timeIntervalSince1970)
                seconds += [second - 86_399, second, second + 1]
            }
        }
        for second in seconds {
            let expected = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(second)))
            #expect(HTTPDateCache.format(epochSeconds: second) == expected, "at \(second)")
        }
    }
}
