import CohortCore

/// Writes and reads the binary form of ``ProcessSignal`` (version 1, described in `docs/processes.md`).
///
/// Integers are big-endian. Decoding is total: any byte sequence gives a signal or a ``ProcessWireError``, every
/// length is checked against ``ProcessWireLimits`` and against the bytes actually present before anything is copied.
public enum ProcessSignalCodec {
    /// The kind byte of each signal.
    enum Kind: UInt8 {
        case message = 1, monitor, demonitor, down, link, unlink, linkDown, cancel, terminate
    }

    /// Encodes `signal`; fails only when a node name, topic or payload exceeds its limit (reasons are cut instead).
    public static func encode(_ signal: ProcessSignal) throws(ProcessWireError) -> [UInt8] {
        var writer = SignalWriter()
        writer.byte(ProcessWireLimits.version)
        switch signal {
        case .message(let from, let to, let topic, let payload):
            writer.byte(Kind.message.rawValue)
            try writer.optionalPID(from)
            try writer.pid(to)
            try writer.text16(topic, limit: ProcessWireLimits.maxTopicBytes, field: "topic")
            try writer.payload(payload)
        case .monitor(let ref, let watcher, let target):
            writer.byte(Kind.monitor.rawValue)
            try writer.reference(ref)
            try writer.pid(watcher)
            try writer.pid(target)
        case .demonitor(let ref, let target):
            writer.byte(Kind.demonitor.rawValue)
            try writer.reference(ref)
            try writer.pid(target)
        case .down(let ref, let target, let outcome):
            writer.byte(Kind.down.rawValue)
            try writer.reference(ref)
            try writer.pid(target)
            try writer.outcome(outcome)
        case .link(let a, let b):
            writer.byte(Kind.link.rawValue)
            try writer.pid(a)
            try writer.pid(b)
        case .unlink(let a, let b):
            writer.byte(Kind.unlink.rawValue)
            try writer.pid(a)
            try writer.pid(b)
        case .linkDown(let from, let to, let outcome):
            writer.byte(Kind.linkDown.rawValue)
            try writer.pid(from)
            try writer.pid(to)
            try writer.outcome(outcome)
        case .cancel(let target, let reason, let from):
            writer.byte(Kind.cancel.rawValue)
            try writer.pid(target)
            writer.reason(reason)
            try writer.optionalPID(from)
        case .terminate(let target, let from):
            writer.byte(Kind.terminate.rawValue)
            try writer.pid(target)
            try writer.optionalPID(from)
        }
        return writer.bytes
    }

    /// Decodes one whole signal; trailing bytes are an error.
    public static func decode(_ bytes: [UInt8]) throws(ProcessWireError) -> ProcessSignal {
        guard let version = bytes.first else { throw .empty }
        guard version == ProcessWireLimits.version else { throw .unsupportedVersion(version) }
        var reader = SignalReader(bytes: bytes, skipping: 1)
        let kindByte = try reader.byte()
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        let signal: ProcessSignal
        switch kind {
        case .message:
            let from = try reader.optionalPID()
            let to = try reader.pid()
            let topic = try reader.text16(limit: ProcessWireLimits.maxTopicBytes, field: "topic")
            signal = .message(from: from, to: to, topic: topic, payload: try reader.payload())
        case .monitor:
            signal = .monitor(ref: try reader.reference(), watcher: try reader.pid(), target: try reader.pid())
        case .demonitor:
            signal = .demonitor(ref: try reader.reference(), target: try reader.pid())
        case .down:
            signal = .down(ref: try reader.reference(), target: try reader.pid(), outcome: try reader.outcome())
        case .link:
            signal = .link(try reader.pid(), try reader.pid())
        case .unlink:
            signal = .unlink(try reader.pid(), try reader.pid())
        case .linkDown:
            signal = .linkDown(from: try reader.pid(), to: try reader.pid(), outcome: try reader.outcome())
        case .cancel:
            let target = try reader.pid()
            let reason = try reader.text16(limit: ProcessWireLimits.maxReasonBytes, field: "reason")
            signal = .cancel(target: target, reason: reason, from: try reader.optionalPID())
        case .terminate:
            signal = .terminate(target: try reader.pid(), from: try reader.optionalPID())
        }
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        return signal
    }
}
