import Logging
import Systemd
import Testing

private struct Port: CustomStringConvertible, Sendable {
    var number: Int
    var description: String { "port \(number)" }
}

private struct DiskFull: Error {}

private func event(
    _ level: Logger.Level = .info,
    _ message: Logger.Message = "node joined",
    metadata: Logger.Metadata? = nil,
    error: (any Error)? = nil
) -> LogEvent {
    LogEvent(
        level: level, message: message, error: error, metadata: metadata, source: "Gossip",
        file: "Gossip/GossipService.swift", function: "handle(_:)", line: 42
    )
}

private func value(_ name: String, in fields: [JournalField]) -> String? {
    fields.first { $0.name == name }?.value
}

@Suite struct JournalFieldTests {
    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func swiftLogLevelsMapToSyslogPriorities(level: Logger.Level, priority: Int) {
        #expect(JournaldLogHandler.syslogPriority(level) == priority)
        let fields = JournaldLogHandler.fields(for: event(level), label: "cohort.gossip", identifier: "cohortd", metadata: [:])
        #expect(value("PRIORITY", in: fields) == String(priority))
    }

    @Test(arguments: [
        ("raft.term", "RAFT_TERM"),
        ("peer-addr", "PEER_ADDR"),
        ("sl-signal", "SL_SIGNAL"),
        ("Node ID", "NODE_ID"),
        ("größe", "GR__E"),
        ("1st", "META_1ST"),
        ("_hidden", "META__HIDDEN"),
        ("", "META_"),
        ("message", "META_MESSAGE"),
        ("priority", "META_PRIORITY"),
        ("syslog_identifier", "META_SYSLOG_IDENTIFIER"),
        ("code.file", "META_CODE_FILE"),
        ("cohort.logger", "META_COHORT_LOGGER"),
    ])
    func metadataKeysBecomeValidFieldNames(key: String, name: String) {
        #expect(JournalField.name(forMetadataKey: key) == name)
    }

    @Test func fieldNamesAreCutTo64Characters() {
        let name = JournalField.name(forMetadataKey: String(repeating: "a.", count: 50))
        #expect(name.count == 64)
        #expect(name.allSatisfy { $0 == "A" || $0 == "_" })
    }

    @Test func metadataValuesAreFlattened() {
        let metadata: Logger.Metadata = [
            "peer": ["addr": "127.0.0.2:7946", "node": ["name": "b"]],
            "voters": ["a", "b", "c"],
            "listen": .stringConvertible(Port(number: 7946)),
            "empty": [],
            "nested": [["k": "v"], "x"],
        ]
        let fields = JournaldLogHandler.fields(for: event(), label: "l", identifier: "cohortd", metadata: metadata)
        let metadataFields = Array(fields.dropFirst(8))  // After the eight fixed fields.
        #expect(metadataFields == [
            JournalField("EMPTY", "[]"),
            JournalField("LISTEN", "port 7946"),
            JournalField("NESTED", "[{k: v}, x]"),
            JournalField("PEER_ADDR", "127.0.0.2:7946"),
            JournalField("PEER_NODE_NAME", "b"),
            JournalField("VOTERS", "[a, b, c]"),
        ])
    }

    @Test func nestedNamesCannotSpellAReservedField() {
        let fields = JournalField.fields(forMetadataKey: "syslog", value: ["identifier": "fake", "facility": [:]])
        #expect(fields == [JournalField("META_SYSLOG_FACILITY", "{}"), JournalField("META_SYSLOG_IDENTIFIER", "fake")])
    }

    @Test func fixedFieldsComeFirstAndCarryTheSourceLocationAndLabel() {
        let fields = JournaldLogHandler.fields(
            for: event(.warning, "suspect b\nsecond line"), label: "cohort.gossip", identifier: "cohortd",
            metadata: ["peer": "b"]
        )
        #expect(fields == [
            JournalField("MESSAGE", "suspect b\nsecond line"),
            JournalField("PRIORITY", "4"),
            JournalField("SYSLOG_IDENTIFIER", "cohortd"),
            JournalField("CODE_FILE", "Gossip/GossipService.swift"),
            JournalField("CODE_LINE", "42"),
            JournalField("CODE_FUNC", "handle(_:)"),
            JournalField("COHORT_LOGGER", "cohort.gossip"),
            JournalField("COHORT_SOURCE", "Gossip"),
            JournalField("PEER", "b"),
        ])
        #expect(fields[0].description == "MESSAGE=suspect b\nsecond line")
    }

    @Test func metadataCannotReplaceTheMessageOrPriority() {
        let fields = JournaldLogHandler.fields(
            for: event(.error, "real"), label: "l", identifier: "cohortd", metadata: ["message": "fake", "PRIORITY": "7"]
        )
        #expect(fields.filter { $0.name == "MESSAGE" } == [JournalField("MESSAGE", "real")])
        #expect(fields.filter { $0.name == "PRIORITY" } == [JournalField("PRIORITY", "3")])
        #expect(value("META_MESSAGE", in: fields) == "fake")
        #expect(value("META_PRIORITY", in: fields) == "7")
    }

    @Test func eventMetadataOverridesHandlerMetadataAndErrorsAreAdded() {
        var handler = JournaldLogHandler(label: "cohort.raft", metadataProvider: nil)
        handler[metadataKey: "node"] = "a"
        handler[metadataKey: "raft.term"] = "3"
        let merged = handler.effectiveMetadata(for: event(metadata: ["raft.term": "4"], error: DiskFull()))
        #expect(merged["node"] == "a")
        #expect(merged["raft.term"] == "4")
        #expect(merged["error.message"] == "DiskFull()")
        #expect(merged["error.type"]?.description.hasSuffix("DiskFull") == true)
        let fields = JournaldLogHandler.fields(for: event(), label: handler.label, identifier: handler.identifier, metadata: merged)
        #expect(value("ERROR_MESSAGE", in: fields) == "DiskFull()")
        #expect(value("RAFT_TERM", in: fields) == "4")
    }

    @Test func metadataProviderSitsBetweenHandlerAndEventMetadata() {
        let provider = Logger.MetadataProvider { ["request": "r1", "node": "from-provider"] }
        var handler = JournaldLogHandler(label: "l", metadataProvider: provider)
        handler.metadata = ["node": "a", "zone": "z1"]
        let merged = handler.effectiveMetadata(for: event(metadata: ["request": "r2"]))
        #expect(merged == ["node": "from-provider", "zone": "z1", "request": "r2"])
    }
}
