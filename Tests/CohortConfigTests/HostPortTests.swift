import CohortConfig
import Testing

@Suite struct HostPortTests {
    @Test(arguments: [
        ("node-1:7946", HostPort(host: "node-1", port: 7946)),
        ("10.0.0.1:80", HostPort(host: "10.0.0.1", port: 80)),
        ("[::1]:7000", HostPort(host: "::1", port: 7000)),
        ("[fe80::1%eth0]:1", HostPort(host: "fe80::1%eth0", port: 1)),
    ])
    func parsesHostAndPort(_ text: String, _ expected: HostPort) {
        #expect(HostPort(text) == expected)
        #expect(HostPort(text)?.description == text)
    }

    @Test func defaultPortAppliesOnlyWhenGiven() {
        #expect(HostPort("node-1", defaultPort: 7946) == HostPort(host: "node-1", port: 7946))
        #expect(HostPort("[::1]", defaultPort: 7946) == HostPort(host: "::1", port: 7946))
        #expect(HostPort("node-1") == nil)
    }

    @Test(arguments: ["::1", "node:abc", "node:70000", "node:", "[::1", "[::1]x", "a b:1", "[node]:1"])
    func rejects(_ text: String) {
        #expect(HostPort(text, defaultPort: 7946) == nil)
    }

    @Test func joinAddressesAcceptAYAMLListToo() throws {
        let settings = try loader().load(yaml: "cluster:\n  membership:\n    join_addrs:\n      - node-1\n      - node-2:7000\n")
        #expect(
            settings.cluster.membership.joinAddresses == [
                HostPort(host: "node-1", port: 7946), HostPort(host: "node-2", port: 7000),
            ])
    }

    @Test func joinAddressErrorsNameTheEntry() {
        #expect(
            loadError("cluster:\n  membership:\n    join_addrs: \"node-1, ::1\"\n")
                == "cluster.membership.join_addrs: \"::1\" is ambiguous; write an IPv6 address in brackets, e.g. "
                + "[::1]:7946 (line 3)")
        #expect(
            loadError("cluster:\n  membership:\n    join_addrs: \":7946\"\n")
                == "cluster.membership.join_addrs: \":7946\" has no host; use host:port (e.g. node-1:7946) (line 3)")
    }

    @Test func bindAddressesAreHostsWithoutPorts() throws {
        #expect(
            loadError("cluster:\n  membership:\n    bind_addr: 0.0.0.0:7946\n")
                == "cluster.membership.bind_addr: \"0.0.0.0:7946\" includes a port; give the address alone and set "
                + "the port key (line 3)")
        let settings = try loader().load(yaml: "cluster:\n  internode:\n    advertise_addr: \"[fd00::5]\"\n")
        #expect(settings.cluster.internode.advertiseAddress == "fd00::5")
    }
}
