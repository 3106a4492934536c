import CYAML

/// A node of a YAML document, composed from libyaml's parser events.
///
/// Every scalar stays text (YAML's "failsafe" reading: no implicit booleans, numbers, nulls or timestamps): the
/// configuration schema reads and checks each value's text itself, so it can say what it expected. Aliases are
/// replaced by the node their anchor names. Lines are 1-based.
enum YAMLNode {
    case scalar(YAMLScalar)
    case mapping(YAMLMapping)
    case sequence(YAMLSequence)

    /// The line the node starts on.
    var line: Int {
        switch self {
        case .scalar(let scalar): scalar.line
        case .mapping(let mapping): mapping.line
        case .sequence(let sequence): sequence.line
        }
    }
}

struct YAMLScalar {
    var string: String
    /// Written without quotes or a block indicator: only a plain scalar can mean null (`~`, `null`, nothing).
    var isPlain: Bool
    var line: Int
}

struct YAMLMapping {
    /// In document order; a key appears at most once.
    var entries: [(key: YAMLNode, value: YAMLNode)]
    var line: Int
}

struct YAMLSequence {
    var items: [YAMLNode]
    var line: Int
}

/// Why a text is not one YAML document: libyaml's own description of the problem, or the composer's.
struct YAMLError: Error, Equatable {
    var problem: String
    /// 1-based; nil when the reader failed (bad encoding) before a position was known.
    var line: Int?
}

extension YAMLNode {
    /// The largest number of nodes a document may expand to once its aliases are replaced: far more than any
    /// configuration, far less than the memory an alias bomb ("billion laughs") would take.
    static let maximumExpandedNodes = 100_000

    /// The single document in `text`, or nil when it holds none (empty, or only comments).
    static func compose(_ text: String) throws(YAMLError) -> YAMLNode? {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes.append(0) }  // libyaml wants a pointer; a lone NUL is read as the end
        let length = text.utf8.count
        return try bytes.withUnsafeBufferPointer { buffer throws(YAMLError) in
            var composer = YAMLComposer()
            return try composer.compose(buffer.baseAddress!, length: length)
        }
    }
}

/// Builds the node tree from libyaml's event stream: a stack of open collections, an anchor table.
private struct YAMLComposer {
    /// An open collection; `start` is ``expanded`` before it began, so its size when it ends is the difference.
    private enum Open {
        case mapping(YAMLMapping, anchor: String?, start: Int, pendingKey: YAMLNode?, keys: Set<String>)
        case sequence(YAMLSequence, anchor: String?, start: Int)
    }

    private var stack: [Open] = []
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    /// Nodes so far, counting an alias as the size of what it names.
    private var expanded = 0
    private var root: YAMLNode?
    private var documents = 0

    mutating func compose(_ input: UnsafePointer<UInt8>, length: Int) throws(YAMLError) -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw YAMLError(problem: "out of memory", line: nil) }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, input, length)
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else { throw Self.parserError(parser) }
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return root
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 { throw YAMLError(problem: "expected a single document, found a second", line: line) }
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = Self.string(scalar.value, count: scalar.length)
                let node = YAMLNode.scalar(
                    YAMLScalar(string: text, isPlain: scalar.style == YAML_PLAIN_SCALAR_STYLE, line: line))
                try count(1, line: line)
                try add(node, size: 1, anchor: Self.string(scalar.anchor))
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                guard case (var node, let size)? = anchors[name] else {
                    throw YAMLError(problem: "unknown alias *\(name)", line: line)
                }
                if case .scalar(var scalar) = node {
                    scalar.line = line
                    node = .scalar(scalar)
                }
                try count(size, line: line)
                try add(node, size: size, anchor: nil)
            case YAML_MAPPING_START_EVENT:
                let start = expanded
                try count(1, line: line)
                let anchor = Self.string(event.data.mapping_start.anchor)
                stack.append(.mapping(YAMLMapping(entries: [], line: line), anchor: anchor, start: start, pendingKey: nil, keys: []))
            case YAML_SEQUENCE_START_EVENT:
                let start = expanded
                try count(1, line: line)
                let anchor = Self.string(event.data.sequence_start.anchor)
                stack.append(.sequence(YAMLSequence(items: [], line: line), anchor: anchor, start: start))
            case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
                switch stack.removeLast() {
                case .mapping(let mapping, let anchor, let start, _, _):
                    try add(.mapping(mapping), size: expanded - start, anchor: anchor)
                case .sequence(let sequence, let anchor, let start):
                    try add(.sequence(sequence), size: expanded - start, anchor: anchor)
                }
            default:
                break  // stream start, document end: nothing to build
            }
        }
    }

    /// Counts `nodes` more (an alias counts what it names) against ``YAMLNode/maximumExpandedNodes``.
    private mutating func count(_ nodes: Int, line: Int) throws(YAMLError) {
        expanded += nodes
        if expanded > YAMLNode.maximumExpandedNodes {
            throw YAMLError(
                problem: "the document expands to more than \(YAMLNode.maximumExpandedNodes) nodes (through aliases)",
                line: line)
        }
    }

    /// Adds a finished node (already counted) to the collection it belongs to, or makes it the root. `size` is
    /// its node count with aliases expanded, what an alias of it will count.
    private mutating func add(_ node: YAMLNode, size: Int, anchor: String?) throws(YAMLError) {
        if let anchor { anchors[anchor] = (node, size) }
        guard let open = stack.popLast() else {
            root = node
            return
        }
        switch open {
        case .sequence(var sequence, let anchor, let start):
            sequence.items.append(node)
            stack.append(.sequence(sequence, anchor: anchor, start: start))
        case .mapping(var mapping, let anchor, let start, let pendingKey, var keys):
            guard let key = pendingKey else {
                stack.append(.mapping(mapping, anchor: anchor, start: start, pendingKey: node, keys: keys))
                return
            }
            if case .scalar(let name) = key, !keys.insert(name.string).inserted {
                throw YAMLError(problem: "duplicate key \(name.string)", line: name.line)
            }
            mapping.entries.append((key, node))
            stack.append(.mapping(mapping, anchor: anchor, start: start, pendingKey: nil, keys: keys))
        }
    }

    private static func string(_ bytes: UnsafeMutablePointer<UInt8>?, count: Int) -> String {
        guard let bytes else { return "" }
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    private static func string(_ text: UnsafeMutablePointer<UInt8>?) -> String? {
        guard let text else { return nil }
        return String(cString: text)
    }

    private static func parserError(_ parser: yaml_parser_t) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unreadable YAML"
        switch parser.error {
        case YAML_READER_ERROR:
            return YAMLError(problem: "\(problem) (byte \(parser.problem_offset))", line: nil)
        case YAML_MEMORY_ERROR:
            return YAMLError(problem: "out of memory", line: nil)
        default:
            // A scanner or parser error: where the problem was found, with what it was found in ("while
            // parsing a block mapping") when libyaml says.
            let context = parser.context.map { String(cString: $0) }
            return YAMLError(
                problem: context.map { "\(problem) \($0)" } ?? problem, line: Int(parser.problem_mark.line) + 1)
        }
    }
}
