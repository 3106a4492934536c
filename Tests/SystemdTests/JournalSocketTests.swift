import CohortTestKit
import Foundation
import Glibc
import Logging
@testable import Systemd
import Testing

/// The journal's native protocol, against a real datagram socket standing in for journald's.
@Suite("Journal socket (native protocol)")
struct JournalSocketTests {
    /// A bound datagram socket at a fresh path, read with a deadline.
    final class FakeJournal {
        let path: String
        let fd: Int32

        init() throws {
            path = NSTemporaryDirectory() + "cohort-journal-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            let address = try #require(UnixDatagram.Address(path))
            var storage = address.storage
            let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, address.length) } }
            try #require(bound == 0, "bind \(path): errno \(errno)")
        }

        /// The next datagram, waiting up to five seconds.
        func next() throws -> [UInt8] {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            try #require(poll(&poller, 1, 5000) == 1, "no datagram within 5 s")
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            try #require(count >= 0)
            return Array(buffer[..<count])
        }

        deinit {
            close(fd)
            unlink(path)
        }
    }

    @Test("an entry is one datagram: NAME=value lines, and a value with line breaks as name, 64-bit LE length, bytes")
    func nativeEncoding() throws {
        let journal = try FakeJournal()
        let socket = JournalSocket(path: journal.path)
        let fields = [JournalField("MESSAGE", "two\nlines"), JournalField("PRIORITY", "6"), JournalField("RAFT_TERM", "")]
        #expect(socket.send(fields) == 0)
        let expected = Array("MESSAGE\n".utf8) + [9, 0, 0, 0, 0, 0, 0, 0] + Array("two\nlines\nPRIORITY=6\nRAFT_TERM=\n".utf8)
        #expect(try journal.next() == expected)
        // The socket is kept: a second entry goes the same way.
        #expect(socket.send([JournalField("MESSAGE", "again")]) == 0)
        #expect(try journal.next() == Array("MESSAGE=again\n".utf8))
    }

    @Test("a handler's event reaches the journal with its fields")
    func handlerFields() throws {
        let journal = try FakeJournal()
        var handler = JournaldLogHandler(label: "cohort.raft", socket: JournalSocket(path: journal.path))
        handler[metadataKey: "raft.term"] = "4"
        handler.log(event: LogEvent(level: .warning, message: "disk slow", metadata: nil, source: "Raft", file: "F.swift", function: "f()", line: 7))
        let text = String(decoding: try journal.next(), as: UTF8.self)
        for line in ["MESSAGE=disk slow", "PRIORITY=4", "SYSLOG_IDENTIFIER=cohortd", "COHORT_LOGGER=cohort.raft", "CODE_LINE=7", "RAFT_TERM=4"] {
            #expect(text.split(separator: "\n").contains(Substring(line)), "\(line) in \(text.debugDescription)")
        }
    }

    @Test("no journal listening: the send fails with ENOENT (the handler then writes to stderr)")
    func noJournal() {
        let socket = JournalSocket(path: "/tmp/cohort-no-journal-\(getpid()).sock")
        #expect(socket.send([JournalField("MESSAGE", "lost")]) == ENOENT)
    }

    @Test("socket addresses: absolute paths and @abstract names; anything else, or too long, is refused")
    func addresses() throws {
        let path = try #require(UnixDatagram.Address("/run/x"))
        #expect(Int(path.length) == MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + 7)
        let abstract = try #require(UnixDatagram.Address("@name"))
        #expect(Int(abstract.length) == MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + 5)
        #expect(withUnsafeBytes(of: abstract.storage.sun_path) { Array($0.prefix(5)) } == [0] + Array("name".utf8))
        for bad in ["", "@", "relative/path", "/" + String(repeating: "x", count: 200)] {
            #expect(UnixDatagram.Address(bad) == nil, "\(bad.prefix(20))")
            #expect(UnixDatagram.sendOnce([1], to: bad) == EINVAL)
            #expect(JournalSocket(path: bad).send([JournalField("MESSAGE", "x")]) == EINVAL)
        }
    }
}
