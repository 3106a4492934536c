/// One leaf key of the configuration: its path, how the environment sets it, and how a raw value is
/// applied to the settings. The table in `ConfigSchema+Keys.swift` is the single source of truth for the
/// YAML walk, the environment variables and the did-you-mean candidates.
struct ConfigKey: Sendable {
    /// How the environment can set a key.
    enum EnvironmentForm: Sendable {
        /// One value.
        case value
        /// A comma-separated list.
        case commaList
        /// File only (`stores`).
        case none
    }

    /// Applies a non-default raw value to the settings.
    typealias Apply = @Sendable (RawValue, inout CohortSettings) throws(ConfigError) -> Void

    /// Full key path, e.g. `cluster.membership.join_addrs`.
    let path: String
    let environment: EnvironmentForm
    /// Short environment names besides the canonical one, e.g. `COHORT_JOIN_ADDRS`.
    let aliases: [String]
    /// Never shown in errors or rendered YAML.
    let isSecret: Bool
    let apply: Apply

    init(
        _ path: String,
        environment: EnvironmentForm = .value,
        aliases: [String] = [],
        secret: Bool = false,
        apply: @escaping Apply
    ) {
        self.path = path
        self.environment = environment
        self.aliases = aliases
        self.isSecret = secret
        self.apply = apply
    }

    /// `COHORT_` + the key path upper-cased, dots to underscores; nil when the environment cannot set it.
    var canonicalVariable: String? {
        environment == .none ? nil : ConfigSchema.variableName(for: path)
    }

    /// The canonical variable, then the aliases.
    var variables: [String] { (canonicalVariable.map { [$0] } ?? []) + aliases }
}

/// The shape of the configuration, derived from the key table.
enum ConfigSchema {
    static func variableName(for path: String) -> String {
        "COHORT_" + String(path.uppercased().map { $0 == "." ? "_" : $0 })
    }

    /// Leaf keys by full path.
    static let keysByPath: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: keys.map { ($0.path, $0) })

    /// Every environment variable (canonical and alias) with the key it sets.
    static let keysByVariable: [String: ConfigKey] = {
        var table: [String: ConfigKey] = [:]
        for key in keys {
            for variable in key.variables { table[variable] = key }
        }
        return table
    }()

    /// Section paths (`cluster`, `cluster.raft`, `pg`, ...), each with its children in table order.
    static let children: [String: [String]] = {
        var table: [String: [String]] = [:]
        for key in keys {
            let parts = key.path.split(separator: ".").map(String.init)
            for depth in 0..<parts.count {
                let section = parts[..<depth].joined(separator: ".")
                if !(table[section] ?? []).contains(parts[depth]) { table[section, default: []].append(parts[depth]) }
            }
        }
        return table
    }()

    /// Walks the YAML document, returning the leaf values in file order; unknown keys and sections that are
    /// not maps are errors.
    static func collect(_ node: YAMLNode) throws(ConfigError) -> [RawValue] {
        try collect(RawValue(path: "(root)", content: .node(node), origin: .file(line: node.line)), section: "")
    }

    private static func collect(_ raw: RawValue, section: String) throws(ConfigError) -> [RawValue] {
        guard let entries = try raw.mapEntries("a map of settings") else { return [] }
        var values: [RawValue] = []
        for entry in entries {
            let path = section.isEmpty ? entry.key : "\(section).\(entry.key)"
            if let key = keysByPath[path] {
                var value = entry.value
                value.path = path
                value.isSecret = key.isSecret
                values.append(value)
            } else if children[path] != nil {
                var section = entry.value
                section.path = path
                values += try collect(section, section: path)
            } else {
                throw unknownKey(
                    path, name: entry.key, allowed: children[section] ?? [], line: entry.keyLine, global: true)
            }
        }
        return values
    }

    /// Every section and leaf path, sorted.
    static let allPaths: [String] = (Array(children.keys) + Array(keysByPath.keys)).filter { !$0.isEmpty }.sorted()

    /// `path: unknown key; did you mean X?`, or the allowed keys when nothing is close.
    static func unknownKey(_ path: String, name: String, allowed: [String], line: Int?, global: Bool) -> ConfigError {
        var message = "unknown key; "
        if let close = Suggestion.closest(to: name, in: allowed) {
            message += "did you mean \(close)?"
        } else if global, case let elsewhere = Suggestion.paths(endingWith: name, in: allPaths), !elsewhere.isEmpty {
            message += "did you mean \(alternatives(elsewhere))?"
        } else {
            message += "allowed: \(allowed.joined(separator: ", "))"
        }
        if let line { message += " (line \(line))" }
        return ConfigError(keyPath: path, message: message)
    }
}

extension Suggestion {
    /// The full paths whose last component is `word` (ignoring case, `-` and `_`): a key in the wrong section.
    static func paths(endingWith word: String, in paths: [String]) -> [String] {
        let normalized = word.lowercased().filter { $0 != "_" && $0 != "-" }
        return paths.filter { path in
            let last = path.split(separator: ".").last.map(String.init) ?? path
            return last.lowercased().filter { $0 != "_" && $0 != "-" } == normalized
        }
    }
}
