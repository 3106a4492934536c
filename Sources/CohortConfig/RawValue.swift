import CohortCore

/// Where a value came from, so an error can point at it.
enum ValueOrigin: Equatable {
    /// Nobody set it.
    case defaultValue
    /// The YAML file, at this 1-based line.
    case file(line: Int?)
    /// This environment variable.
    case environment(variable: String)
}

/// One value for a key before it is typed: a YAML node or an environment string, with its origin.
struct RawValue {
    /// The value as written.
    enum Content {
        case node(YAMLNode)
        case text(String)
    }

    /// Full key path, e.g. `cluster.raft.max_voters` or `pg.scopes[0].name`.
    var path: String
    var content: Content
    var origin: ValueOrigin
    /// Secrets never appear in errors.
    var isSecret: Bool = false

    /// A value from the file.
    static func file(_ path: String, _ node: YAMLNode, secret: Bool = false) -> RawValue {
        RawValue(path: path, content: .node(node), origin: .file(line: node.line), isSecret: secret)
    }

    /// The error for this value: names the key (or `VARIABLE=value`), says what is wrong, adds the line.
    func error(_ message: String) -> ConfigError {
        switch origin {
        case .environment(let variable):
            let written: String
            if isSecret {
                written = "<redacted>"
            } else if case .text(let text) = content, !text.contains(where: { $0.isWhitespace || $0 == "\"" }) {
                written = text
            } else if case .text(let text) = content {
                written = Self.quoted(text)
            } else {
                written = ""
            }
            return ConfigError(keyPath: "\(variable)=\(written)", message: message)
        case .file(let line?):
            return ConfigError(keyPath: path, message: "\(message) (line \(line))")
        case .file(nil), .defaultValue:
            return ConfigError(keyPath: path, message: message)
        }
    }

    /// How a value appears in a message: integers bare, other text quoted, secrets redacted.
    func shown(_ text: String) -> String {
        if isSecret { return "<redacted>" }
        if !text.isEmpty, text.drop(while: { $0 == "-" || $0 == "+" }).allSatisfy({ $0.isASCII && $0.isNumber }),
            text.count <= 20, text.count(where: { $0 == "-" || $0 == "+" }) <= 1
        {
            return text
        }
        return Self.quoted(text)
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16, uppercase: true)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// True for an empty value in the file (`key:`, `~`, `null`): the key keeps its default.
    var isNull: Bool {
        guard case .node(let node) = content, case .scalar(let scalar) = node, scalar.isPlain else {
            return false
        }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The scalar text, nil when null. `kind` names what was expected ("a boolean"), `hint` says how to
    /// write it ("use true or false").
    func scalar(_ kind: String, hint: String? = nil) throws(ConfigError) -> String? {
        if isNull { return nil }
        switch content {
        case .text(let text):
            return text.trimmingWhitespace()
        case .node(.scalar(let scalar)):
            return scalar.string
        case .node(let node):
            throw error("expected \(kind), found \(Self.describe(node))" + (hint.map { "; \($0)" } ?? ""))
        }
    }

    /// "a map", "a list", or the scalar quoted.
    static func describe(_ node: YAMLNode) -> String {
        switch node {
        case .mapping: "a map"
        case .sequence: "a list"
        case .scalar(let scalar): quoted(scalar.string)
        }
    }

    /// The value's children when it is a list in the file, or its comma-separated parts otherwise.
    /// Whitespace around parts is trimmed and empty parts dropped; nil when null.
    func list(_ kind: String) throws(ConfigError) -> [RawValue]? {
        if isNull { return nil }
        if case .node(.sequence(let sequence)) = content {
            return sequence.items.enumerated().map { index, node in
                RawValue.file("\(path)[\(index)]", node, secret: isSecret)
            }
        }
        guard let text = try scalar(kind) else { return nil }
        return text.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
            .map { RawValue(path: path, content: .text($0), origin: origin, isSecret: isSecret) }
    }
}

/// "a, b or c".
func alternatives(_ words: [String], conjunction: String = "or") -> String {
    guard words.count > 1 else { return words.first ?? "" }
    return words.dropLast().joined(separator: ", ") + " \(conjunction) " + words.last!
}
