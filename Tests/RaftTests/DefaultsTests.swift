import RaftCore
import Testing

@Suite("Raft settings")
struct RaftSettingsTests {
    @Test("defaults are pinned so the docs cannot drift")
    func defaults() {
        let settings = RaftNodeSettings()
        #expect(settings.electionTicks == 10)
        #expect(settings.heartbeatTicks == 1)
        #expect(settings.maxEntriesPerAppend == 64)
        #expect(settings.maxBytesPerAppend == 1 << 20)
        #expect(settings.maxInflightAppends == 2)
        #expect(settings.preVote && settings.checkQuorum)
        #expect(settings.snapshotTimeoutTicks == 50)
    }
}
