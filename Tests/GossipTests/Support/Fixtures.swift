import CohortTestKit
import Gossip
import NIOCore

extension GoMemberlistVectors {
    static func message(_ name: String) -> [UInt8] {
        guard let hex = messages[name] else { preconditionFailure("no vector \(name)") }
        return [UInt8](hex: hex)
    }

    static func frame(_ name: String) -> [UInt8] {
        guard let hex = frames[name] else { preconditionFailure("no frame \(name)") }
        return [UInt8](hex: hex)
    }

    static func keyring(_ hex: String) throws -> Keyring {
        try Keyring(primaryKey: [UInt8](hex: hex))
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}
