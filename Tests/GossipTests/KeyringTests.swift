import Crypto
import Gossip
import Testing

@Suite("keyring")
struct KeyringTests {
    @Test("accepts AES-128/192/256 keys only")
    func keySizes() throws {
        for size in [16, 24, 32] {
            #expect(throws: Never.self) { try Keyring(primaryKey: [UInt8](repeating: 1, count: size)) }
        }
        for size in [0, 15, 17, 31, 33, 64] {
            #expect(throws: KeyringError.invalidKeySize(size)) { try Keyring(primaryKey: [UInt8](repeating: 1, count: size)) }
        }
    }

    @Test("keeps the primary first, ignores duplicates, and protects the primary from removal")
    func operations() throws {
        let a = [UInt8](repeating: 1, count: 16), b = [UInt8](repeating: 2, count: 24), c = [UInt8](repeating: 3, count: 32)
        var keyring = try Keyring(primaryKey: a, otherKeys: [b, a, b])
        #expect(keyring.keys == [SymmetricKey(data: a), SymmetricKey(data: b)])
        #expect(throws: KeyringError.keyNotInstalled) { try keyring.use(c) }
        try keyring.add(c)
        try keyring.use(c)
        #expect(keyring.keys.map { $0.bitCount } == [256, 128, 192])
        #expect(throws: KeyringError.cannotRemovePrimaryKey) { try keyring.remove(c) }
        try keyring.remove(a)
        try keyring.remove(a)
        #expect(keyring.keys == [SymmetricKey(data: c), SymmetricKey(data: b)])
    }
}
