import Foundation
import Glibc
import Synchronization

/// A service manager's end of the sd_notify protocol, for tests: a real `AF_UNIX` `SOCK_DGRAM` socket that records
/// every line it receives with its arrival time.
///
/// Bind one, give the process under test `NOTIFY_SOCKET=<listener.notifySocket>` (and `WATCHDOG_USEC`), then await
/// `READY=1`, `STATUS=…`, `WATCHDOG=1` or `STOPPING=1` with a deadline. A datagram carrying several newline-separated
/// assignments becomes several lines with the same arrival time. A background thread receives, so arrival times are
/// real even while no test is waiting, and cadence can be asserted from `arrivals(matching:)`.
public final class NotifyListener: Sendable {
    /// Where the socket is bound.
    public enum Address: Sendable, Hashable {
        /// A filesystem path, at most 107 bytes; removed again by `close()`.
        case path(String)
        /// A name in Linux's abstract namespace (no file); `NOTIFY_SOCKET` spells it `@name`.
        case abstract(String)

        /// The value to put in `NOTIFY_SOCKET`.
        public var notifySocketValue: String {
            switch self {
            case .path(let path): return path
            case .abstract(let name): return "@" + name
            }
        }
    }

    /// One received line.
    public struct Message: Sendable, Equatable {
        /// The line, e.g. `READY=1`.
        public var text: String
        /// When its datagram arrived.
        public var receivedAt: ContinuousClock.Instant
    }

    private struct State {
        var messages: [Message] = []
        /// Index of the first message `next(matching:within:)` has not yet passed over.
        var cursor = 0
        var closed = false
    }

    /// The state shared with the receiving thread, which must not keep the listener itself alive.
    private final class Inbox: Sendable {
        let state = Mutex(State())
    }

    /// Where the socket is bound.
    public let address: Address
    private let inbox = Inbox()

    /// The value to put in the child's `NOTIFY_SOCKET`.
    public var notifySocket: String { address.notifySocketValue }

    /// Binds a datagram socket at `address` and starts receiving.
    public init(address: Address) throws {
        // Bind before initialising `address`: a throw here then skips deinit, whose close() would unlink a path
        // that belongs to someone else (EADDRINUSE).
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw NotifyListenerError.socketFailed(errno: errno) }
        do {
            try Self.bind(fd, to: address)
        } catch {
            Glibc.close(fd)
            throw error
        }
        self.address = address
        let thread = Thread { [inbox] in Self.receive(on: fd, into: inbox) }
        thread.name = "NotifyListener \(address.notifySocketValue)"
        thread.start()
    }

    /// Binds a listener at a fresh path in the temporary directory.
    public convenience init() throws {
        let name = "cohort-notify-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
        try self.init(address: .path(NSTemporaryDirectory() + name))
    }

    deinit {
        close()
    }

    /// Every line received so far, in arrival order.
    public var messages: [Message] { inbox.state.withLock { $0.messages } }

    /// The number of lines received so far that satisfy `predicate`.
    public func count(matching predicate: (String) -> Bool) -> Int {
        inbox.state.withLock { $0.messages.count { predicate($0.text) } }
    }

    /// The arrival times of the lines so far that satisfy `predicate`.
    public func arrivals(matching predicate: (String) -> Bool) -> [ContinuousClock.Instant] {
        inbox.state.withLock { $0.messages.filter { predicate($0.text) }.map(\.receivedAt) }
    }

    /// The next line satisfying `predicate`, waiting up to `within` for it to arrive.
    ///
    /// Lines are consumed in order: each call starts after the line the previous call returned, and passes over
    /// the lines that do not match. Throws `NotifyListenerError.timedOut` (listing what did arrive) at the deadline.
    @discardableResult
    public func next(matching predicate: (String) -> Bool, within: Duration) async throws -> String {
        try await nextMessage(matching: predicate, within: within).text
    }

    /// The next line equal to `text`, waiting up to `within`; see `next(matching:within:)`.
    @discardableResult
    public func next(_ text: String, within: Duration) async throws -> Message {
        try await nextMessage(matching: { $0 == text }, within: within)
    }

    /// Like `next(matching:within:)`, with the arrival time.
    public func nextMessage(matching predicate: (String) -> Bool, within: Duration) async throws -> Message {
        var found: Message?
        do {
            try await waitUntil(within: within, pollEvery: .milliseconds(2)) {
                found = take(matching: predicate)
                return found != nil
            }
        } catch is DeadlineExceeded {
            throw NotifyListenerError.timedOut(within: within, received: messages.map(\.text))
        }
        return found!
    }

    private func take(matching predicate: (String) -> Bool) -> Message? {
        inbox.state.withLock { state in
            guard let index = state.messages[state.cursor...].firstIndex(where: { predicate($0.text) }) else {
                return nil
            }
            state.cursor = index + 1
            return state.messages[index]
        }
    }

    /// Stops receiving and removes the socket file; the receiving thread closes the socket within ~10 ms.
    public func close() {
        let wasClosed = inbox.state.withLock { state in
            defer { state.closed = true }
            return state.closed
        }
        guard !wasClosed else { return }
        if case .path(let path) = address { unlink(path) }
    }

    private static func bind(_ fd: Int32, to address: Address) throws {
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let bytes: [UInt8]
        switch address {
        case .path(let path): bytes = Array(path.utf8) + [0]
        case .abstract(let name): bytes = [0] + Array(name.utf8)
        }
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard bytes.count <= capacity else { throw NotifyListenerError.addressTooLong(address.notifySocketValue) }
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
        }
        guard result == 0 else { throw NotifyListenerError.bindFailed(address.notifySocketValue, errno: errno) }
    }

    /// The receiving thread: waits up to 10 ms at a time so it notices `close()`, then closes the socket.
    private static func receive(on fd: Int32, into inbox: Inbox) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while !inbox.state.withLock({ $0.closed }) {
            guard poll(&poller, 1, 10) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard count > 0 else { continue }
            let now = ContinuousClock.now
            let text = String(decoding: buffer[..<count], as: UTF8.self)
            let lines = text.split(separator: "\n").map { Message(text: String($0), receivedAt: now) }
            inbox.state.withLock { $0.messages += lines }
        }
        Glibc.close(fd)
    }
}

/// Why a `NotifyListener` could not be made or did not get what was awaited.
public enum NotifyListenerError: Error, CustomStringConvertible {
    /// `socket(AF_UNIX, SOCK_DGRAM)` failed.
    case socketFailed(errno: Int32)
    /// The address does not fit in `sockaddr_un` (107 bytes for a path).
    case addressTooLong(String)
    /// `bind` failed, e.g. the path exists (EADDRINUSE) or its directory does not.
    case bindFailed(String, errno: Int32)
    /// No matching line arrived in time; `received` is every line that did arrive.
    case timedOut(within: Duration, received: [String])

    public var description: String {
        switch self {
        case .socketFailed(let code): return "socket(AF_UNIX, SOCK_DGRAM) failed: \(String(cString: strerror(code)))"
        case .addressTooLong(let address): return "notify socket address too long for sockaddr_un: \(address)"
        case .bindFailed(let address, let code):
            return "bind(\(address)) failed: \(String(cString: strerror(code))); use a fresh path or abstract name"
        case .timedOut(let within, let received):
            return "no matching notify message within \(within); received: \(received)"
        }
    }
}
