/// Environment overrides: `COHORT_` + the key path upper-cased with dots as underscores, plus a few aliases.
extension ConfigLoader {
    /// `COHORT_*` variables that are not configuration keys and are left alone: read by the daemon or the
    /// CLI themselves.
    public static let exemptVariables: Set<String> = ["COHORT_FAILPOINT_LIVEZ_FILE", "COHORT_ADMIN_URL", "COHORT_UNBOUNDED_RAFT"]

    /// Prefixes of exempt variables: test failpoints read by the daemon.
    public static let exemptVariablePrefixes: [String] = ["COHORT_FAILPOINT_"]

    /// The environment variables that set `path` (canonical first, then aliases); empty for file-only keys
    /// such as `stores`, nil for an unknown key.
    public static func environmentVariables(forKey path: String) -> [String]? {
        ConfigSchema.keysByPath[path]?.variables
    }

    /// Every configuration variable with the key path it sets, sorted by variable.
    public static var environmentVariables: [(variable: String, keyPath: String)] {
        ConfigSchema.keysByVariable.map { ($0.key, $0.value.path) }.sorted { $0.variable < $1.variable }
    }

    /// The environment's values, one per key, in key-table order.
    func environmentValues() throws(ConfigError) -> [RawValue] {
        var chosen: [String: (variable: String, value: String)] = [:]
        for (variable, value) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix("COHORT_") {
            if Self.exemptVariables.contains(variable)
                || Self.exemptVariablePrefixes.contains(where: { variable.hasPrefix($0) })
            {
                continue
            }
            guard let key = ConfigSchema.keysByVariable[variable] else {
                throw Self.unknownVariable(variable)
            }
            if let other = chosen[key.path] {
                guard other.value == value else {
                    throw ConfigError(
                        keyPath: variable,
                        message: "conflicts with \(other.variable); both set \(key.path) to different values; set one")
                }
                // Same value twice: name the canonical variable in errors.
                if variable != key.canonicalVariable { continue }
            }
            chosen[key.path] = (variable, value)
        }
        return ConfigSchema.keys.compactMap { key in
            chosen[key.path].map { entry in
                RawValue(
                    path: key.path, content: .text(entry.value), origin: .environment(variable: entry.variable),
                    isSecret: key.isSecret)
            }
        }
    }

    private static func unknownVariable(_ variable: String) -> ConfigError {
        if variable == "COHORT_STORES" || variable.hasPrefix("COHORT_STORES_") {
            return ConfigError(
                keyPath: variable,
                message: "stores cannot be set from the environment; declare them in the config file")
        }
        let known = ConfigSchema.keysByVariable.keys.sorted()
        if let close = Suggestion.closest(to: variable, in: known) {
            return ConfigError(keyPath: variable, message: "unknown variable; did you mean \(close)?")
        }
        return ConfigError(
            keyPath: variable,
            message: "unknown variable; configuration variables are COHORT_ + the key path in upper case with "
                + "underscores (e.g. COHORT_CLUSTER_NAME); see docs/configuration.md")
    }
}
