import CohortCore
import CohortTestKit
import Gossip
import NIOCore

/// Carrying out the cores' effects, and handing them what arrives: the shell's half of the simulation.
extension SWIMCluster {
    /// Carries out `effects` of node `index`.
    mutating func perform(_ effects: [SWIMEffect], by index: Int) {
        let name = nodes[index].name
        for effect in effects {
            switch effect {
            case .send(let messages, let address):
                guard let target = indexByAddress[address.ip] else { continue }
                noteAccusations(in: messages, sentBy: name)
                let encoded = messages.map { encodedMessage($0) }
                guard let packet = try? packetEncoder.seal(encoded, peerProtocolMax: address.protocolMax) else {
                    undecodable += 1
                    continue
                }
                network.send(.datagram(packet), from: name, to: nodes[target].name)
            case .tcpPing(let ping, let address, let deadline):
                guard let target = indexByAddress[address.ip] else { continue }
                let sent = encode(.ping(ping)).map { network.sendReliably(.tcpPing($0), from: name, to: nodes[target].name) }
                if sent == true {
                    nodes[index].pendingTCPPings[ping.sequenceNumber] = deadline
                } else {
                    // Connection refused: the shell reports the failure at once.
                    let now = network.now
                    let effects = nodes[index].instance?.tcpPingCompleted(
                        sequenceNumber: ping.sequenceNumber, reachable: false, now: now
                    )
                    perform(effects ?? [], by: index)
                }
            case .pushPull(let address):
                if let target = indexByAddress[address.ip] { pushPull(from: index, to: target, join: false) }
            case .event(let event):
                events.append(ObservedEvent(at: elapsed, observer: name, event: event))
                if case .left(let member, let reason) = event, firstDepartures[name]?[member.name] == nil {
                    firstDepartures[name, default: [:]][member.name] = (elapsed, reason)
                }
            case .udpUnreachable(let target):
                udpUnreachable.append((name, target))
            case .probeCompleted:
                break
            }
        }
    }

    /// Opens a push/pull from `initiator` to `responder` with the initiator's state; false when the
    /// connection is refused.
    @discardableResult
    mutating func pushPull(from initiator: Int, to responder: Int, join: Bool) -> Bool {
        guard let state = nodes[initiator].instance?.localState(join: join), let bytes = encode(.pushPull(state)) else {
            return false
        }
        return network.sendReliably(.pushPull(bytes), from: nodes[initiator].name, to: nodes[responder].name)
    }

    /// Hands a delivery to its destination, as the shell's UDP and TCP handlers would.
    mutating func deliver(_ delivery: NetworkDelivery<NodeID, SWIMTraffic>) {
        guard let index = indexByName[delivery.to], let sender = indexByName[delivery.from], nodes[index].isRunning else { return }
        let now = network.now
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
            guard case .ping(let ping)? = decode(bytes) else { break }
            guard ping.node.isEmpty || ping.node == delivery.to.rawValue,
                  let reply = encode(.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber)))
            else { break }
            network.sendReliably(.tcpAck(reply), from: delivery.to, to: delivery.from)
        case .tcpAck(let bytes):
            guard case .ackResponse(let ack)? = decode(bytes),
                  let deadline = nodes[index].pendingTCPPings.removeValue(forKey: ack.sequenceNumber)
            else { break }
            let effects = nodes[index].instance?.tcpPingCompleted(
                sequenceNumber: ack.sequenceNumber, reachable: now <= deadline, now: now
            ) ?? []
            perform(effects, by: index)
        case .pushPull(let bytes):
            // memberlist's order: read the remote state, send ours, then merge theirs.
            guard case .pushPull(let remote)? = decode(bytes), let instance = nodes[index].instance,
                  let reply = encode(.pushPull(instance.localState(join: remote.join)))
            else { break }
            network.sendReliably(.pushPullReply(reply), from: delivery.to, to: delivery.from)
            merge(remote, into: index, now: now)
        case .pushPullReply(let bytes):
            guard case .pushPull(let remote)? = decode(bytes) else { break }
            merge(remote, into: index, now: now)
        }
        afterStep(index, timer: false)
    }

    private mutating func merge(_ remote: PushPullMessage, into index: Int, now: ContinuousClock.Instant) {
        do {
            perform(try nodes[index].merge(remote, now: now), by: index)
        } catch {
            mergeRefusals += 1
        }
    }

    /// The real encoder's bytes for `message`. Membership broadcasts (alive, suspect, dead) are sent up to
    /// `retransmitLimit` times each and encoding them dominates a debug-build run, so their bytes are kept:
    /// encoding is a pure function, and every datagram is still sealed and decoded for real.
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

    /// Records the first time each accusation made by `sender` itself goes out.
    private mutating func noteAccusations(in messages: [GossipMessage], sentBy sender: NodeID) {
        for case .suspect(let suspicion) in messages where suspicion.from == sender.rawValue {
            let accusation = Accusation(accuser: sender, accused: NodeID(suspicion.node), incarnation: suspicion.incarnation)
            if accusations[accusation] == nil { accusations[accusation] = elapsed }
        }
    }
}
