import ArgumentParser
import Cohort
import CohortConfig
import CohortCore
import CohortHTTP
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import Observability
import ServiceLifecycle
import Systemd

/// The process's entry point: runs ``CohortDaemon`` on Swift's global executor while the main thread sleeps.
///
/// An `async` main (what `@main` on an `AsyncParsableCommand` makes) ends in `dispatch_main()`, which parks the
/// main thread by calling `pthread_exit`; that unwinds the main thread's stack with libgcc's forced unwind, whose
/// search of the executable's unwind tables (`.eh_frame_hdr`, `.eh_frame`: 4.8 MB) left about 1 MiB of them
/// resident in every daemon (Benchmarks/results/memory.md). Nothing in `cohortd` runs on the main actor or the
/// main dispatch queue, so the main thread only has to wait: the command exits the process when it ends
/// (`ArgumentParser` exits on an error; success exits 0 here).
@main
enum CohortdMain {
    static func main() {
        // Detached: a task made here would inherit the main actor, whose queue nothing drains any more.
        Task.detached {
            await CohortDaemon.main(nil)
            exit(0)
        }
        while true { pause() }
    }
}

/// `cohortd`: runs one Cohort node (`run`, the default subcommand, so `cohortd`, `cohortd --config X` and
/// `cohortd --check` run it), and the offline tools for its data directory: `restore` and `recover`.
struct CohortDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohortd",
        abstract: "Run a Cohort node, or restore or recover its data directory offline.",
        discussion: """
            With no subcommand, runs the node (see `cohortd run --help`). Exit codes: 0 clean shutdown, 1 runtime
            failure, 2 bad configuration or a refusal (the data directory is in use, a bad snapshot file).
            """,
        version: CohortVersion.current,
        subcommands: [Run.self, Restore.self, Recover.self],
        defaultSubcommand: Run.self
    )
}

/// `cohortd run` (the default): runs one Cohort node.
struct Run: AsyncParsableCommand {
    // Named here rather than derived from the type: deriving demangles the type's name at every start.
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Cohort node (the default subcommand).",
        discussion: """
            With no --config, runs a single node on built-in defaults. Every configuration key can also be set
            from the environment (COHORT_CLUSTER_NAME, COHORT_ADMIN_ADDRESS, ...; see docs/configuration.md).
            A server holds an exclusive lock on <data_dir>/_sys/raft/LOCK while it runs: a second cohortd (or
            `cohortd recover`/`restore`) on the same data directory is refused.
            Exit codes: 0 clean shutdown, 1 runtime failure, 2 bad configuration or the data directory in use.
            """
    )

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String?

    @Flag(name: .long, help: "Validate the configuration, print the effective settings and exit (0 valid, 2 invalid).")
    var check = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let settings: CohortSettings
        do {
            let loader = ConfigLoader.system()
            settings = try config.map { try loader.load(path: $0) } ?? loader.defaults()
        } catch {
            StandardError.write("cohortd: configuration error: \(error)")
            throw ExitCode(2)
        }
        if check {
            print(settings.renderYAML(), terminator: "")
            for warning in settings.warnings {
                StandardError.write("cohortd: warning: \(warning)")
            }
            return
        }

        // Before anything touches the data directory (the incarnation file included): a second daemon on
        // it would write the same Raft log.
        try lockDataDirectory(settings)

        LogBootstrap.bootstrap(settings.log, environment: environment)
        let logger = Logger(label: "cohortd")
        let node: CohortNode
        do {
            node = try CohortNode.prepare(settings: settings, logger: logger, environment: environment)
        } catch {
            // A corrupt kv.crdt store file: starting would overwrite it.
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            StandardError.write("cohortd: \(error)")
            throw ExitCode(1)
        }
        MetricsSystem.bootstrap(node.metrics.factory)

        // ServiceGroup stops services in reverse order. The watchdog comes first so it is stopped last and
        // keeps feeding systemd while the node shuts down; readiness comes last so it is told first and
        // sends STOPPING=1 as soon as shutdown begins.
        let notifier = SystemdNotifier.fromEnvironment()
        var services: [any Service] = []
        if let notifier, notifier.watchdogInterval != nil {
            services.append(WatchdogService(notifier: notifier, health: node.health, logger: logger))
        }
        services += node.services
        if let address = settings.admin.address {
            services.append(AdminServer.make(node: node, host: address.host, port: address.port, logger: logger))
        }
        if let notifier {
            services.append(ReadinessService(notifier: notifier, health: node.health, logger: logger) { node.statusLine() })
        }

        var configuration = ServiceGroupConfiguration(
            // Named by type: the default name is the service interpolated into a string, which for a struct without
            // a description walks its stored properties through a Mirror at start-up (a few per cent of the
            // samples in a profile of cohortd's start) and makes a long name for the logs.
            services: services.map { .init(service: $0, serviceName: "\(type(of: $0))") },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // SPEC 12: a SIGTERM ends the process within 10 s, whatever a service does.
        configuration.maximumGracefulShutdownDuration = .seconds(8)
        configuration.maximumCancellationDuration = .seconds(1)
        logger.info(
            "starting node",
            metadata: [
                "version": "\(CohortVersion.current)", "incarnation": "\(node.incarnation)",
                "cluster": "\(settings.cluster.enabled ? "enabled" : "disabled")",
                "admin": "\(settings.admin.address.map { "\($0.host):\($0.port)" } ?? "off")",
            ]
        )
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            logger.critical("node stopped on error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        logger.info("node stopped")
    }

    /// Takes the Raft directory's lock on a server that keeps Raft state on disk (`<data_dir>/_sys/raft`),
    /// held until the process exits (the lock is never released by dropping it); exits 2 when another
    /// process holds it.
    private func lockDataDirectory(_ settings: CohortSettings) throws {
        guard settings.cluster.enabled, settings.cluster.raft.role == .server,
              let dataDirectory = settings.cluster.raft.resolvedDataDirectory else { return }
        do {
            _ = try OfflineRaft.lock(dataDirectory)
        } catch {
            StandardError.write("cohortd: \(error)")
            throw ExitCode(2)
        }
    }
}
