@testable import CohortHTTP
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
}
