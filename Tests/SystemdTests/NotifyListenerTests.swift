import CohortTestKit
import Foundation
import Glibc
import Testing

/// Sends one datagram to `address` the way a service manager client does, without libsystemd or the environment.
private func send(_ text: String, to address: NotifyListener.Address) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    try #require(fd >= 0)
    defer { close(fd) }
    var storage = sockaddr_un()
    storage.sun_family = sa_family_t(AF_UNIX)
    let bytes: [UInt8]
    switch address {
    case .path(let path): bytes = Array(path.utf8) + [0]
    case .abstract(let name): bytes = [0] + Array(name.utf8)
    }
    withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
    let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
    let sent = Array(text.utf8).withUnsafeBytes { payload in
        withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, payload.baseAddress, payload.count, 0, $0, length) }
        }
    }
    try #require(sent == text.utf8.count)
}

@Suite struct NotifyListenerTests {
    @Test func receivesEachLineOfADatagramOnAPathSocket() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        guard case .path(let path) = listener.address else { Issue.record("expected a path"); return }
        #expect(listener.notifySocket == path)
        #expect(FileManager.default.fileExists(atPath: path))

        try send("READY=1\nSTATUS=ready", to: listener.address)
        let ready = try await listener.next("READY=1", within: .seconds(5))
        let status = try await listener.nextMessage(matching: { $0.hasPrefix("STATUS=") }, within: .seconds(5))
        #expect(status.text == "STATUS=ready")
        #expect(status.receivedAt == ready.receivedAt)
    }

    @Test func receivesOnAnAbstractSocket() async throws {
        let name = "cohort-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        let listener = try NotifyListener(address: .abstract(name))
        defer { listener.close() }
        #expect(listener.notifySocket == "@" + name)
        try send("WATCHDOG=1", to: listener.address)
        #expect(try await listener.next(matching: { $0.hasPrefix("WATCHDOG") }, within: .seconds(5)) == "WATCHDOG=1")
    }

    @Test func nextConsumesInOrderAndPassesOverOtherLines() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        try send("STATUS=one", to: listener.address)
        try send("WATCHDOG=1", to: listener.address)
        try send("STATUS=two", to: listener.address)
        try await waitUntil(within: .seconds(5)) { listener.messages.count == 3 }
        #expect(try await listener.next(matching: { $0.hasPrefix("STATUS=") }, within: .seconds(1)) == "STATUS=one")
        #expect(try await listener.next(matching: { $0.hasPrefix("STATUS=") }, within: .seconds(1)) == "STATUS=two")
        // WATCHDOG=1 was passed over by the second call.
        await #expect(throws: NotifyListenerError.self) {
            try await listener.next("WATCHDOG=1", within: .milliseconds(50))
        }
        #expect(listener.count { $0 == "WATCHDOG=1" } == 1)
        #expect(listener.arrivals { $0.hasPrefix("STATUS=") }.count == 2)
    }

    @Test func timingOutListsWhatArrived() async throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        try send("STATUS=starting", to: listener.address)
        try await waitUntil(within: .seconds(5)) { listener.messages.count == 1 }
        do {
            try await listener.next("READY=1", within: .milliseconds(50))
            Issue.record("READY=1 was never sent")
        } catch let error as NotifyListenerError {
            guard case .timedOut(_, let received) = error else { throw error }
            #expect(received == ["STATUS=starting"])
        }
    }

    @Test func closeRemovesTheSocketFile() throws {
        let listener = try NotifyListener()
        guard case .path(let path) = listener.address else { Issue.record("expected a path"); return }
        listener.close()
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func bindingATakenPathFailsAndLeavesTheOwnersSocketAlone() throws {
        let listener = try NotifyListener()
        defer { listener.close() }
        guard case .path(let path) = listener.address else { Issue.record("expected a path"); return }
        #expect(throws: NotifyListenerError.self) { try NotifyListener(address: listener.address) }
        #expect(FileManager.default.fileExists(atPath: path))
    }
}

@Suite struct DeadlineTests {
    @Test func returnsOnceTheConditionHolds() async throws {
        var polls = 0
        // Generous: this checks that the wait ends when the condition holds, not how fast a machine busy
        // with the rest of the suite gets round to three polls.
        try await waitUntil(within: .seconds(60), pollEvery: .milliseconds(1)) {
            polls += 1
            return polls == 3
        }
        #expect(polls == 3)
    }

    @Test func throwsWhenTheDeadlinePasses() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: DeadlineExceeded.self) {
            try await waitUntil(within: .milliseconds(60), "never") { false }
        }
        #expect(start.duration(to: clock.now) >= .milliseconds(60))
    }

    @Test func theErrorSaysHowOftenItCheckedAndItsLongestGap() async throws {
        let clock = ContinuousClock()
        var checks = 0
        do {
            try await waitUntil(within: .milliseconds(300), "never", pollEvery: .milliseconds(5)) {
                checks += 1
                if checks == 2 {
                    // One slow check: it returns no sooner than 100 ms after it started.
                    let started = clock.now
                    try await waitUntil(within: .seconds(30), pollEvery: .milliseconds(1)) { clock.now - started >= .milliseconds(100) }
                }
                return false
            }
            Issue.record("the wait did not give up")
        } catch let error as DeadlineExceeded {
            #expect(error.checks == checks && checks >= 2)
            #expect(error.longestGap >= .milliseconds(100))
            #expect(error.description.contains("(\(checks) checks, at most"))
        }
    }

    @Test func rethrowsTheConditionsError() async throws {
        struct Exited: Error {}
        await #expect(throws: Exited.self) {
            try await waitUntil(within: .seconds(5)) { throw Exited() }
        }
    }
}
