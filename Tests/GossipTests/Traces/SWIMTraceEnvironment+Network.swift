import CohortCore
import CohortTestKit
import Gossip
@testable import GossipCore

/// Running the clock, handing inputs to cores and carrying out their effects.
extension SWIMTraceEnvironment {
    /// Runs every timer due up to `now + duration`, delivering what the nodes send at the instant they send
    /// it. Returns what happened, in order.
    mutating func advance(by duration: Duration, quiet: Bool) throws(TraceError) -> [String] {
        printsTraffic = !quiet
        defer { printsTraffic = true }
        let end = now + duration
        var lines: [String] = []
        var ticksAtThisInstant = 0
        while let next = nextEvent, next <= end {
            ticksAtThisInstant = next > now ? 0 : ticksAtThisInstant + 1
            // A tick may leave work due at once; a timer that keeps asking is a bug in `nextDeadline`.
            guard ticksAtThisInstant < 10 else {
                throw TraceError("a timer keeps firing at \(SWIMTraceFormat.time(now, since: origin))")
            }
            now = max(now, next)
            for name in names where !nodes[name]!.isStopped && nodes[name]!.instance.nextDeadline <= now {
                lines += step(name) { instance, generator, now in instance.tick(now: now, using: &generator) }
                lines += deliverInFlight()
            }
            // An unanswered TCP ping fails at its deadline, after the timers due at that instant: the core
            // waits for a pending TCP ping past the end of its round, so a helper's nack due then still counts.
            while let index = unansweredTCPPings.firstIndex(where: { $0.deadline <= now }) {
                let ping = unansweredTCPPings.remove(at: index)
                guard !nodes[ping.prober]!.isStopped else { continue }
                if printsTraffic {
                    let time = SWIMTraceFormat.time(now, since: origin)
                    lines.append("\(time) \(ping.prober): TCP ping \(ping.target) #\(ping.sequenceNumber) timed out")
                }
                lines += step(ping.prober) { instance, _, now in
                    instance.tcpPingCompleted(sequenceNumber: ping.sequenceNumber, reachable: false, now: now)
                }
                lines += deliverInFlight()
            }
        }
        now = end
        return lines
    }

    /// Gives node `name` an input and returns what it printed: how its view changed, then what it sent.
    mutating func step(
        _ name: NodeID,
        _ body: (inout SWIMInstance, inout SplitMix64, ContinuousClock.Instant) -> [SWIMEffect]
    ) -> [String] {
        var node = nodes[name]!
        let before = SWIMNodeView(node.instance)
        let effects = body(&node.instance, &node.generator, now)
        nodes[name] = node
        let prefix = SWIMTraceFormat.time(now, since: origin)
        var lines = before.changes(to: SWIMNodeView(node.instance), origin: origin).map { "\(prefix) \($0)" }
        for effect in effects { lines += perform(effect, by: name) }
        return lines
    }

    /// Carries out one effect of node `name`.
    private mutating func perform(_ effect: SWIMEffect, by name: NodeID) -> [String] {
        let prefix = SWIMTraceFormat.time(now, since: origin)
        switch effect {
        case .send(let messages, let address):
            guard let receiver = nameByIP[address.ip] else { return ["\(prefix) \(name): sends to an unknown address"] }
            let summary = "\(prefix) \(name)→\(receiver) " + messages.map(SWIMTraceFormat.describe).joined(separator: ", ")
            if isLost(from: name, to: receiver) { return printsTraffic ? [summary + " (lost)"] : [] }
            do {
                let packet = try encoder.seal(messages, peerProtocolMax: address.protocolMax)
                let decoded = try decoder.decode(packet)
                inFlight.append(SWIMTraceDatagram(from: name, to: receiver, messages: decoded.messages))
                return printsTraffic ? [summary] : []
            } catch {
                return [summary + " (undecodable: \(error))"]
            }
        case .tcpPing(let ping, let address, let deadline):
            guard let target = nameByIP[address.ip] else { return ["\(prefix) \(name): TCP-pings an unknown address"] }
            let line = "\(prefix) \(name) TCP-pings \(target) #\(ping.sequenceNumber)"
            guard !isLost(from: name, to: target), !isLost(from: target, to: name) else {
                // Nothing answers: the shell reports the failure at the ping's deadline.
                unansweredTCPPings.append(
                    SWIMTraceTCPPing(prober: name, target: target, sequenceNumber: ping.sequenceNumber, deadline: deadline)
                )
                return printsTraffic ? [line] : []
            }
            let reaction = step(name) { instance, _, now in
                instance.tcpPingCompleted(sequenceNumber: ping.sequenceNumber, reachable: true, now: now)
            }
            return (printsTraffic ? [line + ": answered"] : []) + reaction
        case .pushPull(let address):
            return ["\(prefix) \(name): push/pull with \(address.name?.rawValue ?? "?") (not run: push/pull is off)"]
        case .event:
            return []  // the view changes say the same, for suspicions too
        case .udpUnreachable(let target):
            return ["\(prefix) \(name): \(target) answers over TCP only"]
        case .probeCompleted(let target, let result):
            return printsTraffic ? ["\(prefix) \(name): probe of \(target) ended: \(result.rawValue)"] : []
        }
    }

    /// Hands every datagram in flight to its receiver, oldest first, until none is left.
    private mutating func deliverInFlight() -> [String] {
        var lines: [String] = []
        while !inFlight.isEmpty {
            let datagram = inFlight.removeFirst()
            guard !nodes[datagram.to]!.isStopped else { continue }
            let source = nodes[datagram.from]!.address
            lines += step(datagram.to) { instance, generator, now in
                datagram.messages.flatMap { instance.receive($0, from: source, now: now, using: &generator) }
            }
        }
        return lines
    }

    /// The earliest timer of a running node or TCP ping timeout.
    private var nextEvent: ContinuousClock.Instant? {
        let timers = names.filter { !nodes[$0]!.isStopped }.map { nodes[$0]!.instance.nextDeadline }
        return (timers + unansweredTCPPings.map(\.deadline)).min()
    }

    /// True when traffic from `sender` to `receiver` is lost: a drop rule, or a stopped receiver.
    private func isLost(from sender: NodeID, to receiver: NodeID) -> Bool {
        nodes[receiver]?.isStopped != false || dropRules.contains { $0.matches(from: sender, to: receiver) }
    }
}
