import Testing

/// Seeded random sequences of events against one peer's link state machine (see ``PeerLinkSimulation``
/// for the events and the invariants). A failure names its seed: rerun that seed alone to replay it.
@Suite struct PeerLinkStateMachineSimulationTests {
    @Test func randomEventSequencesKeepTheLinksInvariants() {
        var restarts = 0
        for seed in UInt64(1)...300 {
            var simulation = PeerLinkSimulation(seed: seed)
            simulation.run(steps: 600)
            simulation.heal()
            if simulation.peerRestarted { restarts += 1 }
            #expect(simulation.failures.isEmpty, "\(simulation.failures.joined(separator: "\n"))")
            guard simulation.failures.isEmpty else { return }
        }
        // Both kinds of run happen: with and without a restart of the peer.
        #expect((1..<300).contains(restarts))
    }
}
