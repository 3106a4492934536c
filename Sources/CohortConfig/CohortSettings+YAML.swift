/// The effective configuration as YAML, for `cohortd --check`.
extension CohortSettings {
    private static let redacted = "\"<redacted>\""

    /// Every key with its effective value, secrets and tokens shown as `"<redacted>"`, resolved values
    /// (data directory, key count) as comments, warnings as leading comments. Loading the output again with
    /// the same environment gives equal settings, once the redacted secrets are removed.
    public func renderYAML() -> String {
        var lines: [String] = ["# Effective Cohort configuration (secrets redacted)."]
        lines += warnings.map { "# warning: \($0)" }
        let membership = cluster.membership
        let raft = cluster.raft
        lines += [
            "cluster:",
            "  enabled: \(cluster.enabled)",
            "  name: \(quote(cluster.name))",
            "  failure_domain: \(quote(cluster.failureDomain))",
            "  membership:",
            "    bind_addr: \(quote(membership.bindAddress))",
            "    bind_port: \(membership.bindPort)",
            "    advertise_addr: \(quote(membership.advertiseAddress ?? ""))" + derived(membership.advertiseAddress),
            "    advertise_port: \(membership.advertisePort.map(String.init) ?? "null")"
                + derived(membership.advertisePort),
            "    join_addrs: \(quote(membership.joinAddresses.map(\.description).joined(separator: ",")))",
            "    secret_key: \(membership.secretKey.isEmpty ? "\"\"" : Self.redacted)",
            "    secret_file: \(quote(membership.secretFile))",
            "    secret_keys: [\(membership.secretKeys.map { _ in Self.redacted }.joined(separator: ", "))]"
                + "  # keyring: \(membership.keyring.count) key(s)",
            "    probe_interval: \(duration(membership.probeInterval))",
            "    probe_timeout: \(duration(membership.probeTimeout))",
            "    suspicion_mult: \(membership.suspicionMultiplier)",
            "    retransmit_mult: \(membership.retransmitMultiplier)",
            "    gossip_interval: \(duration(membership.gossipInterval))",
            "    gossip_nodes: \(membership.gossipNodes)",
            "    push_pull_interval: \(duration(membership.pushPullInterval))",
            "    dead_node_reclaim_time: \(duration(membership.deadNodeReclaimTime))",
            "    rejoin_interval: \(duration(membership.rejoinInterval))",
            "    cluster_id: \(quote(membership.clusterID))",
            "  internode:",
            "    bind_addr: \(quote(cluster.internode.bindAddress))",
            "    bind_port: \(cluster.internode.bindPort)" + (cluster.internode.bindPort == 0 ? "  # auto" : ""),
            "    advertise_addr: \(quote(cluster.internode.advertiseAddress ?? ""))"
                + (cluster.internode.advertiseAddress == nil ? "  # the gossip address" : ""),
            "    idle_timeout: \(cluster.internode.idleTimeout.map(duration) ?? "0")" + (cluster.internode.idleTimeout == nil ? "  # never" : ""),
            "  raft:",
            "    role: \(raft.role.rawValue)",
            "    eligible: \(raft.eligible)",
            "    priority: \(raft.priority)",
            "    bootstrap_expect: \(raft.bootstrapExpect)",
            "    max_voters: \(raft.maxVoters)",
            "    max_standbys: \(raft.maxStandbys)",
            "    reconcile_debounce: \(duration(raft.reconcileDebounce))",
            "    heartbeat_interval: \(duration(raft.heartbeatInterval))",
            "    election_timeout: \(duration(raft.electionTimeout))",
            "    data_dir: \(quote(raft.dataDirectory ?? ""))"
                + "  # resolves to " + (raft.resolvedDataDirectory.map(quote) ?? "nothing: Raft runs diskless"),
            "    snapshot_threshold: \(raft.snapshotThreshold)",
            "    trailing_logs: \(raft.trailingLogs)",
            "    log_cache_size: \(raft.logCacheBytes)  # bytes",
            "    snapshot_chunk_size: \(raft.snapshotChunkBytes)  # bytes",
            "    snapshot_chunk_timeout: \(duration(raft.snapshotChunkTimeout))",
            "    snapshot_idle_timeout: \(duration(raft.snapshotIdleTimeout))",
            "admin:",
            "  address: \(quote(admin.address?.description ?? ""))" + (admin.address == nil ? "  # off" : ""),
            "  token: \(admin.token.isEmpty ? "\"\"" : Self.redacted)",
            "  token_file: \(quote(admin.tokenFile))",
            "log:",
            "  level: \(log.level.rawValue)",
            "  format: \(log.format.rawValue)",
            "pg:",
        ]
        if pg.scopes.isEmpty {
            lines.append("  scopes: []")
        } else {
            lines.append("  scopes:")
            for scope in pg.scopes {
                lines += [
                    "    - name: \(quote(scope.name))",
                    "      sync_interval: \(duration(scope.syncInterval))",
                    "      anti_entropy_interval: \(scope.antiEntropyInterval.map(duration) ?? "0")",
                    "      max_retries: \(scope.maxRetries)",
                    "      max_groups: \(scope.maxGroups)",
                    "      broadcast_liveness: \(scope.broadcastLiveness.map(duration) ?? "0")",
                ]
            }
        }
        if stores.isEmpty {
            lines.append("stores: []")
        } else {
            lines.append("stores:")
            for store in stores {
                lines += [
                    "  - name: \(quote(store.name))",
                    "    kind: \(store.kind.rawValue)",
                    "    durable: \(store.durable)",
                ]
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func derived<T>(_ value: T?) -> String { value == nil ? "  # derived" : "" }

    private func duration(_ value: Duration) -> String { DurationParser.format(value) }

    /// The text as a plain YAML scalar when that reads back unchanged, else double-quoted.
    private func quote(_ text: String) -> String {
        let plainFirst = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._")
        let plainRest = plainFirst.union("-+:@=~,")
        let ambiguous: Set<String> = ["true", "false", "yes", "no", "on", "off", "null", "~"]
        guard let first = text.first, plainFirst.contains(first), text.allSatisfy(plainRest.contains),
            !text.hasSuffix(":"), !ambiguous.contains(text.lowercased())
        else { return RawValue.quoted(text) }
        return text
    }
}
