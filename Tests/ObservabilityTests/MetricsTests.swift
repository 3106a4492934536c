import Foundation
import Logging
@testable import Observability
import Testing

@Suite struct MetricsTests {
    @Test func renderHasProcessMetricsWithHelpAndCountersAtZero() {
        let metrics = CohortMetrics(version: "9.9.9")
        let text = metrics.render()
        for name in [
            "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
            "process_start_time_seconds", "process_max_fds",
        ] {
            #expect(text.contains("# HELP \(name) "), "missing HELP for \(name)")
            #expect(text.contains("\n\(name) "), "missing sample for \(name)")
        }
        #expect(text.contains(#"cohort_build_info{version="9.9.9"} 1"#))
        #expect(text.contains(#"cohort_admin_requests_total{endpoint="livez"} 0"#))
        #expect(text.contains("cohort_admin_unauthorized_total 0"))
    }

    @Test func processSampleReadsThisProcess() {
        let sample = ProcessSample.current()
        #expect(sample.residentBytes > 1 << 20)
        #expect(sample.openFileDescriptors >= 3)
        #expect(sample.maxFileDescriptors >= sample.openFileDescriptors)
        let now = Date().timeIntervalSince1970
        #expect(sample.startTimeSeconds > now - 3600 && sample.startTimeSeconds <= now + 1)
    }

    @Test func procStatParsingSurvivesSpacesAndParenthesesInTheCommandName() throws {
        // Fields 14, 15 (utime, stime), 22 (starttime), 23 (vsize), 24 (rss).
        let line = "4242 (my (odd) proc) S 1 2 3 4 5 6 7 8 9 10 110 220 0 0 20 0 1 0 5555 123456789 3000 18446744073709551615"
        let stat = try #require(ProcStat(parsing: line))
        #expect(stat.utimeTicks == 110)
        #expect(stat.stimeTicks == 220)
        #expect(stat.startTicks == 5555)
        #expect(stat.virtualBytes == 123_456_789)
        #expect(stat.residentPages == 3000)
        #expect(ProcStat(parsing: "garbage") == nil)
        #expect(ProcStat(parsing: "1 (x) S 1 2") == nil)
    }

    @Test func cpuCounterNeverDecreasesAcrossRenders() {
        let metrics = CohortMetrics(version: "1")
        func cpu(_ text: String) -> Double {
            let line = text.split(separator: "\n").first { $0.hasPrefix("process_cpu_seconds_total ") }
            return Double(line?.split(separator: " ").last ?? "") ?? -1
        }
        let first = cpu(metrics.render())
        var x = 0.0
        for i in 0..<2_000_000 { x += Double(i).squareRoot() }  // burn a little CPU
        #expect(x > 0)
        let second = cpu(metrics.render())
        #expect(first >= 0)
        #expect(second >= first)
    }

    @Test func jsonLogLinesCarryLevelLoggerMessageAndMetadata() throws {
        let line = JSONLogHandler.format(
            date: Date(timeIntervalSince1970: 0), level: .warning, label: "cohortd", message: "hello \"x\"",
            metadata: ["peer": "node-2"], source: "Cohort"
        )
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        #expect(object?["level"] == "warning")
        #expect(object?["logger"] == "cohortd")
        #expect(object?["msg"] == "hello \"x\"")
        #expect(object?["peer"] == "node-2")
        #expect(object?["ts"] == "1970-01-01T00:00:00Z")
        #expect(!line.contains("\n"))
    }
}
