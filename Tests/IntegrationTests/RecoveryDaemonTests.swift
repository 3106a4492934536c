import CohortTestKit
import Foundation
import Testing

/// Day-2 tools against real `cohortd` processes: `cohort snapshot save` and `cohortd restore` (backups),
/// `cohortd recover` (a quorum lost for good), and the data directory's lock.
@Suite("Backups, lost-quorum recovery and the data directory lock (real daemons)", .serialized)
struct RecoveryDaemonTests {
    static let stores = "stores: [{name: config, kind: kv.raft}]"

    @Test("cohortd recover: two of three voters die with their data; recover on the survivor (refused while it runs) brings back a group it leads with every acknowledged write, two fresh servers join as voters, new writes commit and fencing tokens continue above the old ones")
    func recoverLostQuorum() async throws {
        let nodes = try await startRaftCluster(3, prefix: "lq", extraYAML: { _ in Self.stores })
        let survivor = nodes[0]
        try await withNodes(nodes) { nodes in
            let names = nodes.map(\.name).sorted()
            let formed = try await waitForAgreement(nodes, "3 founders to agree") { $0.voters == names }

            // Acknowledged writes: keys in two stores, a lock (with a lock delay, so its record and token
            // outlive the release of its holder's session), a name.
            let written = try await AcknowledgedWrites.make(on: survivor)
            // The runbook's precondition: recover the survivor holding the most entries. A write needs only a
            // majority, so wait until this one holds everything the leader committed.
            let leader = try #require(nodes.first { $0.name == formed.leader })
            let committed = try #require(await leader.raft()).commitIndex
            try await waitUntil(within: .seconds(30), "\(survivor.name) to hold every committed entry") {
                (await survivor.raft()?.appliedIndex ?? 0) >= committed
            }

            // Two voters die for good: killed, their data directories deleted.
            for lost in nodes[1...] {
                lost.process.signal(SIGKILL)
                _ = try await lost.process.waitForExit(within: .seconds(10))
                try FileManager.default.removeItem(atPath: lost.dataDirectory)
            }

            // Refused while the survivor runs: it holds its data directory's lock.
            let refused = try await DaemonProcess.run("cohortd", ["recover", "--config", survivor.configPath, "--voters", survivor.name])
            #expect(refused.status == 2, "\(refused.output)")
            #expect(refused.output.contains("data directory is in use"), "\(refused.output)")
            #expect(refused.output.contains("pid \(survivor.process.pid)"), "\(refused.output)")

            await survivor.process.stop()
            let recovered = try await DaemonProcess.run(
                "cohortd", ["recover", "--config", survivor.configPath, "--voters", survivor.name, "--json"]
            )
            #expect(recovered.status == 0, "\(recovered.output)")
            let report = try #require(try json(recovered.output) as? [String: Any], "\(recovered.output)")
            #expect(report["voters"] as? [String] == [survivor.name])
            #expect(report["previous_voters"] as? [String] == names)
            #expect(report["locks"] as? Int == 1)
            #expect(report["names"] as? Int == 1)

            try survivor.restart()
            try await survivor.waitUntilServing()
            try await waitUntil(within: .seconds(30), "\(survivor.name) to lead the recovered group alone") {
                guard let state = await survivor.raft() else { return false }
                return state.state == "leader" && state.voters == [survivor.name]
            }
            try await written.expectPresent(on: survivor)

            // Fresh servers (the lost ones' names, empty data directories, bootstrap_expect 3) join the
            // recovered group as voters rather than founding one of their own.
            var fresh: [ClusterNodeUnderTest] = []
            for name in names.dropFirst() {
                fresh.append(try ClusterNodeUnderTest(
                    name: name, join: [survivor], raft: ["bootstrap_expect: 3"], extraYAML: Self.stores
                ))
            }
            try await withNodes(fresh) { fresh in
                for node in fresh { try await node.waitUntilServing() }
                try await waitForAgreement([survivor] + fresh, "the fresh servers to join as voters") {
                    $0.voters == names && $0.leader == survivor.name
                }
                let after = try await fresh[0].put("after-recovery", "yes")
                #expect(after.status == 200, "\(after.body)")
                #expect(await fresh[1].value("after-recovery") == "yes")
                try await written.expectFencingContinues(on: fresh[0], above: UInt64(try #require(report["index"] as? Int)))
            }
        }
    }

    @Test("cohort snapshot save and cohortd restore round-trip every store, lock (with its fencing token) and name into a fresh cluster under a new group id; a damaged file and a non-empty data directory are refused")
    func snapshotRoundTrip() async throws {
        let source = try await startSingleNodeGroup("bk1")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-backup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let file = scratch + "/backup.snap"
        var written: AcknowledgedWrites?
        var oldGroup: String?
        var saved: [String: Any] = [:]
        try await withNodes([source]) { _ in
            written = try await AcknowledgedWrites.make(on: source)
            try await waitUntil(within: .seconds(30), "the group id to be written") {
                oldGroup = groupID(in: source.process.output)
                return oldGroup != nil
            }
            let badTimeout = try await httpGet(source.base + "/v1/snapshot?timeout=forever")
            #expect(badTimeout.status == 400 && badTimeout.body.contains("\"code\":\"BAD_REQUEST\""), "\(badTimeout.body)")
            let save = try await cohort(source, ["snapshot", "save", file, "--json"])
            #expect(save.status == 0, "\(save.output)")
            saved = try #require(try json(save.output) as? [String: Any], "\(save.output)")
            #expect(saved["locks"] as? Int == 1)
            #expect(saved["names"] as? Int == 1)
            #expect((saved["keys"] as? Int ?? 0) >= (written?.keys.count ?? .max))
            let text = try await cohort(source, ["snapshot", "save", file])
            #expect(text.status == 0, "\(text.output)")
            #expect(text.output.contains("saved \(file)") && text.output.contains("locks 1, names 1"), "\(text.output)")
            // Atomic: nothing but the file itself is left beside it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch) == ["backup.snap"])
        }
        let original = try Data(contentsOf: URL(fileURLWithPath: file))

        // A damaged file: one byte flipped in the middle, then cut short. Refused, nothing written.
        var flipped = original
        flipped[flipped.count / 2] ^= 0x40
        let damaged = scratch + "/damaged.snap"
        try flipped.write(to: URL(fileURLWithPath: damaged))
        let refusedDamaged = try await DaemonProcess.run("cohortd", ["restore", "--data-dir", scratch + "/d1", "--name", "rs1", damaged])
        #expect(refusedDamaged.status == 2, "\(refusedDamaged.output)")
        #expect(refusedDamaged.output.contains("fails its checksum"), "\(refusedDamaged.output)")
        try original.prefix(original.count - 10).write(to: URL(fileURLWithPath: damaged))
        let refusedTorn = try await DaemonProcess.run("cohortd", ["restore", "--data-dir", scratch + "/d1", "--name", "rs1", damaged])
        #expect(refusedTorn.status == 2, "\(refusedTorn.output)")
        #expect(refusedTorn.output.contains("torn or truncated"), "\(refusedTorn.output)")
        #expect(!FileManager.default.fileExists(atPath: scratch + "/d1"))

        // A data directory that holds anything is refused.
        try FileManager.default.createDirectory(atPath: scratch + "/used", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: scratch + "/used/incarnation"))
        let refusedUsed = try await DaemonProcess.run("cohortd", ["restore", "--data-dir", scratch + "/used", "--name", "rs1", file])
        #expect(refusedUsed.status == 2, "\(refusedUsed.output)")
        #expect(refusedUsed.output.contains("is not empty"), "\(refusedUsed.output)")

        let writes = try #require(written)
        let dataDirectory = scratch + "/restored"
        let restore = try await DaemonProcess.run("cohortd", ["restore", "--data-dir", dataDirectory, "--name", "rs1", file, "--json"])
        #expect(restore.status == 0, "\(restore.output)")
        let restored = try #require(try json(restore.output) as? [String: Any], "\(restore.output)")
        // Every key but the old group's id (`_sys:raft_group`), which a restored group writes anew.
        #expect(restored["keys"] as? Int == (saved["keys"] as? Int).map { $0 - 1 })
        #expect(restored["locks"] as? Int == 1)
        #expect(restored["names"] as? Int == 1)

        let leader = try ClusterNodeUnderTest(name: "rs1", raft: ["bootstrap_expect: 3"], extraYAML: Self.stores, dataDirectory: dataDirectory)
        try await withNodes([leader]) { _ in
            try await leader.waitUntilServing()
            try await waitUntil(within: .seconds(30), "rs1 to lead its restored one-voter group") {
                guard let state = await leader.raft() else { return false }
                return state.state == "leader" && state.voters == ["rs1"]
            }
            try await writes.expectPresent(on: leader)
            // Three pristine servers expecting 3 founders: they see a node with Raft state and join it
            // instead of founding a second group beside it.
            var fresh: [ClusterNodeUnderTest] = []
            for index in 2...4 {
                fresh.append(try ClusterNodeUnderTest(name: "rs\(index)", join: [leader], raft: ["bootstrap_expect: 3"], extraYAML: Self.stores))
            }
            try await withNodes(fresh) { fresh in
                let all = ([leader] + fresh).map(\.name).sorted()
                try await waitForAgreement([leader] + fresh, "one group of all four") {
                    ($0.voters + $0.standbys).sorted() == all && $0.voters.count == 3
                }
                for node in fresh { #expect(!node.process.output.contains("raft group founded"), "\(node.name) founded a group") }
                try await writes.expectKeys(on: fresh[2])
                var group: String?
                try await waitUntil(within: .seconds(30), "the restored group's id") {
                    group = groupID(in: fresh[0].process.output)
                    return group != nil
                }
                #expect(group != oldGroup, "the restored group has a new id")
                try await writes.expectFencingContinues(on: fresh[1], above: UInt64(try #require(saved["index"] as? Int)))
            }
        }
    }

    @Test("a second cohortd on a data directory in use exits 2 naming the holder; the first keeps serving")
    func secondDaemonRefused() async throws {
        let first = try await startSingleNodeGroup("dl1")
        try await withNodes([first]) { _ in
            let second = try ClusterNodeUnderTest(name: "dl2", raft: ["bootstrap_expect: 1"], dataDirectory: first.dataDirectory)
            let status = try await second.process.waitForExit(within: .seconds(30))
            #expect(status == 2)
            #expect(second.process.output.contains("data directory is in use"), "\(second.process.output)")
            #expect(second.process.output.contains("pid \(first.process.pid)"), "\(second.process.output)")
            await second.stop()
            #expect(try await first.put("still", "here").status == 200)
            #expect(await first.raft()?.state == "leader")
        }
    }
}

/// The Raft group id a node logged (`raft group id known`, `raft.group`), if it did yet.
func groupID(in output: String) -> String? {
    guard let line = output.split(separator: "\n").first(where: { $0.contains("raft group id known") }),
          let range = line.range(of: "raft.group")
    else { return nil }
    let id = line[range.upperBound...].drop { !$0.isHexDigit }.prefix { $0.isHexDigit }
    return id.isEmpty ? nil : String(id)
}

/// Writes a test acknowledged before a backup or a loss, and how it checks them afterwards.
struct AcknowledgedWrites {
    var keys: [String: String]
    var lockToken: UInt64

    /// Keys in `default` and in `config`, the lock `job` held by a session (lock delay 20 s: after its
    /// holder is released, the lock's record and token stay that long), the name `svc`.
    static func make(on node: ClusterNodeUnderTest) async throws -> AcknowledgedWrites {
        var keys: [String: String] = [:]
        for index in 0..<20 {
            let reply = try await node.put("k\(index)", "v\(index)")
            #expect(reply.status == 200, "\(reply.body)")
            keys["k\(index)"] = "v\(index)"
        }
        #expect(try await node.put("feature", "on", query: "?store=config").status == 200)
        let pid = try await node.openSession(ttl: "600s")
        let lock = try await node.post("/v1/locks/job", jsonBody(["holder": pid, "lock_delay": "20s"]))
        #expect(lock.status == 200, "\(lock.body)")
        let token = try #require((try json(lock.body) as? [String: Any])?["token"] as? Int)
        let name = try await node.post("/v1/names", jsonBody(["name": "svc", "pid": pid]))
        #expect(name.status == 201, "\(name.body)")
        return AcknowledgedWrites(keys: keys, lockToken: UInt64(token))
    }

    /// Every key is there, in both stores.
    func expectKeys(on node: ClusterNodeUnderTest) async throws {
        for (key, value) in keys { #expect(await node.value(key) == value, "\(key)") }
        let config = try await httpGet(node.base + "/v1/kv/feature?store=config")
        #expect(config.status == 200 && config.body.contains("\"on\""), "\(config.body)")
    }

    /// Every key is there, and the lock `job` keeps its token (held, or delayed once its holder's
    /// session was released: checked within the 20 s lock delay).
    func expectPresent(on node: ClusterNodeUnderTest) async throws {
        try await expectKeys(on: node)
        let lock = try await httpGet(node.base + "/v1/locks/job")
        #expect(lock.status == 200, "\(lock.body)")
        #expect((try? json(lock.body) as? [String: Any])?["token"] as? Int == Int(lockToken), "\(lock.body)")
    }

    /// A new grant of `job` (once its lock delay is over) gets a token above the one before the loss and
    /// above `index`, the saved or recovered state's index (which bounds every token in it).
    func expectFencingContinues(on node: ClusterNodeUnderTest, above index: UInt64) async throws {
        let pid = try await node.openSession(ttl: "600s")
        let reply = try await httpRequest("POST", node.base + "/v1/locks/job", body: jsonBody(["holder": pid, "wait": "45s"]), timeout: 60)
        #expect(reply.status == 200, "\(reply.body)")
        let token = try #require((try json(reply.body) as? [String: Any])?["token"] as? Int)
        #expect(UInt64(token) > lockToken)
        #expect(UInt64(token) > index, "token \(token), state index \(index)")
    }
}
