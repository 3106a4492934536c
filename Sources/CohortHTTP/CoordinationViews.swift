import Cohort
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird

/// `GET /v1/stores`.
struct StoreView: Encodable {
    var name: String
    var kind: String
    var durable: Bool
}

/// `PUT /v1/kv/{key}`: `{"value": "text"}` or `{"value_b64": "..."}`, and an optional `"ttl": "10s"`.
struct PutRequest: Decodable {
    var value: String?
    var valueBase64: String?
    var ttl: String?

    enum CodingKeys: String, CodingKey {
        case value, ttl
        case valueBase64 = "value_b64"
    }

    func bytes(at field: String = "") throws -> [UInt8] {
        try Self.bytes(value, valueBase64, at: field)
    }

    static func bytes(_ value: String?, _ valueBase64: String?, at field: String) throws -> [UInt8] {
        switch (value, valueBase64) {
        case (let text?, nil): return Array(text.utf8)
        case (nil, let encoded?):
            guard let data = Data(base64Encoded: encoded) else { throw APIError.badRequest("\(field)value_b64: not valid base64") }
            return Array(data)
        default:
            throw APIError.badRequest("\(field)give exactly one of value (text) or value_b64 (bytes)")
        }
    }
}

/// `POST /v1/txn`.
struct TransactionRequest: Decodable {
    var compare: [CompareRequest]
    var success: [OperationRequest]?
    var failure: [OperationRequest]?

    struct CompareRequest: Decodable {
        var key: String
        var version: UInt64?
        var value: String?
        var valueBase64: String?
        var absent: Bool?

        enum CodingKeys: String, CodingKey {
            case key, version, value, absent
            case valueBase64 = "value_b64"
        }

        func compare(at field: String) throws -> CoordinationCommand.Compare {
            switch (version, value ?? valueBase64, absent) {
            case (let version?, nil, nil): return .init(key: key, .version(version))
            case (nil, .some, nil): return .init(key: key, .value(try PutRequest.bytes(value, valueBase64, at: "\(field).")))
            case (nil, nil, true?): return .init(key: key, .absent)
            default: throw APIError.badRequest("\(field): give exactly one of version, value, value_b64 or \"absent\": true")
            }
        }
    }

    struct OperationRequest: Decodable {
        var op: String
        var key: String
        var value: String?
        var valueBase64: String?
        var ttl: String?

        enum CodingKeys: String, CodingKey {
            case op, key, value, ttl
            case valueBase64 = "value_b64"
        }

        func operation(at field: String) throws -> CoordinationCommand.TransactionOperation {
            switch op {
            case "put":
                let ttl = try CoordinationRoutes.duration(ttl, field: "\(field).ttl")
                let milliseconds = ttl.map { UInt64(max(0, $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000)) } ?? 0
                return .put(key: key, value: try PutRequest.bytes(value, valueBase64, at: "\(field)."), ttl: milliseconds)
            case "delete": return .delete(key: key)
            case "get": return .get(key: key)
            default: throw APIError.badRequest("\(field).op: \"\(op)\" is not put, delete or get")
            }
        }
    }
}

/// One result of a transaction's branch.
struct TransactionResultView: Encodable {
    var op: String
    var key: String
    var version: UInt64?
    var existed: Bool?
    var found: KVEntryView?

    init(operation: CoordinationCommand.TransactionOperation, result: TransactionResult) {
        switch (operation, result) {
        case (.put(let key, _, _), .put(let version)):
            (op, self.key, self.version) = ("put", key, version)
        case (.delete(let key), .delete(let existed)):
            (op, self.key, self.existed) = ("delete", key, existed)
        case (.get(let key), .get(let value)):
            (op, self.key, found) = ("get", key, value.map { KVEntryView(key: key, value: $0) })
        default:
            (op, key) = ("unknown", "")
        }
    }

    enum CodingKeys: String, CodingKey {
        case op, key, version, existed
        case found = "entry"
    }
}

/// `POST /v1/txn`'s answer.
struct TransactionReply: Encodable {
    var succeeded: Bool
    var version: UInt64
    var results: [TransactionResultView]
}

/// One event of `GET /v1/watch`.
struct WatchEventView: Encodable {
    var key: String
    var value: String?
    var valueBase64: String?
    var version: UInt64

    init(_ event: StoreEvent) {
        key = event.key
        version = event.version
        if let bytes = event.value { (value, valueBase64) = KVEntryView.text(bytes) }
    }

    enum CodingKeys: String, CodingKey {
        case key, value, version
        case valueBase64 = "value_b64"
    }

    /// The event as JSON through `JSONEncoder` (sorted keys, slashes unescaped): the reference that
    /// ``frame(kind:)`` must match byte for byte.
    func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The whole Server-Sent Event, `event: <kind>\ndata: <json>\n\n`, written directly: a watch sends one
    /// per change to every watcher, and `JSONEncoder` was most of the cost of a delivery. The JSON is the
    /// same bytes as ``jsonLine()``'s (a test compares them).
    func frame(kind: StoreEvent.Kind) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(48 + key.utf8.count + (value?.utf8.count ?? valueBase64?.utf8.count ?? 0))
        buffer.writeString("event: ")
        buffer.writeString(kind.rawValue)
        buffer.writeString("\ndata: {\"key\":")
        Self.writeJSONString(key, to: &buffer)
        if let value {
            buffer.writeString(",\"value\":")
            Self.writeJSONString(value, to: &buffer)
        }
        if let valueBase64 {
            buffer.writeString(",\"value_b64\":")
            Self.writeJSONString(valueBase64, to: &buffer)
        }
        buffer.writeString(",\"version\":")
        buffer.writeString(String(version))
        buffer.writeString("}\n\n")
        return buffer
    }

    /// `text` as a JSON string, escaped as `JSONEncoder` does: `"` and `\\`, the short forms of control
    /// characters that have one, `\u00XX` for the rest below U+0020; everything else as UTF-8.
    static func writeJSONString(_ text: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var pending = text.utf8.startIndex
        let utf8 = text.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte >= 0x20, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                index = utf8.index(after: index)
                continue
            }
            buffer.writeBytes(utf8[pending..<index])
            switch byte {
            case UInt8(ascii: "\""): buffer.writeString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeString("\\\\")
            case 0x0A: buffer.writeString("\\n")
            case 0x0D: buffer.writeString("\\r")
            case 0x09: buffer.writeString("\\t")
            case 0x08: buffer.writeString("\\b")
            case 0x0C: buffer.writeString("\\f")
            default: buffer.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
            index = utf8.index(after: index)
            pending = index
        }
        buffer.writeBytes(utf8[pending..<utf8.endIndex])
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}

/// `POST /v1/locks/{name}`.
struct LockRequest: Decodable {
    var holder: String
    var wait: String?
    var lockDelay: String?

    enum CodingKeys: String, CodingKey {
        case holder, wait
        case lockDelay = "lock_delay"
    }
}

/// A grant.
struct LockGrantView: Encodable {
    var name: String
    var holder: String
    var token: UInt64
}

/// `GET /v1/locks/{name}`.
struct LockView: Encodable {
    var name: String
    var holder: String?
    var node: String?
    var token: UInt64
    var waiters: [String]
    var delayedUntil: UInt64?

    init(_ info: LockInfo) {
        name = info.name
        holder = info.holder?.description
        node = info.holder?.node.rawValue
        token = info.token
        waiters = info.waiters.map(\.description)
        delayedUntil = info.delayedUntil
    }

    enum CodingKeys: String, CodingKey {
        case name, holder, node, token, waiters
        case delayedUntil = "delayed_until"
    }
}

/// `POST /v1/names`.
struct NameRequest: Decodable {
    var name: String
    var pid: String
    var scope: String?
    /// Strong scope: how long to wait for every live node's acknowledgement (e.g. "3s").
    var timeout: String?
}

/// A name and its process.
struct NameView: Encodable {
    var name: String
    var pid: String
    var node: String
    var scope: String
    var token: UInt64?

    init(name: String, pid: PID, scope: NameScope, token: UInt64?) {
        self.name = name
        self.pid = pid.description
        node = pid.node.rawValue
        self.scope = scope.rawValue
        self.token = token
    }
}
