import CohortTestKit
import Foundation
import Testing

/// `cohort status`, and the coordination commands (`kv`, `lock`, `names`), against a real daemon.
@Suite struct CLITests {
    @Test func statusPrintsIdentityAndReadinessAsTextAndJSON() async throws {
        let node = try NodeUnderTest(name: "cli-node")
        try await node.waitUntilServing()
        try await waitUntil(within: .seconds(10)) { try await node.get("/readyz").status == 200 }

        let text = try await DaemonProcess.run("cohort", ["status", "--admin", node.base])
        #expect(text.status == 0, "\(text.output)")
        #expect(text.output.contains("node:        cli-node"))
        #expect(text.output.contains("ready:       yes"))
        #expect(text.output.contains("admin.listening"))

        let json = try await DaemonProcess.run("cohort", ["status", "--json"], environment: ["COHORT_ADMIN_URL": node.base])
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        #expect(object?["ready"] as? Bool == true)
        #expect((object?["node"] as? [String: Any])?["name"] as? String == "cli-node")
        await node.stop()
    }

    @Test func statusUsesTheTokenAndExplainsAMissingOne() async throws {
        let node = try NodeUnderTest(extraYAML: "  token: t0ken")
        try await node.waitUntilServing()
        let denied = try await DaemonProcess.run("cohort", ["status", "--admin", node.base])
        #expect(denied.status == 3)
        #expect(denied.output.contains("unauthorized"))
        let allowed = try await DaemonProcess.run("cohort", ["status", "--admin", node.base, "--token", "t0ken"])
        #expect(allowed.output.contains("node:"), "\(allowed.output)")
        await node.stop()
    }

    @Test func statusExitsThreeWhenTheNodeIsUnreachable() async throws {
        let address = uniqueLoopbackAddress()
        let result = try await DaemonProcess.run("cohort", ["status", "--admin", "http://\(address):7960"])
        #expect(result.status == 3)
        #expect(result.output.contains("cannot reach"))
    }

    @Test func kvPutGetListAndDeleteAKey() async throws {
        let node = try await startSingleNodeGroup("cli-kv-basic")
        try await withNodes([node]) { _ in
            let put = try await cohort(node, ["kv", "put", "app/color", "blue"])
            #expect(put.status == 0, "\(put.output)")
            let version = try printedVersion(put.output)

            let get = try await cohort(node, ["kv", "get", "app/color"])
            #expect(get.status == 0 && get.output == "blue\n", "\(get.output)")

            _ = try await cohort(node, ["kv", "put", "other/key", "x"])
            let list = try await cohort(node, ["kv", "list", "--prefix", "app/"])
            #expect(list.status == 0, "\(list.output)")
            let rows = lines(list.output).map { $0.split(separator: " ").map(String.init) }
            #expect(rows.first == ["KEY", "VERSION", "EXPIRES", "VALUE"], "\(list.output)")
            #expect(rows.dropFirst().first == ["app/color", "\(version)", "-", "blue"], "\(list.output)")
            #expect(rows.count == 3 && rows.last?.first == "(revision", "only app/ keys, then the revision: \(list.output)")

            let deleted = try await cohort(node, ["kv", "del", "app/color"])
            #expect(deleted.status == 0 && deleted.output == "deleted app/color\n", "\(deleted.output)")
            let gone = try await cohort(node, ["kv", "get", "app/color"])
            #expect(gone.status == 1)
            #expect(gone.output == "error: NOT_FOUND: no value at key \"app/color\"\n", "\(gone.output)")
        }
    }

    @Test func aFailedCompareAndSwapExitsNonZeroAndPrintsConflict() async throws {
        let node = try await startSingleNodeGroup("cli-cas")
        try await withNodes([node]) { _ in
            let version = try printedVersion(try await cohort(node, ["kv", "put", "leader", "n1"]).output)
            let stale = try await cohort(node, ["kv", "put", "--if-version", "\(version + 1)", "leader", "n2"])
            #expect(stale.status == 1)
            #expect(stale.output.hasPrefix("error: CONFLICT: "), "\(stale.output)")
            #expect(lines(stale.output).count == 1, "one line: \(stale.output)")
            #expect(try await cohort(node, ["kv", "get", "leader"]).output == "n1\n", "the failed swap wrote nothing")

            let swapped = try await cohort(node, ["kv", "put", "--if-version", "\(version)", "leader", "n2"])
            #expect(swapped.status == 0, "\(swapped.output)")
            #expect(try await cohort(node, ["kv", "get", "leader"]).output == "n2\n")
        }
    }

    @Test func lockAcquireInfoAndRelease() async throws {
        let node = try await startSingleNodeGroup("cli-lock-basic")
        try await withNodes([node]) { _ in
            let holder = try await node.openSession()
            let acquired = try await cohort(node, ["lock", "acquire", "jobs/nightly", "--holder", holder])
            #expect(acquired.status == 0, "\(acquired.output)")
            let prefix = "acquired jobs/nightly for \(holder), token "
            #expect(acquired.output.hasPrefix(prefix), "\(acquired.output)")
            let token = try #require(UInt64(acquired.output.dropFirst(prefix.count).trimmingCharacters(in: .newlines)))

            let info = try await cohort(node, ["lock", "info", "jobs/nightly"])
            #expect(info.status == 0, "\(info.output)")
            #expect(field("holder:", in: info.output) == holder, "\(info.output)")
            #expect(field("node:", in: info.output) == "cli-lock-basic", "\(info.output)")
            #expect(field("token:", in: info.output) == "\(token)", "\(info.output)")

            let released = try await cohort(node, ["lock", "release", "jobs/nightly", "--holder", holder])
            #expect(released.status == 0 && released.output == "released jobs/nightly\n", "\(released.output)")
            let after = try await cohort(node, ["lock", "info", "jobs/nightly"])
            #expect(after.status == 1)
            #expect(after.output == "error: NOT_FOUND: lock \"jobs/nightly\" is not held\n", "\(after.output)")
        }
    }

    @Test func nameRegisterAndLookup() async throws {
        let node = try await startSingleNodeGroup("cli-names-basic")
        try await withNodes([node]) { _ in
            let pid = try await node.openSession()
            let registered = try await cohort(node, ["names", "register", "svc/api", "--pid", pid])
            #expect(registered.status == 0, "\(registered.output)")
            #expect(registered.output.hasPrefix("registered svc/api for \(pid) (consistent, token "), "\(registered.output)")

            let lookup = try await cohort(node, ["names", "lookup", "svc/api", "--json"])
            #expect(lookup.status == 0, "\(lookup.output)")
            let found = try #require(try json(lookup.output) as? [String: Any])
            #expect(found["pid"] as? String == pid)
            #expect(found["scope"] as? String == "consistent" && found["node"] as? String == "cli-names-basic")

            let unknown = try await cohort(node, ["names", "lookup", "svc/other"])
            #expect(unknown.status == 1)
            #expect(unknown.output == "error: NOT_FOUND: no name \"svc/other\"\n", "\(unknown.output)")
        }
    }

    @Test func watchWithCountPrintsAPutAndExits() async throws {
        let node = try await startSingleNodeGroup("cli-watch-count")
        try await withNodes([node]) { _ in
            let start = try printedVersion(try await cohort(node, ["kv", "put", "feature/a", "off"]).output)
            let watch = try DaemonProcess(
                executable: "cohort",
                arguments: ["kv", "watch", "--admin", node.base, "--prefix", "feature/", "--from-version", "\(start)", "--count", "1"]
            )
            _ = try await cohort(node, ["kv", "put", "other/x", "ignored"])
            let version = try printedVersion(try await cohort(node, ["kv", "put", "feature/a", "on"]).output)
            _ = try await cohort(node, ["kv", "put", "feature/b", "after the count"])

            #expect(try await watch.waitForExit(within: .seconds(15)) == 0, "\(watch.output)")
            #expect(watch.output == "\(version) put feature/a on\n", "one event, the put after --from-version")
        }
    }

    @Test func kvSaysInOneLineThatTheNodeIsUnreachable() async throws {
        let address = uniqueLoopbackAddress()
        let result = try await DaemonProcess.run("cohort", ["kv", "get", "k", "--admin", "http://\(address):7960"])
        #expect(result.status == 3)
        #expect(lines(result.output) == ["error: cannot reach http://\(address):7960: connection refused (is cohortd running there? pass --admin or set COHORT_ADMIN_URL)"], "\(result.output)")
    }
}
