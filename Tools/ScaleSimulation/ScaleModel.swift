import GossipCore

#if canImport(Glibc)
import func Glibc.log
#elseif canImport(Darwin)
import func Darwin.log
#endif

/// What memberlist's and Raft's designs predict for a cluster of `size`, from the settings: the figures
/// the scale run is compared with.
struct ScaleModel: Sendable {
    let configuration: ScaleConfiguration
    let size: Int

    var settings: SWIMSettings { configuration.settings }

    /// memberlist's shortest suspicion timeout: mult × max(1, log10 N) × probe interval.
    var suspicionMinimum: Duration {
        SWIMTiming.suspicionMinimum(multiplier: settings.suspicionMultiplier, members: size, probeInterval: settings.probeInterval)
    }

    /// The longest: `suspicionMaxTimeoutMultiplier` × the shortest.
    var suspicionMaximum: Duration { suspicionMinimum * settings.suspicionMaxTimeoutMultiplier }

    /// A crash declared dead everywhere: a survivor probes the crashed node within about one probe interval
    /// (N survivors each probe one of N−1 members per interval), its probe round fails within one more, and
    /// with enough independent confirmations every survivor's suspicion timer runs its minimum.
    var crashToDead: Duration { settings.probeInterval * 2 + suspicionMinimum }

    /// Rounds for one rumor to reach everyone by push gossip to `gossipNodes` random members per round
    /// (Pittel): log_{k+1} N + ln N ÷ k.
    var disseminationRounds: Double {
        let n = Double(size), k = Double(settings.gossipNodes)
        return log(n) / log(k + 1) + log(n) / k
    }

    /// The scaled push/pull interval.
    var pushPullInterval: Duration { SWIMTiming.pushPullInterval(settings.pushPullInterval, members: size) }

    /// An idle node's gossip packets per second: one ping per probe interval and one ack for the ping it
    /// receives in return (each node is probed once per interval on average), plus a push/pull it opens and
    /// one it answers per push/pull interval.
    var nodeGossipPacketsPerSecond: Double {
        2 / seconds(settings.probeInterval) + 2 / seconds(pushPullInterval)
    }

    /// The Raft leader's messages per second: a heartbeat per interval to every other voter, every
    /// `standbyHeartbeatRounds`-th one to each standby. Independent of N: only the ≤ 9 members take part.
    func raftLeaderMessagesPerSecond(voters: Int, standbys: Int) -> Double {
        let heartbeat = seconds(configuration.raftHeartbeat)
        return Double(voters - 1) / heartbeat + Double(standbys) / (heartbeat * Double(configuration.raftStandbyHeartbeatRounds))
    }
}

/// A duration in seconds.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
