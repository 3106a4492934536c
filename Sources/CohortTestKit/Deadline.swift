/// A condition did not hold before its deadline.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    /// What was awaited, as the caller described it.
    public var waitingFor: String
    /// The time allowed.
    public var within: Duration
    /// Where the wait was made.
    public var fileID: String
    /// The line of the wait.
    public var line: Int
    /// How many times the condition was checked.
    public var checks: Int
    /// The longest time from one check's start to the next's (or to giving up): far above `pollEvery`
    /// when the condition itself hung (a request up to its timeout) or the test process got no thread.
    public var longestGap: Duration

    /// Creates the error.
    public init(
        waitingFor: String, within: Duration, fileID: String, line: Int, checks: Int = 0, longestGap: Duration = .zero
    ) {
        self.waitingFor = waitingFor
        self.within = within
        self.fileID = fileID
        self.line = line
        self.checks = checks
        self.longestGap = longestGap
    }

    public var description: String {
        "\(fileID):\(line): gave up waiting for \(waitingFor) after \(within) "
            + "(\(checks) checks, at most \(Int(longestGap / .milliseconds(1))) ms between two)"
    }
}

/// Polls `condition` every `pollEvery` until it returns true, or throws `DeadlineExceeded` once `within` has passed.
///
/// The way tests wait for something to happen: never sleep and hope. The condition is checked at least once, and once
/// more at the deadline. An error thrown by `condition` ends the wait and is rethrown (return false to keep waiting).
///
/// - Parameters:
///   - within: The time allowed, on `ContinuousClock`.
///   - waitingFor: What is awaited, for the error message, e.g. "process 123 to exit".
///   - pollEvery: The pause between checks.
///   - condition: The condition to wait for.
public func waitUntil(
    within: Duration,
    _ waitingFor: String = "a condition",
    pollEvery: Duration = .milliseconds(20),
    fileID: String = #fileID,
    line: Int = #line,
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: within)
    var checks = 0
    var longestGap = Duration.zero
    var lastCheck = clock.now
    while true {
        let checkStarted = clock.now
        longestGap = max(longestGap, checkStarted - lastCheck)
        lastCheck = checkStarted
        checks += 1
        if try await condition() { return }
        let now = clock.now
        if now >= deadline {
            longestGap = max(longestGap, now - lastCheck)
            throw DeadlineExceeded(
                waitingFor: waitingFor, within: within, fileID: fileID, line: line, checks: checks, longestGap: longestGap
            )
        }
        try await clock.sleep(until: min(now.advanced(by: pollEvery), deadline), tolerance: nil)
    }
}

/// A condition that had to hold for a whole observation window stopped holding.
public struct InvariantBroken: Error, CustomStringConvertible {
    /// What had to hold, as the caller described it.
    public var invariant: String
    /// How far into the window it broke.
    public var after: Duration
    /// Where the observation was made.
    public var fileID: String
    /// The line of the observation.
    public var line: Int

    public var description: String {
        "\(fileID):\(line): \(invariant) stopped holding after \(after)"
    }
}

/// Checks `condition` every `pollEvery` for `duration` and throws ``InvariantBroken`` the moment it is
/// false: how a test shows that something does *not* happen (a bootstrap that must not start, groups that
/// must not merge) over a bounded window, rather than sleeping and looking once at the end.
public func holdsThroughout(
    _ duration: Duration,
    _ invariant: String,
    pollEvery: Duration = .milliseconds(250),
    fileID: String = #fileID,
    line: Int = #line,
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let start = clock.now
    let end = start.advanced(by: duration)
    while true {
        guard try await condition() else {
            throw InvariantBroken(invariant: invariant, after: clock.now - start, fileID: fileID, line: line)
        }
        let now = clock.now
        if now >= end { return }
        try await clock.sleep(until: min(now.advanced(by: pollEvery), end), tolerance: nil)
    }
}
