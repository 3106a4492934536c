/// A failure while reading a Go struct, naming the field being read when it happened.
public struct MsgPackFieldError: Error, Hashable, Sendable {
    /// The Go field name, or `nil` if the failure was in the map/array header or a key.
    public var field: String?
    /// What went wrong.
    public var error: MsgPackError

    /// Attributes `error` to `field`.
    public init(field: String?, error: MsgPackError) {
        self.field = field
        self.error = error
    }
}

extension MsgPackReader {
    /// Reads a Go struct the way go-msgpack 0.5.5 decodes one.
    ///
    /// A map is matched by field name in any order; unknown keys are skipped and absent fields keep the
    /// caller's defaults (duplicates: the last wins). An array fills fields by position (`fieldNames` is in
    /// Go declaration order) and extra elements are skipped. `nil` leaves every field at its default.
    ///
    /// - Parameters:
    ///   - fieldNames: the Go field names in declaration order.
    ///   - readField: called with the index into `fieldNames` of each field present; it must read exactly
    ///     one value.
    public mutating func readStruct(
        fieldNames: [String],
        _ readField: (Int, inout MsgPackReader) throws(MsgPackError) -> Void
    ) throws(MsgPackFieldError) {
        var currentField: String?
        do throws(MsgPackError) {
            if try readNil() { return }
            switch try peekType() {
            case .map:
                for _ in 0..<(try readMapHeader()) {
                    if let index = try readName(in: fieldNames) {
                        currentField = fieldNames[index]
                        try readField(index, &self)
                        currentField = nil
                    } else {
                        try skipNested()
                    }
                }
            case .array:
                for position in 0..<(try readArrayHeader()) {
                    if position < fieldNames.count {
                        currentField = fieldNames[position]
                        try readField(position, &self)
                        currentField = nil
                    } else {
                        try skipNested()
                    }
                }
            default:
                throw .typeMismatch(expected: .map, format: try peekFormat())
            }
        } catch {
            throw MsgPackFieldError(field: currentField, error: error)
        }
    }

    /// Skips a value one level inside a struct, so the struct itself counts against the depth limit.
    private mutating func skipNested() throws(MsgPackError) {
        var inner = MsgPackReader(buffer, limits: MsgPackLimits(
            maxDepth: max(0, limits.maxDepth - 1),
            maxByteLength: limits.maxByteLength,
            maxContainerCount: limits.maxContainerCount
        ))
        try inner.skipValue()
        buffer = inner.buffer
    }
}
