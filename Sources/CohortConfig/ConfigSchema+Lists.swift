/// The two list keys whose items are maps: `pg.scopes` and `stores`.
extension ConfigSchema {
    static let scopeItemKeys = ["name", "sync_interval", "anti_entropy_interval", "max_retries", "max_groups", "broadcast_liveness"]
    static let storeItemKeys = ["name", "kind", "durable"]

    /// `pg.scopes`: a list of names or maps. A bare name from the environment keeps the settings the file
    /// gave that scope.
    @Sendable static func applyScopes(_ raw: RawValue, _ settings: inout CohortSettings) throws(ConfigError) {
        let kind = "a list of scope names or {name, sync_interval, anti_entropy_interval, max_retries, max_groups, broadcast_liveness} maps"
        guard let items = try raw.list(kind) else { return }
        var scopes: [ProcessGroupScopeSettings] = []
        for item in items {
            let scope: ProcessGroupScopeSettings
            if case .node(.mapping) = item.content {
                scope = try scopeFromMap(item)
            } else {
                guard let name = try item.scalar("a scope name or a map", hint: "use a name or {name: ...}") else {
                    throw item.error("a scope needs a name")
                }
                try checkScopeName(name, item)
                scope = settings.pg.scopes.first { $0.name == name } ?? ProcessGroupScopeSettings(name: name)
            }
            if scopes.contains(where: { $0.name == scope.name }) {
                throw item.error("scope \(item.shown(scope.name)) is listed twice; scope names must be unique")
            }
            scopes.append(scope)
        }
        settings.pg.scopes = scopes
    }

    private static func scopeFromMap(_ item: RawValue) throws(ConfigError) -> ProcessGroupScopeSettings {
        var scope = ProcessGroupScopeSettings(name: "")
        var named = false
        for entry in try item.mapEntries("a map") ?? [] {
            let value = entry.value
            switch entry.key {
            case "name":
                guard let name = try value.string() else { continue }
                try checkScopeName(name, value)
                scope.name = name
                named = true
            case "sync_interval":
                if let interval = try value.durationOrDisabled() {
                    guard let interval else {
                        throw value.error("sync_interval must be a positive duration (it cannot be disabled)")
                    }
                    scope.syncInterval = interval
                }
            case "max_groups":
                if let limit = try value.int(atLeast: 1, hint: "use 1 or more") { scope.maxGroups = limit }
            case "anti_entropy_interval":
                if let interval = try value.durationOrDisabled() { scope.antiEntropyInterval = interval }
            case "max_retries":
                if let retries = try value.int(atLeast: 0, hint: "use 0 (no retries) or more") {
                    scope.maxRetries = retries
                }
            case "broadcast_liveness":
                if let liveness = try value.durationOrDisabled() { scope.broadcastLiveness = liveness }
            default:
                throw unknownKey(
                    value.path, name: entry.key, allowed: scopeItemKeys, line: entry.keyLine, global: false)
            }
        }
        guard named else { throw item.error("a scope needs a name; add name: <scope>") }
        return scope
    }

    private static func checkScopeName(_ name: String, _ raw: RawValue) throws(ConfigError) {
        if name.isEmpty || name.contains(where: { $0.isWhitespace || $0 == "," || $0.isNewline }) {
            throw raw.error("\(raw.shown(name)) is not a scope name; use a non-empty name without spaces or commas")
        }
    }

    /// `stores`: a list of `{name, kind, durable}` maps, names unique.
    @Sendable static func applyStores(_ raw: RawValue, _ settings: inout CohortSettings) throws(ConfigError) {
        guard case .node(.sequence) = raw.content else {
            guard raw.isNull else { throw raw.error("expected a list of {name, kind, durable} maps") }
            return
        }
        var stores: [StoreSettings] = []
        for item in try raw.list("a list of stores") ?? [] {
            let store = try storeFromMap(item)
            if stores.contains(where: { $0.name == store.name }) {
                throw item.error("store \(item.shown(store.name)) is declared twice; store names must be unique")
            }
            stores.append(store)
        }
        settings.stores = stores
    }

    private static func storeFromMap(_ item: RawValue) throws(ConfigError) -> StoreSettings {
        guard case .node(.mapping) = item.content else {
            throw item.error("expected a map {name, kind, durable}, found \(describeContent(item))")
        }
        var name: String?
        var kind: StoreKind?
        var durable = true
        for entry in try item.mapEntries("a map") ?? [] {
            let value = entry.value
            switch entry.key {
            case "name":
                guard let text = try value.string() else { continue }
                if text.isEmpty || text.hasPrefix("_") || text.contains(where: { $0.isWhitespace || $0.isNewline }) {
                    throw value.error(
                        "\(value.shown(text)) is not a store name; use a non-empty name without spaces, "
                            + "not starting with _ (reserved)")
                }
                name = text
            case "kind":
                kind = try value.choice("store kind", StoreKind.self)
            case "durable":
                if let flag = try value.bool() { durable = flag }
            default:
                throw unknownKey(
                    value.path, name: entry.key, allowed: storeItemKeys, line: entry.keyLine, global: false)
            }
        }
        guard let name else { throw item.error("a store needs a name; add name: <store>") }
        guard let kind else {
            throw item.error("store \(item.shown(name)) needs a kind; use kv.raft, kv.crdt or kv.local")
        }
        return StoreSettings(name: name, kind: kind, durable: durable)
    }

    private static func describeContent(_ raw: RawValue) -> String {
        switch raw.content {
        case .node(let node): RawValue.describe(node)
        case .text(let text): RawValue.quoted(text)
        }
    }
}
