/// Several messages in one datagram (`compound`, type 7):
/// `[7][count u8][count × length u16 BE][part]…`, each part starting with its own type byte.
///
/// The layout's sizes live here, where the SWIM core fills a datagram's budget; building and splitting
/// compounds is the Gossip target's (`Sources/Gossip/Wire/CompoundMessage+Buffer.swift`).
public enum CompoundMessage {
    /// The most parts one count byte can say. memberlist 0.2.2 wraps larger counts modulo 256 when it
    /// builds a compound (fixed in v0.3.2); we refuse to build them.
    public static let maxParts = 255
    /// The most parts memberlist 0.2.2 *reads* correctly: `decodeCompoundMessage` computes `count * 2` in
    /// 8 bits, so from 128 parts on it misplaces the parts (or panics on a short length table).
    public static let maxPartsForGoPeers = 127
    /// Bytes of the compound header: the type byte and the count.
    public static let headerOverhead = 2
    /// Bytes each part adds besides its own: its length field.
    public static let partOverhead = 2
}
