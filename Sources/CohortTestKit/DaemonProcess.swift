import Foundation

/// A real `cohortd` (or `cohort`) process started by a test, with its output captured to a file.
///
/// Tests never sleep to wait for it: they wait on a condition with a deadline (`waitUntil`) or on
/// `waitForExit(within:)`. Call `stop()` (or let `deinit` kill it) so nothing outlives the test.
/// Immutable (a `Process` handle and where its output goes), so tasks of one test may share it.
public final class DaemonProcess: Sendable {
    /// The process ID.
    public let pid: Int32
    /// Where stdout and stderr go.
    public let logPath: String
    private let process: Process

    /// The directory holding the test bundle and the package's built executables.
    public static var productsDirectory: URL {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        // On Linux the test runner is `<products>/<Package>PackageTests.xctest`.
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory
    }

    /// Starts `executable` (a product of this package, e.g. `cohortd`) with `arguments`, the current
    /// environment plus `environment`, output captured to a fresh file.
    public convenience init(executable: String, arguments: [String], environment: [String: String] = [:]) throws {
        try self.init(
            path: Self.productsDirectory.appendingPathComponent(executable).path,
            arguments: arguments, environment: environment
        )
    }

    /// Starts the program at `path` (e.g. a Go memberlist peer) the same way.
    public init(path: String, arguments: [String], environment: [String: String] = [:]) throws {
        let executable = URL(fileURLWithPath: path).lastPathComponent
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        // Never inherit a notify socket or journal stream from whoever runs the tests.
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"] { merged[key] = nil }
        // Nor any COHORT_* override from the developer's shell: each test states the environment it means.
        for key in merged.keys where key.hasPrefix("COHORT_") { merged[key] = nil }
        merged.merge(environment) { $1 }
        process.environment = merged
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("cohort-test-\(executable)-\(UUID().uuidString).log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? handle.close()
        self.process = process
        pid = process.processIdentifier
        logPath = log
    }

    /// Everything the process wrote to stdout and stderr so far.
    public var output: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// True until the process has exited.
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` (e.g. `SIGTERM`).
    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits for the process to exit and returns its exit status; throws when `within` passes first.
    @discardableResult
    public func waitForExit(within: Duration) async throws -> Int32 {
        try await waitUntil(within: within, "process \(pid) to exit") { !self.process.isRunning }
        return process.terminationStatus
    }

    /// Kills the process (SIGKILL) if it still runs and waits for it.
    public func stop() async {
        if process.isRunning { kill(pid, SIGKILL) }
        _ = try? await waitForExit(within: .seconds(10))
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// Runs `executable` to completion and returns its exit status and output.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], within: Duration = .seconds(30)
    ) async throws -> (status: Int32, output: String) {
        let process = try DaemonProcess(executable: executable, arguments: arguments, environment: environment)
        let status = try await process.waitForExit(within: within)
        return (status, process.output)
    }

    /// Runs the program at `path` (e.g. `/bin/bash` with a script) to completion; its exit status and output.
    public static func run(
        path: String, _ arguments: [String], environment: [String: String] = [:], within: Duration = .seconds(120)
    ) async throws -> (status: Int32, output: String) {
        let process = try DaemonProcess(path: path, arguments: arguments, environment: environment)
        let status = try await process.waitForExit(within: within)
        return (status, process.output)
    }
}
