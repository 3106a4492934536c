import CohortTestKit
import Testing

/// The SWIM core's stories as data-driven traces (`Traces/testdata/*.txt`), one test per file. Each file
/// reads top to bottom as commands and the output they must print; run with `COHORT_REWRITE_TRACES=1` to
/// write the actual output into the files instead, then read the `git diff`.
@Suite("SWIM traces")
struct SWIMTraceTests {
    @Test("Lifeguard: a silent member is suspected, confirmations shorten its timer, it is declared dead; a deaf prober's awareness rises")
    func lifeguardSuspicion() {
        checkTrace("lifeguard_suspicion.txt", in: SWIMTraceEnvironment())
    }

    @Test("refutation: a suspect that hears the accusation bumps its incarnation and is alive again everywhere")
    func refutedSuspicion() {
        checkTrace("suspicion_refuted.txt", in: SWIMTraceEnvironment())
    }
}
