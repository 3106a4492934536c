import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Converting between memberlist's raw addresses (4 or 16 IP bytes and a port) and NIO's, and resolving
/// the names in the settings.
enum GossipAddressing {
    /// The 4 or 16 bytes of an IP socket address; nil for a Unix socket.
    static func packedIP(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4):
            withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        case .unixDomainSocket:
            nil
        }
    }

    /// The socket address of raw IP bytes and a port.
    static func socketAddress(ip: [UInt8], port: UInt16) throws -> SocketAddress {
        try SocketAddress(packedIPAddress: ByteBuffer(bytes: ip), port: Int(port))
    }

    /// True for `0.0.0.0`, `::` and the empty string: bind every interface.
    static func isWildcard(_ host: String) -> Bool {
        host.isEmpty || host == "0.0.0.0" || host == "::" || host == "[::]"
    }

    /// Every address `host` stands for on `port`: an IP literal as is, a name through `getaddrinfo` (all
    /// A and AAAA records, in the resolver's order, without duplicates). The lookup blocks, so it runs on
    /// NIO's blocking thread pool, off the cooperative pool.
    static func resolve(_ host: String, port: Int) async throws -> [SocketAddress] {
        let host = host.isEmpty ? "0.0.0.0" : host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let literal = try? SocketAddress(ipAddress: host, port: port) { return [literal] }
        return try await NIOThreadPool.singleton.runIfActive {
            try lookUp(host, port: port)
        }
    }

    /// The address to advertise when the settings leave it open: the first non-loopback IPv4 address of
    /// the host, else IPv4 loopback (memberlist's `GetPrivateIP` fallback, without the private-range rule).
    static func defaultAdvertiseIP() -> [UInt8] {
        let devices = (try? System.enumerateDevices()) ?? []
        for device in devices {
            guard let address = device.address, case .v4 = address, let ip = packedIP(address) else { continue }
            if ip[0] != 127, ip != [0, 0, 0, 0] { return ip }
        }
        return [127, 0, 0, 1]
    }

    private static func lookUp(_ host: String, port: Int) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = status == 0 ? "no addresses" : String(cString: gai_strerror(status))
            throw GossipServiceError.unresolvable(host: host, reason: reason)
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            guard let raw = info.pointee.ai_addr else { continue }
            let address: SocketAddress
            switch info.pointee.ai_family {
            case AF_INET:
                address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            case AF_INET6:
                address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            default:
                continue
            }
            if !addresses.contains(address) { addresses.append(address) }
        }
        guard !addresses.isEmpty else { throw GossipServiceError.unresolvable(host: host, reason: "no IP addresses") }
        return addresses
    }
}

/// Swallows the non-fatal errors NIO reports on a socket that stays open (an ICMP "port unreachable"
/// surfacing as `ECONNREFUSED` on a UDP socket, `EMFILE` on accept), which would otherwise end the
/// `NIOAsyncChannel` inbound stream and with it the service. Fatal errors close the channel anyway.
final class NonFatalErrorFilter: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any

    private let onError: @Sendable (any Error) -> Void

    init(onError: @escaping @Sendable (any Error) -> Void) {
        self.onError = onError
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        onError(error)
    }
}

extension Channel {
    /// Closes this channel at `deadline` unless it closes first: the bound on one TCP exchange.
    func closeAt(_ deadline: ContinuousClock.Instant) {
        let remaining = max(.zero, ContinuousClock.now.duration(to: deadline))
        let task = eventLoop.scheduleTask(in: TimeAmount(remaining)) { [self] in
            close(promise: nil)
        }
        closeFuture.whenComplete { _ in task.cancel() }
    }
}

/// Takes every datagram the UDP socket reads and hands it to the gossip service on the socket's event
/// loop (the service's executor), instead of passing it on to the `NIOAsyncChannel`'s inbound stream:
/// through the stream, each datagram cost a yield into its buffer and the reading task's resumption. The
/// stream still ends when the socket closes, which is how the service notices.
final class DatagramReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private weak var service: GossipService?

    init(service: GossipService) {
        self.service = service
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        service?.receiveDatagram(unwrapInboundIn(data))
    }

    /// Not passed on: no datagram goes on to the async channel behind this handler, whose read-complete
    /// would only look at an empty buffer (and look up generic metadata) after every read.
    func channelReadComplete(context: ChannelHandlerContext) {}
}
