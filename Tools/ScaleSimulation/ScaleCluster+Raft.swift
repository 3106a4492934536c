import CohortCore
import RaftCore

/// The Raft members' cores, driven as the Raft shell drives them: a tick per heartbeat interval, every
/// ready's messages sent over the mesh through the real codec. Storage is instant (the scale run measures
/// message rates, not fsyncs), so messages that wait for persistence leave at once.
extension ScaleCluster {
    /// Sends node `index`'s ready, if it has one, and advances.
    mutating func collectRaft(_ index: Int) {
        guard nodes[index].raft?.hasReady == true, let ready = nodes[index].raft?.ready() else { return }
        for outgoing in ready.messages {
            guard let target = indexByName[outgoing.message.to] else { continue }
            let bytes = raftCodec.encode(outgoing.message)
            nodes[index].traffic.raftMessages += 1
            nodes[index].traffic.raftBytes += bytes.count
            // The mesh is TCP: reliable and ordered per link.
            network.sendReliably(.raft(bytes), from: nodes[index].name, to: nodes[target].name)
        }
        nodes[index].raft?.advance()
    }

    /// Steps a Raft message into node `index`'s core.
    mutating func receiveRaft(_ bytes: [UInt8], at index: Int) {
        guard nodes[index].raft != nil else { return }
        guard let message = try? raftCodec.decode(bytes) else {
            undecodable += 1
            return
        }
        nodes[index].raft?.step(message)
        collectRaft(index)
    }
}
