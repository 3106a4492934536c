#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Builds ``CohortSettings`` from a YAML file (or none), `COHORT_*` environment variables and the host.
///
/// Order: key-table defaults, then the file, then the environment (the environment wins). Then the derived
/// values are resolved (node name, keyring, admin token, data directory), cross-key rules are checked and
/// warnings collected. Every problem is a one-line ``ConfigError`` naming the key, the value and the fix.
///
/// The host is injected so tests run without touching the real environment or disk; ``system()`` wires
/// the real one.
public struct ConfigLoader: Sendable {
    /// A file that could not be read; `description` is the reason shown after the path.
    public struct ReadFailure: Error, CustomStringConvertible, Equatable {
        /// Why, e.g. "No such file or directory".
        public var reason: String

        /// Creates a failure with its reason.
        public init(reason: String) { self.reason = reason }

        /// The reason.
        public var description: String { reason }
    }

    /// Largest config, key or token file read, in bytes (1 MiB).
    public static let maximumFileSize = 1 << 20

    /// The environment variables considered (only `COHORT_*`, `STATE_DIRECTORY` are read).
    public let environment: [String: String]
    /// The host name, the default of `cluster.name`.
    public let hostName: String
    /// The home directory, for `<home>/.cohort/store` and `~/` in paths; nil when unknown.
    public let homeDirectory: String?
    let readFile: @Sendable (String) throws -> [UInt8]

    /// Creates a loader over an injected host: environment, host name, home directory and a file reader
    /// (which throws ``ReadFailure`` or any error whose description is the reason).
    public init(
        environment: [String: String],
        hostName: String,
        homeDirectory: String?,
        readFile: @escaping @Sendable (String) throws -> [UInt8]
    ) {
        self.environment = environment
        self.hostName = hostName
        self.homeDirectory = homeDirectory
        self.readFile = readFile
    }

    /// Reads and loads the YAML file at `path`; an unreadable file is an error naming it.
    public func load(path: String) throws(ConfigError) -> CohortSettings {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path)
        } catch {
            throw ConfigError(keyPath: path, message: "cannot read the config file: \(error)")
        }
        guard bytes.count <= Self.maximumFileSize else {
            throw ConfigError(keyPath: path, message: "the config file is larger than 1 MiB")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(keyPath: path, message: "the config file is not UTF-8 text")
        }
        return try load(yaml: text, source: path)
    }

    /// Loads settings from YAML text (the file's content).
    public func load(yaml: String) throws(ConfigError) -> CohortSettings {
        try load(yaml: yaml, source: "(yaml)")
    }

    /// Settings with no file: the defaults, overridden by the environment.
    public func defaults() throws(ConfigError) -> CohortSettings {
        try load(yaml: "", source: "(defaults)")
    }

    private func load(yaml: String, source: String) throws(ConfigError) -> CohortSettings {
        let fileValues = try Self.parse(yaml, source: source)
        let environmentValues = try self.environmentValues()
        var settings = CohortSettings()
        var latest: [String: RawValue] = [:]
        // The file first, then the environment over it, so a bad value in the file is reported even when
        // the environment overrides it, and a bare scope name from the environment keeps the file's settings.
        for value in fileValues + environmentValues {
            guard let key = ConfigSchema.keysByPath[value.path] else { continue }
            try key.apply(value, &settings)
            latest[value.path] = value
        }
        try resolve(&settings, values: latest)
        return settings
    }

    /// The leaf values of the document, in file order.
    static func parse(_ yaml: String, source: String) throws(ConfigError) -> [RawValue] {
        let root: YAMLNode?
        do {
            // Every scalar stays text: the schema reads and checks it itself (YAMLDocument.swift).
            root = try YAMLNode.compose(yaml)
        } catch {
            let message = "invalid YAML: \(error.problem)" + (error.line.map { " (line \($0))" } ?? "")
            throw ConfigError(keyPath: source, message: message)
        }
        guard let root else { return [] }
        return try ConfigSchema.collect(root)
    }
}
