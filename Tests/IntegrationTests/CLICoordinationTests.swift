import CohortTestKit
import Foundation
import Testing

/// `cohort stores`, `cohort kv` on named stores, transactions and TTLs, and the finer points of `cohort lock`
/// and `cohort names` (JSON, refusals, sessions opened for a holder) against a real one-node Raft group that
/// declares the store `config`. CLITests holds the basic round trips.
@Suite("CLI: stores, kv, locks and names")
struct CLICoordinationTests {
    @Test("cohort stores lists default and the declared store; kv put/get/list --store; an undeclared store is NOT_FOUND")
    func storesAndKeys() async throws {
        let node = try await startSingleNodeGroup("cli-kv")
        try await withNodes([node]) { _ in
            let stores = try await cohort(node, ["stores"])
            #expect(stores.status == 0, "\(stores.output)")
            #expect(lines(stores.output) == ["NAME     KIND     DURABLE", "default  kv.raft  yes", "config   kv.raft  yes"])
            let storesJSON = try await cohort(node, ["stores", "--json"])
            let rows = try #require(try json(storesJSON.output) as? [[String: Any]])
            #expect(rows.map { $0["name"] as? String } == ["default", "config"])
            #expect(rows.last?["kind"] as? String == "kv.raft" && rows.last?["durable"] as? Bool == true)

            let put = try await cohort(node, ["kv", "put", "--store", "config", "app/color", "blue"])
            #expect(put.status == 0, "\(put.output)")
            let version = try printedVersion(put.output)
            #expect(try await cohort(node, ["kv", "get", "--store", "config", "app/color"]).output == "blue\n")
            // The default store does not see the key.
            let elsewhere = try await cohort(node, ["kv", "get", "app/color"])
            #expect(elsewhere.status == 1)
            #expect(elsewhere.output == #"error: NOT_FOUND: no value at key "app/color""# + "\n", "\(elsewhere.output)")

            let entry = try #require(try json(try await cohort(node, ["kv", "get", "--json", "--store", "config", "app/color"]).output) as? [String: Any])
            #expect(entry["value"] as? String == "blue")
            #expect((entry["version"] as? NSNumber)?.uint64Value == version)
            #expect((entry["created"] as? NSNumber)?.uint64Value == version)
            #expect(entry["expires_at"] == nil)

            #expect(try await cohort(node, ["kv", "put", "--store", "config", "--if-version", "\(version)", "app/color", "red"]).status == 0)
            #expect(try await cohort(node, ["kv", "put", "--store", "config", "--if-absent", "app/size", "xl"]).status == 0)

            let list = try await cohort(node, ["kv", "list", "--store", "config", "app/"])
            #expect(list.status == 0, "\(list.output)")
            let listed = lines(list.output)
            #expect(listed.first?.hasPrefix("KEY") == true)
            #expect(listed.dropFirst().first?.hasPrefix("app/color") == true && listed.dropFirst().first?.hasSuffix("red") == true)
            #expect(listed.last?.hasPrefix("(revision ") == true)
            let listJSON = try #require(try json(try await cohort(node, ["kv", "list", "--json", "--store", "config", "app/"]).output) as? [[String: Any]])
            #expect(listJSON.compactMap { $0["key"] as? String } == ["app/color", "app/size"])

            let deleted = try await cohort(node, ["kv", "delete", "--store", "config", "app/size"])
            #expect(deleted.status == 0 && deleted.output == "deleted app/size\n", "\(deleted.output)")

            let undeclared = try await cohort(node, ["kv", "put", "--store", "nope", "k", "v"])
            #expect(undeclared.status == 1)
            #expect(undeclared.output == #"error: NOT_FOUND: no store "nope" (declared: default, config)"# + "\n", "\(undeclared.output)")
            // With --json, the server's error body comes on standard output as is.
            let undeclaredJSON = try await cohort(node, ["kv", "get", "--json", "--store", "nope", "k"])
            #expect(undeclaredJSON.status == 1)
            let body = try #require(try json(lines(undeclaredJSON.output).first ?? "") as? [String: Any])
            #expect(body["code"] as? String == "NOT_FOUND")
            #expect((body["error"] as? String)?.contains("no store") == true)
        }
    }

    @Test("kv put --ttl shows expires_at and the leader sweeps the key; a bad ttl is BAD_REQUEST")
    func timeToLive() async throws {
        let node = try await startSingleNodeGroup("cli-ttl")
        try await withNodes([node]) { _ in
            // The leader stamps the write with its clock (this machine's) between these two readings, so the
            // expiry is 8 s after a moment inside them, however long the CLI takes under load (8 s: the key must
            // still be there for the `get` that follows, a second CLI process).
            let before = (Date().timeIntervalSince1970 * 1000).rounded(.down)
            let put = try await cohort(node, ["kv", "put", "--store", "config", "--ttl", "8s", "lease/a", "x"])
            let after = (Date().timeIntervalSince1970 * 1000).rounded(.up)
            #expect(put.status == 0, "\(put.output)")
            let entry = try #require(try json(try await cohort(node, ["kv", "get", "--json", "--store", "config", "lease/a"]).output) as? [String: Any])
            let expiresAt = try #require((entry["expires_at"] as? NSNumber)?.doubleValue)
            #expect(expiresAt >= before + 8_000 && expiresAt <= after + 8_000, "expires_at \(expiresAt), put between \(before) and \(after)")
            let list = try await cohort(node, ["kv", "list", "--store", "config", "lease/"])
            #expect(!list.output.contains(" - "), "the expiry shows in the listing: \(list.output)")
            try await waitUntil(within: .seconds(30), "the leader to sweep lease/a", pollEvery: .milliseconds(250)) {
                try await cohort(node, ["kv", "get", "--store", "config", "lease/a"]).status == 1
            }
            let bad = try await cohort(node, ["kv", "put", "--store", "config", "--ttl", "soon", "lease/b", "x"])
            #expect(bad.status == 1)
            #expect(bad.output.hasPrefix("error: BAD_REQUEST: ttl: "), "\(bad.output)")
        }
    }

    @Test("lock acquire, info and list as text and JSON; another holder is refused or times out; without --holder a session holds the lock for --ttl")
    func locks() async throws {
        let node = try await startSingleNodeGroup("cli-lock")
        try await withNodes([node]) { _ in
            let holder = try await node.openSession()
            let other = try await node.openSession()
            let acquired = try await cohort(node, ["lock", "acquire", "jobs/nightly", "--holder", holder, "--lock-delay", "1s"])
            #expect(acquired.status == 0, "\(acquired.output)")
            #expect(acquired.output.hasPrefix("acquired jobs/nightly for \(holder), token "), "\(acquired.output)")
            // Acquiring again for the same holder returns the same grant.
            let grant = try #require(try json(try await cohort(node, ["lock", "acquire", "--json", "jobs/nightly", "--holder", holder]).output) as? [String: Any])
            #expect(grant["holder"] as? String == holder && grant["name"] as? String == "jobs/nightly")
            let token = try #require((grant["token"] as? NSNumber)?.uint64Value)
            #expect(acquired.output.hasSuffix("token \(token)\n"))

            let busy = try await cohort(node, ["lock", "acquire", "jobs/nightly", "--holder", other])
            #expect(busy.status == 1)
            #expect(busy.output.hasPrefix("error: ALREADY_EXISTS: ") && busy.output.contains("is held by \(holder)"), "\(busy.output)")
            let busyJSON = try await cohort(node, ["lock", "acquire", "--json", "jobs/nightly", "--holder", other])
            #expect((try json(lines(busyJSON.output).first ?? "") as? [String: Any])?["holder"] as? String == holder)
            let waited = try await cohort(node, ["lock", "acquire", "jobs/nightly", "--holder", other, "--wait", "500ms"])
            #expect(waited.status == 1)
            #expect(waited.output.hasPrefix("error: TIMEOUT: "), "\(waited.output)")

            // `show` is another name for `info`.
            let show = try await cohort(node, ["lock", "show", "jobs/nightly"])
            #expect(show.status == 0 && field("holder:", in: show.output) == holder, "\(show.output)")
            let shown = try #require(try json(try await cohort(node, ["lock", "info", "--json", "jobs/nightly"]).output) as? [String: Any])
            #expect(shown["holder"] as? String == holder && shown["node"] as? String == "cli-lock")
            #expect((shown["token"] as? NSNumber)?.uint64Value == token)
            let listed = try #require(try json(try await cohort(node, ["lock", "list", "--json", "--prefix", "jobs/"]).output) as? [[String: Any]])
            #expect(listed.map { $0["name"] as? String } == ["jobs/nightly"])
            let table = try await cohort(node, ["lock", "list"])
            #expect(lines(table.output).first?.split(separator: " ") == ["NAME", "HOLDER", "TOKEN", "WAITERS"], "\(table.output)")
            #expect(lines(table.output).last?.split(separator: " ") == ["jobs/nightly", "\(holder)", "\(token)", "0"], "\(table.output)")

            let notHolder = try await cohort(node, ["lock", "release", "jobs/nightly", "--holder", other])
            #expect(notHolder.status == 1)
            #expect(notHolder.output.hasPrefix("error: NOT_HOLDER: "), "\(notHolder.output)")
            let unknownHolder = try await cohort(node, ["lock", "acquire", "x", "--holder", "not-a-pid"])
            #expect(unknownHolder.status == 1 && unknownHolder.output.hasPrefix("error: BAD_REQUEST: holder: "), "\(unknownHolder.output)")

            // Without --holder, a session opened for the purpose holds the lock until its --ttl lapses.
            let leased = try await cohort(node, ["lock", "acquire", "jobs/lease", "--ttl", "1"])
            #expect(leased.status == 0 && leased.output.hasPrefix("acquired jobs/lease for cli-lock@"), "\(leased.output)")
            #expect(try await cohort(node, ["lock", "info", "jobs/lease"]).status == 0)
            try await waitUntil(within: .seconds(15), "the session holding jobs/lease to lapse", pollEvery: .milliseconds(250)) {
                let info = try await cohort(node, ["lock", "info", "jobs/lease"])
                return info.status == 1 && info.output.hasPrefix("error: NOT_FOUND: ")
            }
            let both = try await cohort(node, ["lock", "acquire", "x", "--holder", holder, "--ttl", "5s"])
            #expect(both.status != 0 && both.output.contains("--ttl is for the session this command opens"), "\(both.output)")
        }
    }

    @Test("names register, lookup, list and unregister with a session PID, consistent and local, as text and JSON")
    func names() async throws {
        let node = try await startSingleNodeGroup("cli-names")
        try await withNodes([node]) { _ in
            let owner = try await node.openSession()
            let other = try await node.openSession()
            let registered = try await cohort(node, ["names", "register", "svc/api", "--pid", owner])
            #expect(registered.status == 0, "\(registered.output)")
            #expect(registered.output.hasPrefix("registered svc/api for \(owner) (consistent, token "), "\(registered.output)")
            let taken = try await cohort(node, ["names", "register", "--json", "svc/api", "--pid", other])
            #expect(taken.status == 1)
            #expect(taken.output.contains("error: ALREADY_EXISTS: "), "\(taken.output)")
            #expect((try json(lines(taken.output).first ?? "") as? [String: Any])?["owner"] as? String == owner)

            let lookup = try await cohort(node, ["names", "lookup", "svc/api"])
            #expect(lookup.status == 0, "\(lookup.output)")
            #expect(lines(lookup.output).first?.hasPrefix("NAME") == true)
            #expect(lines(lookup.output).last?.hasPrefix("svc/api  \(owner)  consistent  cli-names  ") == true, "\(lookup.output)")
            let found = try #require(try json(try await cohort(node, ["names", "lookup", "--json", "svc/api", "--scope", "consistent"]).output) as? [String: Any])
            #expect(found["pid"] as? String == owner && found["scope"] as? String == "consistent" && found["node"] as? String == "cli-names")
            #expect(found["token"] is NSNumber)
            let list = try #require(try json(try await cohort(node, ["names", "list", "--json", "--prefix", "svc/"]).output) as? [[String: Any]])
            #expect(list.map { $0["name"] as? String } == ["svc/api"])

            let local = try await cohort(node, ["names", "register", "worker", "--pid", other, "--scope", "local"])
            #expect(local.status == 0 && local.output == "registered worker for \(other) (local)\n", "\(local.output)")
            let localLookup = try #require(try json(try await cohort(node, ["names", "lookup", "--json", "worker"]).output) as? [String: Any])
            #expect(localLookup["scope"] as? String == "local" && localLookup["pid"] as? String == other)
            #expect(try await cohort(node, ["names", "unregister", "worker", "--pid", other, "--scope", "local"]).status == 0)

            let notOwner = try await cohort(node, ["names", "unregister", "svc/api", "--pid", other])
            #expect(notOwner.status == 1)
            #expect(notOwner.output.hasPrefix("error: NOT_HOLDER: "), "\(notOwner.output)")
            let unregistered = try await cohort(node, ["names", "unregister", "svc/api", "--pid", owner])
            #expect(unregistered.status == 0 && unregistered.output == "unregistered svc/api\n", "\(unregistered.output)")
            let gone = try await cohort(node, ["names", "lookup", "svc/api"])
            #expect(gone.status == 1)
            #expect(gone.output == #"error: NOT_FOUND: no name "svc/api""# + "\n", "\(gone.output)")
            let eventual = try await cohort(node, ["names", "register", "e", "--pid", owner, "--scope", "eventual"])
            #expect(eventual.status == 0 && eventual.output == "registered e for \(owner) (eventual)\n", "\(eventual.output)")
            let listed = try await cohort(node, ["names", "list", "--scope", "all", "--owner", owner])
            #expect(listed.status == 0 && listed.output.contains("eventual"), "\(listed.output)")
            let foreign = try await cohort(node, ["names", "register", "f", "--pid", "elsewhere@1.1", "--scope", "eventual"])
            #expect(foreign.status == 1 && foreign.output.hasPrefix("error: BAD_REQUEST: "), "\(foreign.output)")
        }
    }

    @Test("kv watch prints each change as a line or a JSON object; kv txn passes a JSON file through")
    func watchAndTransaction() async throws {
        let node = try await startSingleNodeGroup("cli-watch")
        try await withNodes([node]) { _ in
            let first = try await cohort(node, ["kv", "put", "--store", "config", "feature/a", "on"])
            let from = try printedVersion(first.output)
            let watch = try DaemonProcess(executable: "cohort", arguments: ["kv", "watch", "--admin", node.base, "--store", "config", "--prefix", "feature/", "--from-version", "\(from)", "--json"])
            let text = try DaemonProcess(executable: "cohort", arguments: ["kv", "watch", "--admin", node.base, "--store", "config", "--prefix", "feature/", "--from-version", "0"])
            _ = try await cohort(node, ["kv", "put", "--store", "config", "other/x", "ignored"])
            _ = try await cohort(node, ["kv", "put", "--store", "config", "feature/b", "off"])
            _ = try await cohort(node, ["kv", "delete", "--store", "config", "feature/a"])

            try await waitUntil(within: .seconds(10), "the JSON watch to print two events") { lines(watch.output).count >= 2 }
            let events = try lines(watch.output).map { try #require(try json($0) as? [String: Any]) }
            #expect(events.map { $0["event"] as? String } == ["put", "delete"], "\(watch.output)")
            #expect(events.map { $0["key"] as? String } == ["feature/b", "feature/a"])
            #expect(events.first?["value"] as? String == "off")
            let versions = events.compactMap { ($0["version"] as? NSNumber)?.uint64Value }
            #expect(versions.count == 2 && versions[0] > from && versions[1] > versions[0])

            try await waitUntil(within: .seconds(10), "the text watch to print three events") { lines(text.output).count >= 3 }
            #expect(lines(text.output) == ["\(from) put feature/a on", "\(versions[0]) put feature/b off", "\(versions[1]) delete feature/a"], "\(text.output)")
            #expect(watch.isRunning && text.isRunning, "a watch runs until interrupted")
            await watch.stop()
            await text.stop()

            let file = FileManager.default.temporaryDirectory.appendingPathComponent("txn-\(UUID().uuidString).json")
            defer { try? FileManager.default.removeItem(at: file) }
            try #"""
                {"compare": [{"key": "feature/b", "value": "off"}],
                 "success": [{"op": "put", "key": "feature/b", "value": "on"}, {"op": "get", "key": "feature/b"}],
                 "failure": [{"op": "get", "key": "feature/b"}]}
                """#.write(to: file, atomically: false, encoding: .utf8)
            let transaction = try await cohort(node, ["kv", "txn", "--store", "config", file.path])
            #expect(transaction.status == 0, "\(transaction.output)")
            #expect(lines(transaction.output).first?.hasPrefix("succeeded, version ") == true, "\(transaction.output)")
            #expect(lines(transaction.output).dropFirst().first?.hasPrefix("put  feature/b  version ") == true, "\(transaction.output)")
            let again = try #require(try json(try await cohort(node, ["kv", "txn", "--json", "--store", "config", file.path]).output) as? [String: Any])
            #expect(again["succeeded"] as? Bool == false)
            let results = try #require(again["results"] as? [[String: Any]])
            #expect(((results.first?["entry"]) as? [String: Any])?["value"] as? String == "on")

            let undeclared = try await cohort(node, ["kv", "watch", "--store", "nope", "--from-version", "0"])
            #expect(undeclared.status == 1 && undeclared.output.hasPrefix("error: NOT_FOUND: "), "\(undeclared.output)")
        }
    }
}
