/// A network endpoint as written in the configuration: `host:port`, `[v6]:port`, or just `host` where a
/// default port applies (`join_addrs`).
///
/// `host` is kept as written (an IP address or a DNS name) without brackets; nothing is resolved here.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// The host name or IP address, without IPv6 brackets.
    public var host: String
    /// The TCP/UDP port, 0–65535.
    public var port: Int

    /// Creates an endpoint from its parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`; when the port is omitted, `defaultPort` is used (nil: the port is
    /// required). Returns nil for anything else; the loader gives the detailed error.
    public init?(_ text: String, defaultPort: Int? = nil) {
        guard case .success(let value) = Self.parse(text, defaultPort: defaultPort) else { return nil }
        self = value
    }

    /// `host:port`, with brackets around an IPv6 host.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Why a text is not an endpoint; each case renders as the end of a sentence about the value.
    enum Problem: Error, Equatable {
        case missingPort
        case badPort
        case unbracketedIPv6
        case malformed

        var explanation: String {
            switch self {
            case .missingPort: "has no port; use host:port"
            case .badPort: "has a bad port; the port must be a number up to 65535"
            case .unbracketedIPv6: "is ambiguous; write an IPv6 address in brackets, e.g. [::1]:7946"
            case .malformed: "is not host:port"
            }
        }
    }

    static func parse(_ raw: String, defaultPort: Int?) -> Result<HostPort, Problem> {
        let text = Substring(raw)
        guard !text.contains(where: { $0.isWhitespace || $0 == "/" }) else { return .failure(.malformed) }
        let host: Substring
        let portText: Substring?
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return .failure(.malformed) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                portText = nil
            } else if rest.first == ":" {
                portText = rest.dropFirst()
            } else {
                return .failure(.malformed)
            }
            guard host.contains(":") else { return .failure(.malformed) }
        } else {
            let colons = text.count(where: { $0 == ":" })
            if colons > 1 { return .failure(.unbracketedIPv6) }
            if let colon = text.firstIndex(of: ":") {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            } else {
                host = text
                portText = nil
            }
            guard !host.contains("[") && !host.contains("]") else { return .failure(.malformed) }
        }
        guard let portText else {
            guard let defaultPort else { return .failure(.missingPort) }
            return .success(HostPort(host: String(host), port: defaultPort))
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), port <= 65535
        else { return .failure(.badPort) }
        return .success(HostPort(host: String(host), port: port))
    }
}
