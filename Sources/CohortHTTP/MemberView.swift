import Cohort
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Gossip
import Hummingbird

/// One member as `GET /v1/members` reports it.
struct MemberView: Codable, Sendable {
    /// Cohort's metadata, decoded; absent for a foreign (e.g. Go memberlist) peer.
    struct Meta: Codable, Sendable {
        var internodePort: UInt16
        var role: String
        var raftEligible: Bool
        var raftPriority: UInt16
        var failureDomain: String
        var bootstrap: String
        var bootstrapExpect: UInt16
        var incarnation: UInt64
        var version: String

        enum CodingKeys: String, CodingKey {
            case role, incarnation, version, bootstrap
            case internodePort = "internode_port"
            case raftEligible = "raft_eligible"
            case raftPriority = "raft_priority"
            case failureDomain = "failure_domain"
            case bootstrapExpect = "bootstrap_expect"
        }
    }

    var name: String
    var address: String
    var state: String
    var incarnation: UInt32
    var meta: Meta?
    var metaHex: String?

    enum CodingKeys: String, CodingKey {
        case name, address, state, incarnation, meta
        case metaHex = "meta_hex"
    }

    /// `a.b.c.d` for IPv4, `[x:y:…]` for IPv6.
    static func host(_ ip: [UInt8]) -> String {
        if ip.count == 4 { return ip.map { String($0) }.joined(separator: ".") }
        var groups: [String] = []
        var index = 0
        while index + 1 < ip.count {
            let group = UInt16(ip[index]) << 8 | UInt16(ip[index + 1])
            groups.append(String(group, radix: 16))
            index += 2
        }
        return "[" + groups.joined(separator: ":") + "]"
    }

    init(_ member: Member) {
        name = member.name.rawValue
        address = "\(Self.host(member.ip)):\(member.port)"
        state = "\(member.state)"
        incarnation = member.incarnation
        if let decoded = try? NodeMeta(decoding: member.meta) {
            meta = Meta(
                internodePort: decoded.internodePort,
                role: decoded.role == .client ? "client" : "server",
                raftEligible: decoded.raftEligible, raftPriority: decoded.raftPriority,
                failureDomain: decoded.failureDomain,
                bootstrap: decoded.bootstrapStatus == .pre ? "pre" : "in",
                bootstrapExpect: decoded.bootstrapExpect, incarnation: decoded.bootID, version: decoded.buildVersion
            )
        } else if !member.meta.isEmpty {
            metaHex = member.meta.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
    }
}
