import CohortCore
import Gossip
import Testing

/// The documented defaults of the gossip shell's settings, pinned so docs and code cannot drift.
@Suite("GossipServiceSettings")
struct ServiceSettingsTests {
    @Test func defaultsAreTheDocumentedOnes() {
        let settings = GossipServiceSettings(name: NodeID("n1"))
        #expect(settings.bindHost == "0.0.0.0")
        #expect(settings.bindPort == 7946)
        #expect(settings.advertiseHost == nil && settings.advertisePort == nil)
        #expect(settings.joinAddresses.isEmpty)
        #expect(settings.keyring.isEmpty)
        #expect(settings.swim == .lan)
        #expect(settings.rejoinInterval == .seconds(30))
        #expect(settings.compression)
        #expect(settings.meta.isEmpty)
        #expect(settings.tcpTimeout == .seconds(10))
        #expect(settings.joinBackoffInitial == .milliseconds(500))
        #expect(settings.joinBackoffMaximum == .seconds(8))
        #expect(settings.leaveTimeout == .seconds(1))
    }

    @Test func errorsNameTheSettingAndTheFix() {
        #expect("\(GossipServiceError.invalidKey(size: 3))".contains("16, 24 or 32"))
        #expect("\(GossipServiceError.bindFailed(address: "1.2.3.4:7946", reason: "in use"))".contains("bind_addr"))
        #expect("\(GossipServiceError.invalidAdvertiseAddress("x:0"))".contains("advertise_addr"))
    }
}
