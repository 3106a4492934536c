import Glibc

/// Unix datagrams to a socket named the way systemd names them: a path (`/run/systemd/notify`) or, with a
/// leading `@`, a name in Linux's abstract namespace. systemd's notify protocol (`sd_notify(3)`) and the
/// journal's native protocol (`systemd.journal-fields(7)`, "Native Protocol") are both one datagram per
/// message; this is all `cohortd` needs of libsystemd, which it no longer links (it brought six more
/// libraries into every node: libgcrypt, libgpg-error, libzstd, liblzma, liblz4, libcap).
enum UnixDatagram {
    /// A socket address, parsed once.
    struct Address: Sendable {
        var storage: sockaddr_un
        var length: socklen_t

        /// Nil when `text` is neither an absolute path nor `@name`, or too long.
        init?(_ text: String) {
            var storage = sockaddr_un()
            storage.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(text.utf8)
            switch bytes.first {
            case UInt8(ascii: "/"): bytes.append(0)
            case UInt8(ascii: "@"): bytes[0] = 0
            default: return nil
            }
            guard bytes.count > 1, bytes.count <= MemoryLayout.size(ofValue: storage.sun_path) else { return nil }
            withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
            self.storage = storage
            // A path's length counts its NUL (as sd_notify does); an abstract name's is exactly its bytes.
            length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        }
    }

    /// Opens a datagram socket (close-on-exec); nil with `errno` set when the system refuses.
    static func openSocket() -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        return fd >= 0 ? fd : nil
    }

    /// Sends `bytes` as one datagram on `fd` to `address`; 0, or the `errno` of the failure.
    static func send(_ bytes: [UInt8], on fd: Int32, to address: Address) -> Int32 {
        var storage = address.storage
        let sent = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), $0, address.length)
                }
            }
        }
        return sent >= 0 ? 0 : errno
    }

    /// Sends `bytes` as one datagram to `address` on a socket of its own; 0 or the failure's `errno` (`EINVAL`
    /// for an address that is neither a path nor `@name`).
    static func sendOnce(_ bytes: [UInt8], to address: String) -> Int32 {
        guard let parsed = Address(address) else { return EINVAL }
        guard let fd = openSocket() else { return errno }
        defer { close(fd) }
        return send(bytes, on: fd, to: parsed)
    }
}
