import Crypto

/// Why a keyring operation was refused.
public enum KeyringError: Error, Hashable, Sendable {
    /// AES keys are 16, 24 or 32 bytes (AES-128/192/256).
    case invalidKeySize(Int)
    /// ``Keyring/use(_:)`` names a key that is not installed.
    case keyNotInstalled
    /// The primary key cannot be removed; make another key primary first.
    case cannotRemovePrimaryKey
}

/// The AES keys a node accepts, with the primary one it encrypts with.
///
/// Every installed key is tried when decrypting, which is how memberlist rotates keys without downtime:
/// install the new key everywhere, make it primary everywhere, then remove the old one.
public struct Keyring: Equatable, Sendable {
    /// Every installed key, the primary first (the order they are tried in).
    public private(set) var keys: [SymmetricKey]

    /// The key used to encrypt.
    public var primaryKey: SymmetricKey { keys[0] }

    /// Creates a keyring with `primaryKey` first, followed by the distinct `otherKeys`.
    public init(primaryKey: [UInt8], otherKeys: [[UInt8]] = []) throws(KeyringError) {
        let primary = try Self.validated(primaryKey)
        keys = [primary]
        for key in otherKeys { try add(key) }
    }

    /// Installs `key` for decryption; installing a key twice does nothing.
    public mutating func add(_ key: [UInt8]) throws(KeyringError) {
        let symmetric = try Self.validated(key)
        if !keys.contains(symmetric) { keys.append(symmetric) }
    }

    /// Makes an installed key the primary.
    public mutating func use(_ key: [UInt8]) throws(KeyringError) {
        let symmetric = try Self.validated(key)
        guard let index = keys.firstIndex(of: symmetric) else { throw .keyNotInstalled }
        keys.remove(at: index)
        keys.insert(symmetric, at: 0)
    }

    /// Removes a key that is not the primary; removing an absent key does nothing.
    public mutating func remove(_ key: [UInt8]) throws(KeyringError) {
        let symmetric = try Self.validated(key)
        guard symmetric != primaryKey else { throw .cannotRemovePrimaryKey }
        keys.removeAll { $0 == symmetric }
    }

    private static func validated(_ key: [UInt8]) throws(KeyringError) -> SymmetricKey {
        guard [16, 24, 32].contains(key.count) else { throw .invalidKeySize(key.count) }
        return SymmetricKey(data: key)
    }
}
