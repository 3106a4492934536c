import CohortConfig
import Testing

@Suite struct DurationParserTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)),
        ("2s", .seconds(2)),
        ("1m", .seconds(60)),
        ("1h", .seconds(3600)),
        ("1m30s", .seconds(90)),
        ("1h2m3s4ms", .milliseconds(3_723_004)),
        ("1.5s", .milliseconds(1500)),
        ("0.5ms", .microseconds(500)),
        (".25s", .milliseconds(250)),
        ("0", .zero),
        ("0s", .zero),
        (" 2s ", .seconds(2)),
        ("-1s", .seconds(-1)),
        ("90s", .seconds(90)),
    ])
    func parses(_ text: String, _ expected: Duration) {
        #expect(DurationParser.parse(text) == expected)
    }

    @Test(arguments: ["", "fast", "5", "1", "2 s", "1d", "1us", "s", "1.s5", "ms", "1m30", "--1s", "1e3s", "9999999999999h"])
    func rejects(_ text: String) {
        #expect(DurationParser.parse(text) == nil)
    }

    @Test(arguments: [
        (Duration.zero, "0"),
        (.milliseconds(500), "500ms"),
        (.seconds(2), "2s"),
        (.seconds(60), "1m"),
        (.seconds(90), "1m30s"),
        (.seconds(3600), "1h"),
        (.milliseconds(1500), "1s500ms"),
        (.microseconds(500), "0.5ms"),
        (.nanoseconds(1_000_001), "1.000001ms"),
        (.seconds(-2), "-2s"),
    ])
    func formats(_ duration: Duration, _ expected: String) {
        #expect(DurationParser.format(duration) == expected)
        #expect(DurationParser.parse(expected) == duration)
    }

    @Test func zeroDisablesOnlyWhereZeroMeansDisabled() throws {
        let settings = try loader().load(
            yaml: "pg:\n  scopes:\n    - name: quiet\n      anti_entropy_interval: 0\n      broadcast_liveness: 0\n")
        #expect(settings.pg.scopes == [ProcessGroupScopeSettings(name: "quiet", antiEntropyInterval: nil, broadcastLiveness: nil)])
        #expect(loadError("cluster:\n  membership:\n    rejoin_interval: 0\n").contains("must be greater than 0"))
    }
}
