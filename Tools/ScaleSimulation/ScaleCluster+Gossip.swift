import CohortCore
import CohortTestKit
import Gossip
import GossipCore
import NIOCore

/// Carrying out the SWIM cores' effects and handing them what arrives, as the gossip shell does.
extension ScaleCluster {
    /// Carries out `effects` of node `index`.
    mutating func perform(_ effects: [SWIMEffect], by index: Int) {
        let name = nodes[index].name
        for effect in effects {
            switch effect {
            case .send(let messages, let address):
                guard let target = indexByAddress[address.ip] else { continue }
                let encoded = messages.map { encodedMessage($0) }
                guard let packet = try? packetEncoder.seal(encoded, peerProtocolMax: address.protocolMax) else {
                    undecodable += 1
                    continue
                }
                nodes[index].traffic.datagrams += 1
                nodes[index].traffic.gossipMessages += messages.count
                nodes[index].traffic.broadcasts += messages.reduce(0) { $0 + (Self.isBroadcast($1) ? 1 : 0) }
                nodes[index].traffic.gossipBytes += packet.readableBytes
                network.send(.datagram(packet), from: name, to: nodes[target].name)
            case .tcpPing(let ping, let address, let deadline):
                guard let target = indexByAddress[address.ip] else { continue }
                if let bytes = encode(.ping(ping)), sendStream(.tcpPing(bytes), bytes: bytes.readableBytes, from: index, to: target) {
                    nodes[index].pendingTCPPings[ping.sequenceNumber] = deadline
                } else {
                    // Connection refused: the shell reports the failure at once.
                    let effects = nodes[index].instance?.tcpPingCompleted(
                        sequenceNumber: ping.sequenceNumber, reachable: false, now: network.now
                    )
                    perform(effects ?? [], by: index)
                }
            case .pushPull(let address):
                if let target = indexByAddress[address.ip] { pushPull(from: index, to: target, join: false) }
            case .event(let event):
                guard case .left(let member, let reason) = event, reason == .dead else { continue }
                noteDeath(of: member.name, seenBy: index)
            case .udpUnreachable, .probeCompleted:
                break
            }
        }
    }

    /// Opens a push/pull from `initiator` to `responder` with the initiator's state; false when refused.
    @discardableResult
    mutating func pushPull(from initiator: Int, to responder: Int, join: Bool) -> Bool {
        guard let state = nodes[initiator].instance?.localState(join: join), let bytes = encode(.pushPull(state)) else {
            return false
        }
        return sendStream(.pushPull(bytes), bytes: bytes.readableBytes, from: initiator, to: responder)
    }

    private mutating func sendStream(_ payload: ScaleTraffic, bytes: Int, from index: Int, to target: Int) -> Bool {
        guard network.sendReliably(payload, from: nodes[index].name, to: nodes[target].name) else { return false }
        nodes[index].traffic.streams += 1
        nodes[index].traffic.gossipBytes += bytes
        return true
    }

    /// Hands a delivery to its destination, as the gossip shell's UDP and TCP handlers (or the mesh, for Raft)
    /// would.
    mutating func deliver(_ delivery: NetworkDelivery<NodeID, ScaleTraffic>) {
        guard let index = indexByName[delivery.to], let sender = indexByName[delivery.from], nodes[index].isRunning else { return }
        let now = network.now
        let hadRumor = hasRumor(index)
        switch delivery.payload {
        case .datagram(let bytes):
            guard let packet = try? packetDecoder.decode(bytes), packet.droppedParts.isEmpty else {
                undecodable += 1
                break
            }
            for message in packet.messages {
                perform(nodes[index].receive(message, from: nodes[sender].address, now: now), by: index)
            }
        case .tcpPing(let bytes):
            // memberlist answers a TCP ping addressed to it with an ack on the same connection.
            guard case .ping(let ping)? = decode(bytes), ping.node.isEmpty || ping.node == delivery.to.rawValue,
                  let reply = encode(.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber)))
            else { break }
            _ = sendStream(.tcpAck(reply), bytes: reply.readableBytes, from: index, to: sender)
        case .tcpAck(let bytes):
            guard case .ackResponse(let ack)? = decode(bytes),
                  let deadline = nodes[index].pendingTCPPings.removeValue(forKey: ack.sequenceNumber)
            else { break }
            let effects = nodes[index].instance?.tcpPingCompleted(sequenceNumber: ack.sequenceNumber, reachable: now <= deadline, now: now)
            perform(effects ?? [], by: index)
        case .pushPull(let bytes):
            // memberlist's order: read the remote state, send ours, then merge theirs.
            guard case .pushPull(let remote)? = decode(bytes), let instance = nodes[index].instance,
                  let reply = encode(.pushPull(instance.localState(join: remote.join)))
            else { break }
            _ = sendStream(.pushPullReply(reply), bytes: reply.readableBytes, from: index, to: sender)
            merge(remote, into: index, now: now)
        case .pushPullReply(let bytes):
            guard case .pushPull(let remote)? = decode(bytes) else { break }
            merge(remote, into: index, now: now)
        case .raft(let bytes):
            receiveRaft(bytes, at: index)
        }
        if !hadRumor, hasRumor(index) { noteRumor(at: index, from: sender) }
        rearm(index)
    }

    private mutating func merge(_ remote: PushPullMessage, into index: Int, now: ContinuousClock.Instant) {
        do {
            perform(try nodes[index].merge(remote, now: now), by: index)
        } catch {
            mergeRefusals += 1
        }
    }

    // MARK: What the scenario follows

    private mutating func noteDeath(of subject: NodeID, seenBy observer: Int) {
        guard var record = victims[subject] else {
            falseDeaths += 1
            return
        }
        guard record.declaredBy.insert(observer).inserted else { return }
        record.first = record.first ?? elapsed
        record.last = elapsed
        victims[subject] = record
    }

    /// True when node `index` has the rumor being followed.
    func hasRumor(_ index: Int) -> Bool {
        guard let rumor else { return false }
        return (nodes[index].instance?.members[rumor.subject]?.incarnation ?? 0) >= rumor.incarnation
    }

    private mutating func noteRumor(at index: Int, from sender: Int) {
        guard rumor != nil, rumor!.hops[index] == nil else { return }
        rumor!.hops[index] = (rumor!.hops[sender] ?? 0) + 1
        rumor!.arrivedAt[index] = elapsed
        rumor!.reached += 1
    }

    /// Starts a rumor: node `index` announces new metadata (an alive with a higher incarnation).
    mutating func startRumor(at index: Int) {
        nodes[index].instance?.updateLocalMeta([1])
        guard let incarnation = nodes[index].instance?.localMember.incarnation else { return }
        var hops = [Int?](repeating: nil, count: nodes.count), arrived = [Duration?](repeating: nil, count: nodes.count)
        hops[index] = 0
        arrived[index] = elapsed
        rumor = Rumor(subject: nodes[index].name, incarnation: incarnation, startedAt: elapsed, hops: hops, arrivedAt: arrived)
        rearm(index)
    }

    // MARK: Codecs

    static func isBroadcast(_ message: GossipMessage) -> Bool {
        switch message {
        case .alive, .suspect, .dead, .user: true
        default: false
        }
    }

    /// The real encoder's bytes for `message`; membership broadcasts are encoded once and reused (encoding is a
    /// pure function; every datagram is still sealed and decoded for real).
    private mutating func encodedMessage(_ message: GossipMessage) -> ByteBuffer {
        switch message {
        case .alive, .suspect, .dead:
            if let bytes = encodedBroadcasts[message] { return bytes }
            let bytes = message.encodedMessage()
            encodedBroadcasts[message] = bytes
            return bytes
        default:
            return message.encodedMessage()
        }
    }

    private mutating func encode(_ message: StreamMessage) -> ByteBuffer? {
        guard let bytes = try? streamEncoder.encode(message) else {
            undecodable += 1
            return nil
        }
        return bytes
    }

    private mutating func decode(_ bytes: ByteBuffer) -> StreamMessage? {
        var buffer = bytes
        guard let message = try? streamDecoder.decode(&buffer, endOfInput: true), buffer.readableBytes == 0 else {
            undecodable += 1
            return nil
        }
        return message
    }
}
