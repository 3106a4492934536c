import CohortTestKit
import Foundation
import Testing

/// Wire compatibility with HashiCorp memberlist 0.2.2: real `cohortd` processes and real Go memberlist
/// nodes (`Tools/memberlist-peer`, Debian's memberlist package) form one membership on loopback.
@Suite(.serialized, .enabled(if: MemberlistPeer.isAvailable, "needs Go and golang-github-hashicorp-memberlist-dev"))
struct MemberlistInteropTests {
    /// The same timers on both sides: fast enough that deaths are detected in seconds, slow enough that a
    /// machine busy with the rest of the test suite does not cause false suspicions.
    static let timers = (probe: "400ms", timeout: "200ms", gossip: "100ms", suspicion: 3)

    @Test(arguments: [InteropVariant.plain, .encrypted, .uncompressedGo])
    func mixedClusterConvergesAndDetectsDeathsOnBothSides(_ variant: InteropVariant) async throws {
        // Six addresses no other test in this process uses.
        let addresses = Dictionary(uniqueKeysWithValues: [1, 2, 3, 11, 12, 13].map { ($0, uniqueLoopbackAddress()) })
        let key = variant == .encrypted ? Data((0..<32).map { UInt8($0 &* 7 &+ 3) }).base64EncodedString() : nil
        let compress = variant != .uncompressedGo
        func ip(_ n: Int) -> String { addresses[n]! }

        // Cohort seed c1; Go g1 joins it; Cohort c2 joins Go g1; g2 joins c1; c3 joins g2; g3 joins c2.
        let c1 = try CohortMember(ip: ip(1), name: "c1", join: [], key: key)
        try await c1.waitUntilServing()
        let g1 = try MemberlistPeer(ip: ip(11), name: "g1", join: [ip(1)], key: key, compress: compress)
        let c2 = try CohortMember(ip: ip(2), name: "c2", join: [ip(11)], key: key)
        let g2 = try MemberlistPeer(ip: ip(12), name: "g2", join: [ip(1)], key: key, compress: compress)
        let c3 = try CohortMember(ip: ip(3), name: "c3", join: [ip(12)], key: key)
        let g3 = try MemberlistPeer(ip: ip(13), name: "g3", join: [ip(2)], key: key, compress: compress)
        let cohorts = [c1, c2, c3]
        let gos = [g1, g2, g3]
        defer {
            for member in cohorts { member.process.signal(SIGKILL); member.removeFiles() }
            for peer in gos { peer.process.signal(SIGKILL) }
        }
        let everyone = Set(["c1", "c2", "c3", "g1", "g2", "g3"])

        do {
            try await waitUntil(within: .seconds(45), "all six alive in every view") {
                for member in cohorts where try await member.alive() != everyone { return false }
                for peer in gos where try await peer.alive() != everyone { return false }
                return true
            }
        } catch {
            for member in cohorts { print("view of cohort \(member.ip): \(try await member.alive())\n\(member.process.output.suffix(3000))") }
            for peer in gos { print("view of go \(peer.ip): \(try await peer.alive())\n\(peer.process.output.suffix(3000))") }
            throw error
        }

        // A killed Go node is declared dead by the Cohort nodes (and by Go).
        g3.process.signal(SIGKILL)
        try await waitUntil(within: .seconds(30), "g3 dead in every view") {
            for member in cohorts where try await member.state(of: "g3") != "dead" { return false }
            for peer in [g1, g2] where try await peer.state(of: "g3") != "dead" { return false }
            return true
        }
        // A killed Cohort node is declared dead by the Go nodes (and by Cohort).
        c3.process.signal(SIGKILL)
        try await waitUntil(within: .seconds(30), "c3 dead in every view") {
            for peer in [g1, g2] where try await peer.state(of: "c3") != "dead" { return false }
            for member in [c1, c2] where try await member.state(of: "c3") != "dead" { return false }
            return true
        }
        // The survivors still agree on who is alive.
        let survivors = Set(["c1", "c2", "g1", "g2"])
        for member in [c1, c2] { #expect(try await member.alive() == survivors) }
        for peer in [g1, g2] { #expect(try await peer.alive() == survivors) }
    }

    @Test func aNodeWithADifferentKeyNeverMerges() async throws {
        let (a1, a2, a11) = (uniqueLoopbackAddress(), uniqueLoopbackAddress(), uniqueLoopbackAddress())
        let keyA = Data(repeating: 1, count: 32).base64EncodedString()
        let keyB = Data(repeating: 2, count: 32).base64EncodedString()
        let seed = try CohortMember(ip: a1, name: "c1", join: [], key: keyA)
        let friend = try MemberlistPeer(ip: a11, name: "g1", join: [a1], key: keyA, compress: true)
        let stranger = try CohortMember(ip: a2, name: "c2", join: [a1], key: keyB)
        defer {
            for p in [seed.process, friend.process, stranger.process] { p.signal(SIGKILL) }
            for member in [seed, stranger] { member.removeFiles() }
        }
        try await waitUntil(within: .seconds(30), "the friend to join") { try await seed.alive() == ["c1", "g1"] }
        try await stranger.waitUntilServing()
        // Give the stranger several join attempts (its backoff starts at 500 ms), then check nobody merged.
        let deadline = ContinuousClock.now + .seconds(3)
        try await waitUntil(within: .seconds(5)) { ContinuousClock.now >= deadline }
        #expect(try await seed.alive() == ["c1", "g1"])
        #expect(try await friend.alive() == ["c1", "g1"])
        #expect(try await stranger.alive() == ["c2"])
    }
}

enum InteropVariant: String, CustomTestStringConvertible, Sendable {
    case plain, encrypted, uncompressedGo
    var testDescription: String { rawValue }
}

/// A real `cohortd` with gossip on `ip:7946` and its admin API on `ip:7960`.
struct CohortMember {
    let process: DaemonProcess
    /// The data directory; its configuration file is beside it, with `.yaml` appended.
    let data: String
    let ip: String

    init(ip: String, name: String, join: [String], key: String?) throws {
        self.ip = ip
        let t = MemberlistInteropTests.timers
        data = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-interop-\(UUID().uuidString)").path
        var yaml = """
            cluster:
              enabled: true
              name: \(name)
              membership:
                bind_addr: \(ip)
                join_addrs: "\(join.map { "\($0):7946" }.joined(separator: ","))"
                probe_interval: \(t.probe)
                probe_timeout: \(t.timeout)
                gossip_interval: \(t.gossip)
                suspicion_mult: \(t.suspicion)
                push_pull_interval: 5s
            """
        if let key { yaml += "\n    secret_key: \(key)" }
        yaml += "\n  internode:\n    bind_addr: \(ip)"
        yaml += "\n  raft:\n    data_dir: \(data)\nadmin:\n  address: \(ip):7960\n"
        let path = data + ".yaml"
        try yaml.write(toFile: path, atomically: false, encoding: .utf8)
        process = try DaemonProcess(executable: "cohortd", arguments: ["--config", path])
    }

    /// Removes the data directory and the configuration file (after the process is gone).
    func removeFiles() {
        removeTemporary(data)
        removeTemporary(data + ".yaml")
    }

    func waitUntilServing() async throws {
        try await waitUntil(within: .seconds(30), "cohortd on \(ip) to serve") {
            guard process.isRunning else { throw NodeExited(output: process.output) }
            return (try? await httpGet("http://\(ip):7960/livez")) != nil
        }
    }

    func members() async throws -> [[String: Any]] {
        guard let reply = try? await httpGet("http://\(ip):7960/v1/members"), reply.status == 200 else { return [] }
        return (try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]]) ?? []
    }

    func alive() async throws -> Set<String> {
        Set(try await members().filter { $0["state"] as? String == "alive" }.compactMap { $0["name"] as? String })
    }

    func state(of name: String) async throws -> String? {
        try await members().first { $0["name"] as? String == name }?["state"] as? String
    }
}

/// A Go memberlist 0.2.2 node (`Tools/memberlist-peer`) with its status API on `ip:7999`.
struct MemberlistPeer {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binary = repository.appendingPathComponent(".build-go/memberlist-peer").path

    /// True when the peer is built, or can be built (Go and memberlist's source are installed).
    static let isAvailable: Bool = {
        if FileManager.default.isExecutableFile(atPath: binary) { return true }
        guard FileManager.default.fileExists(atPath: "/usr/share/gocode/src/github.com/hashicorp/memberlist"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/go") else { return false }
        let build = Process()
        build.executableURL = repository.appendingPathComponent("Tools/memberlist-peer/build.sh")
        build.standardOutput = FileHandle.nullDevice
        guard (try? build.run()) != nil else { return false }
        build.waitUntilExit()
        return build.terminationStatus == 0
    }()

    let process: DaemonProcess
    let ip: String

    init(ip: String, name: String, join: [String], key: String?, compress: Bool) throws {
        self.ip = ip
        let t = MemberlistInteropTests.timers
        var arguments = [
            "-name", name, "-bind", ip, "-port", "7946", "-http", "\(ip):7999", "-config", "lan",
            "-join", join.map { "\($0):7946" }.joined(separator: ","), "-compress=\(compress)",
            "-probe-interval", t.probe, "-probe-timeout", t.timeout, "-gossip-interval", t.gossip,
            "-suspicion-mult", "\(t.suspicion)", "-pushpull-interval", "5s", "-join-timeout", "30s",
        ]
        if let key { arguments += ["-key", key] }
        process = try DaemonProcess(path: Self.binary, arguments: arguments)
    }

    func members() async throws -> [[String: Any]] {
        guard let reply = try? await httpGet("http://\(ip):7999/members"), reply.status == 200 else { return [] }
        return (try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]]) ?? []
    }

    func alive() async throws -> Set<String> {
        Set(try await members().filter { $0["state"] as? String == "alive" }.compactMap { $0["name"] as? String })
    }

    func state(of name: String) async throws -> String? {
        try await members().first { $0["name"] as? String == name }?["state"] as? String
    }
}
