// A Swift server that embeds one Cohort node (the library, as an application would) and drives its
// process groups from commands on stdin, one per line, answering one line each on stdout. Started five
// times by Benchmarks/scripts/pg_vs_otp.py, side by side with OTP 25's pg.
//
//   peers                    → ok <Cohort peers gossip sees alive>
//   sinks <group> <k>        → spawns k processes that count what they receive, joins them to <group>
//   delivered                → ok <messages the sinks received>
//   broadcast <group> <m>    → m broadcasts to <group>, back to back → ok <elapsed ns> <recipients of the last>
//   members <group>          → ok <members of <group> this node sees>
//   groups                   → ok <groups this node sees> (whichGroups(): sorts them all, ~30 ms at 100,000)
//   groupcount               → ok <the same count from the scope's pg_groups gauge> (cheap enough to poll)
//   fill <prefix> <n> <p>    → p processes join <prefix>0 … <prefix>(n-1), one member per group
//   spawn <k>                → k idle processes that join nothing (kept in a pool) → ok <pool size>
//   fillpool <prefix> <n>    → the pool's processes join <prefix>0 … <prefix>(n-1), round robin
//   heap                     → malloc_trim(0), then glibc's malloc_info: ok <bytes in use> <free bytes held> <mmapped>
//   pgstats                  → ok <the node's pg_* and internode_dropped_total metrics that are not zero, `name{labels}=value`, space-separated>
//   joinone <group>          → spawns a process and joins it → ok <unix µs just before the join>
//   watch                    → a scope monitor prints `event <group> <unix µs>` for every join it sees
//   unwatch                  → stops it
//   quit
//
// The node's services and the `watch` monitor run in detached tasks: the command loop blocks the main
// actor in readLine(), so a task that inherited it would only run while a command is being handled.
// When the service group ends (SIGTERM: graceful shutdown), the process exits.
import Cohort
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

let out = Mutex(())
func say(_ line: String) {
    out.withLock { _ in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
}

func unixMicros() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: GroupBenchNode <config.yaml>\n".utf8))
    exit(2)
}
let settings = try ConfigLoader.system().load(path: CommandLine.arguments[1])
var logger = Logger(label: "bench")
logger.logLevel = .warning
let node = CohortNode.prepare(settings: settings, logger: logger)
let scope = try node.groups()
let group = ServiceGroup(services: node.services, gracefulShutdownSignals: [.sigterm], logger: logger)
let running = Task.detached {
    do { try await group.run() } catch { FileHandle.standardError.write(Data("service group: \(error)\n".utf8)) }
    exit(0)
}

let delivered = Atomic<Int>(0)
let watcher = Mutex<Task<Void, Never>?>(nil)
var pool: [PID] = []

/// glibc's heap after malloc_trim(0): (bytes in use, free bytes the allocator still holds, bytes in
/// mmapped chunks), from malloc_info's XML totals (looked up with dlsym: malloc.h is not in Glibc's module).
func heap() -> (inUse: Int, free: Int, mmapped: Int)? {
    typealias Trim = @convention(c) (Int) -> Int32
    typealias Info = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32
    guard let trimSymbol = dlsym(nil, "malloc_trim"), let infoSymbol = dlsym(nil, "malloc_info") else { return nil }
    _ = unsafeBitCast(trimSymbol, to: Trim.self)(0)
    var buffer: UnsafeMutablePointer<CChar>?
    var size = 0
    guard let stream = open_memstream(&buffer, &size) else { return nil }
    _ = unsafeBitCast(infoSymbol, to: Info.self)(0, stream)
    fclose(stream)
    guard let buffer else { return nil }
    defer { free(buffer) }
    // The last lines are the totals over all arenas: <total type="fast|rest|mmap" count=".." size=".."/>,
    // <system type="current" size=".."/>.
    var totals: [String: Int] = [:]
    for line in String(cString: buffer).split(separator: "\n") where line.hasPrefix("<total ") || line.hasPrefix("<system ") {
        let fields = line.split(separator: "\"")
        guard fields.count >= 2, let value = Int(fields[fields.count - 2]) else { continue }
        totals[(line.hasPrefix("<total ") ? "total." : "system.") + fields[1]] = value
    }
    let free = (totals["total.fast"] ?? 0) + (totals["total.rest"] ?? 0)
    let mmapped = totals["total.mmap"] ?? 0
    return ((totals["system.current"] ?? 0) - free + mmapped, free, mmapped)
}

func idle() -> PID {
    node.processes.spawn { context in
        for await _ in context.mailbox {}
        return nil
    }
}

while let line = readLine() {
    let words = line.split(separator: " ").map(String.init)
    guard let command = words.first else { continue }
    do {
        switch command {
        case "peers":
            let members = await node.gossip?.members ?? []
            let peers = members.filter { $0.name != node.id && !$0.isGone }
            say("ok \(peers.count) \(members.map { "\($0.name):\($0.state)" }.joined(separator: ","))")
        case "sinks":
            let name = words[1], count = Int(words[2])!
            let pids = (0..<count).map { _ in
                node.processes.spawn { context in
                    for await event in context.mailbox {
                        if case .message = event { delivered.add(1, ordering: .relaxed) }
                    }
                    return nil
                }
            }
            try scope.join(name, pids)
            say("ok")
        case "delivered":
            say("ok \(delivered.load(ordering: .relaxed))")
        case "broadcast":
            let name = words[1], count = Int(words[2])!
            let payload = [UInt8](repeating: 7, count: 16)
            let clock = ContinuousClock()
            let start = clock.now
            var recipients = 0
            for _ in 0..<count { recipients = scope.broadcast(name, topic: "b", payload: payload) }
            let elapsed = clock.now - start
            say("ok \(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000) \(recipients)")
        case "members":
            say("ok \(scope.members(words[1]).count)")
        case "groups":
            say("ok \(scope.whichGroups().count)")
        case "groupcount":
            let gauge = "pg_groups{scope=\"\(scope.name)\"} "
            guard let line = node.metrics.registry.emitToString().split(separator: "\n").first(where: { $0.hasPrefix(gauge) }),
                let value = Double(line.dropFirst(gauge.count))
            else { say("err no \(gauge)gauge"); continue }
            say("ok \(Int(value))")
        case "fill":
            let prefix = words[1], count = Int(words[2])!, processes = max(1, Int(words[3])!)
            let pids = (0..<processes).map { _ in idle() }
            for index in 0..<count { try scope.join("\(prefix)\(index)", pids[index % processes]) }
            say("ok")
        case "spawn":
            let count = Int(words[1])!
            pool += (0..<count).map { _ in idle() }
            say("ok \(pool.count)")
        case "fillpool":
            let prefix = words[1], count = Int(words[2])!
            guard !pool.isEmpty else { say("err the pool is empty: spawn first"); continue }
            for index in 0..<count { try scope.join("\(prefix)\(index)", pool[index % pool.count]) }
            say("ok")
        case "heap":
            guard let (inUse, free, mmapped) = heap() else { say("err malloc_info unavailable"); continue }
            say("ok \(inUse) \(free) \(mmapped)")
        case "pgstats":
            let lines = node.metrics.registry.emitToString().split(separator: "\n")
                .filter { ($0.hasPrefix("pg_") || $0.hasPrefix("internode_dropped_total")) && !$0.hasSuffix(" 0") && !$0.hasSuffix(" 0.0") }
                .map { $0.replacingOccurrences(of: " ", with: "=") }
            say("ok \(lines.joined(separator: " "))")
        case "joinone":
            let pid = idle()
            let at = unixMicros()
            try scope.join(words[1], pid)
            say("ok \(at)")
        case "watch":
            let monitor = scope.monitorScope()
            let task = Task.detached {
                for await event in monitor {
                    if case .join(let name, _) = event { say("event \(name) \(unixMicros())") }
                }
            }
            watcher.withLock { $0 = task }
            say("ok")
        case "unwatch":
            watcher.withLock { $0?.cancel(); $0 = nil }
            say("ok")
        case "quit":
            say("ok")
            running.cancel()
            exit(0)
        default:
            say("err unknown command \(command)")
        }
    } catch {
        say("err \(error)")
    }
}
running.cancel()
