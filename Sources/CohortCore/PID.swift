/// The address of one process: the node that runs it, that node's incarnation (boot) and a serial.
///
/// A restarted node has a greater incarnation, so it never issues a PID that an earlier boot issued: a name
/// or lock still held by an old PID can be recognised as dead instead of resolving to an unrelated process.
///
/// The text form is `<node>@<incarnation>.<serial>` (for example `node-1@1764246229000.42`). It is parsed
/// from the right, so node names may themselves contain `@` and `.`.
public struct PID: Hashable, Comparable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// The node that runs the process.
    public let node: NodeID
    /// The boot of ``node`` that spawned the process.
    public let incarnation: Incarnation
    /// The process's number within that boot, starting at 1.
    public let serial: UInt64

    /// Creates a PID from its parts.
    public init(node: NodeID, incarnation: Incarnation, serial: UInt64) {
        self.node = node
        self.incarnation = incarnation
        self.serial = serial
    }

    /// Parses the text form `<node>@<incarnation>.<serial>`; nil when it is not one.
    public init?(_ description: String) {
        guard let dot = description.lastIndex(of: "."),
              let serial = UInt64(description[description.index(after: dot)...]),
              let at = description[..<dot].lastIndex(of: "@"),
              let incarnation = UInt64(description[description.index(after: at)..<dot]),
              at > description.startIndex
        else { return nil }
        let digits = description[description.index(after: dot)...]
        let incarnationDigits = description[description.index(after: at)..<dot]
        // Reject signs and empty parts so every PID has exactly one text form.
        guard digits.allSatisfy(\.isASCIIDigitCharacter), incarnationDigits.allSatisfy(\.isASCIIDigitCharacter) else {
            return nil
        }
        self.init(node: NodeID(String(description[..<at])), incarnation: Incarnation(incarnation), serial: serial)
    }

    public var description: String { "\(node.rawValue)@\(incarnation.rawValue).\(serial)" }

    /// Orders by node, then incarnation, then serial.
    public static func < (lhs: PID, rhs: PID) -> Bool {
        if lhs.node != rhs.node { return lhs.node < rhs.node }
        if lhs.incarnation != rhs.incarnation { return lhs.incarnation < rhs.incarnation }
        return lhs.serial < rhs.serial
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
