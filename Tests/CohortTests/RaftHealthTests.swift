@testable import Cohort
import CohortCore
import Observability
import Raft
import Testing

@Suite("Raft health checks")
struct RaftHealthTests {
    func status(_ state: RaftStatus.State, _ role: RaftStatus.Membership, leader: String? = nil) -> RaftStatus {
        RaftStatus(
            state: state, term: 3, leader: leader.map { NodeID($0) }, commitIndex: 0, appliedIndex: 0, lastLogIndex: 0,
            role: role, voters: [NodeID("n1"), NodeID("n2"), NodeID("n3")], standbys: [NodeID("n4")]
        )
    }

    @Test("raft.last_contact: a voter fails after 30 s without its leader, a standby after 5 min; leaders and clients always pass")
    func lastContact() {
        let voter = status(.follower, .voter)
        #expect(RaftHealth.liveness(voter, sinceContact: .seconds(29)) == .ok)
        #expect(!RaftHealth.liveness(voter, sinceContact: .seconds(31)).isPassing)
        let standby = status(.follower, .standby)
        #expect(RaftHealth.liveness(standby, sinceContact: .seconds(299)) == .ok)
        #expect(!RaftHealth.liveness(standby, sinceContact: .seconds(301)).isPassing)
        #expect(RaftHealth.liveness(status(.leader, .voter), sinceContact: .seconds(3600)) == .ok)
        #expect(RaftHealth.liveness(status(.follower, .client), sinceContact: .seconds(3600)) == .ok)
        // A candidate voter is judged like a follower: campaigning for a minute is a failure.
        #expect(!RaftHealth.liveness(status(.candidate, .voter), sinceContact: .seconds(60)).isPassing)
        if case .fail(let why) = RaftHealth.liveness(voter, sinceContact: .seconds(45)) {
            #expect(why.contains("45s") && why.contains("voter"))
        }
    }

    @Test("readiness: restored and, on a member, a leader known")
    func readiness() {
        #expect(!RaftHealth.readiness(status(.none, .client)).isPassing)
        #expect(RaftHealth.readiness(status(.follower, .client)) == .ok)
        #expect(!RaftHealth.readiness(status(.follower, .voter)).isPassing)
        #expect(RaftHealth.readiness(status(.follower, .voter, leader: "n1")) == .ok)
        #expect(!RaftHealth.readiness(status(.candidate, .standby)).isPassing)
    }
}

@Suite("The leader's replication view, as the reconciler reads it")
struct ReplicationViewTests {
    @Test("caught up: acknowledged something, within 250 entries, heard within 2 heartbeats; silent: nothing for an election timeout")
    func classification() {
        let view = ReplicationView(
            lastIndex: 1000, heartbeatInterval: .milliseconds(500), electionTimeout: .seconds(2),
            peers: [
                NodeID("close"): .init(match: 800, sinceContact: .milliseconds(500)),
                NodeID("edge"): .init(match: 750, sinceContact: .seconds(1)),
                NodeID("behind"): .init(match: 749, sinceContact: .zero),
                NodeID("quiet"): .init(match: 1000, sinceContact: .milliseconds(1500)),
                NodeID("gone"): .init(match: 1000, sinceContact: .milliseconds(2500)),
            ]
        )
        #expect(view.caughtUp() == [NodeID("close"), NodeID("edge")])
        #expect(view.silent() == [NodeID("gone")])
        // A peer that never acknowledged anything is not caught up, however short the log.
        let fresh = ReplicationView(
            lastIndex: 3, heartbeatInterval: .milliseconds(500), electionTimeout: .seconds(2),
            peers: [NodeID("new"): .init(match: 0, sinceContact: .zero), NodeID("old"): .init(match: 3, sinceContact: .zero)]
        )
        #expect(fresh.caughtUp() == [NodeID("old")])
    }

    @Test("a standby heartbeated every 2 s is caught up if heard within 4 s, and silent only after 4 s")
    func standbysHeardLessOften() {
        let view = ReplicationView(
            lastIndex: 10, heartbeatInterval: .milliseconds(500), electionTimeout: .seconds(2),
            peers: [
                NodeID("standby"): .init(match: 10, sinceContact: .seconds(3), heartbeatInterval: .seconds(2)),
                NodeID("late-standby"): .init(match: 10, sinceContact: .milliseconds(4500), heartbeatInterval: .seconds(2)),
                NodeID("voter"): .init(match: 10, sinceContact: .seconds(3)),
            ]
        )
        #expect(view.caughtUp() == [NodeID("standby")])
        #expect(view.silent() == [NodeID("late-standby"), NodeID("voter")])
    }
}
