import Cohort
import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird

/// `POST /v1/pg/{scope}/{group}/join` and `.../leave`: `{"pids": ["<pid>", ...]}`.
struct GroupMembershipRequest: Decodable {
    var pids: [String]
}

/// `POST /v1/pg/{scope}/{group}/broadcast`: a message as `/v1/send` takes one (`payload` text or
/// `payload_b64`), to this node's members only when `local` is true.
struct GroupBroadcastRequest: Decodable {
    var topic: String?
    var payload: String?
    var payloadBase64: String?
    var local: Bool?
    var from: String?

    enum CodingKeys: String, CodingKey {
        case topic, payload, local, from
        case payloadBase64 = "payload_b64"
    }
}

/// `{"members": [pids]}`: a group's members with multiplicity, sorted.
struct GroupMembersView: Encodable {
    var members: [String]

    init(_ pids: [PID]) {
        members = pids.map(\.description)
    }
}

/// `{"groups": [names]}`: the groups of a scope, or of one process.
struct GroupNamesView: Encodable {
    var groups: [String]
}

/// `{"scopes": [names]}`: the configured scopes, in `pg.scopes` order.
struct GroupScopesView: Encodable {
    var scopes: [String]
}

/// `{"recipients": n}`: how many processes a broadcast was sent to.
struct GroupBroadcastReply: Encodable {
    var recipients: Int
}

/// The Server-Sent Events of a group monitor (`group` set) or a scope monitor (`group` nil).
///
/// Group stream: `snapshot` and `resync` carry `{"members": [pids]}`, `join` and `leave` `{"pids": [pids]}`.
/// Scope stream: `snapshot` and `resync` carry `{"groups": {"<group>": [pids]}}`, `join` and `leave`
/// `{"group": "<group>", "pids": [pids]}`. PIDs come with multiplicity.
struct GroupStreamFrames {
    /// The monitored group; nil for the whole scope.
    let group: String?

    private struct Change: Encodable {
        var group: String?
        var pids: [String]
    }

    private struct ScopeMembership: Encodable {
        var groups: [String: [String]]
    }

    /// The first event: the membership when the monitor was taken.
    func snapshot(_ membership: [String: [PID]]) throws -> ByteBuffer {
        try frame("snapshot", membership: membership)
    }

    /// A change, or a fresh membership after the monitor fell behind.
    func event(_ event: GroupMonitorEvent) throws -> ByteBuffer {
        switch event {
        case .join(let changed, let pids): try frame("join", Change(group: group == nil ? changed : nil, pids: pids.map(\.description)))
        case .leave(let changed, let pids): try frame("leave", Change(group: group == nil ? changed : nil, pids: pids.map(\.description)))
        case .resync(let membership): try frame("resync", membership: membership)
        }
    }

    private func frame(_ kind: String, membership: [String: [PID]]) throws -> ByteBuffer {
        if let group {
            return try frame(kind, GroupMembersView(membership[group] ?? []))
        }
        return try frame(kind, ScopeMembership(groups: membership.mapValues { $0.map(\.description) }))
    }

    private func frame(_ kind: String, _ data: some Encodable) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(data), as: UTF8.self)
        return ByteBuffer(string: "event: \(kind)\ndata: \(json)\n\n")
    }
}
