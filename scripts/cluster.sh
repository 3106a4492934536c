#!/usr/bin/env bash
# Runs a local Cohort cluster of N real cohortd nodes on loopback, each on its own address with its own
# data directory, and stops it again.
#
#   scripts/cluster.sh up N      start nodes 1..N (127.0.1.1 … 127.0.1.N); waits until all are ready
#   scripts/cluster.sh status    one line per node: address, Raft state, role, leader
#   scripts/cluster.sh down      stop every node started here (SIGTERM, then SIGKILL after 15 s)
#
# Node i gossips on 127.0.1.i:7946, serves its admin API on 127.0.1.i:7960 and its mesh on 127.0.1.i:7950.
# The first min(N, 3) nodes found the Raft group together (bootstrap_expect = min(N, 3)); the others start
# with bootstrap_expect 0 and are added by the leader's voter reconciler (voter, standby or client).
#
# Environment:
#   CLUSTER_DIR   where configs, data, logs and PIDs go (default /tmp/cohort-cluster)
#   CLUSTER_COHORTD      the cohortd binary (default: .build/release/cohortd, else .build/debug/cohortd,
#                        built with `swift build --product cohortd` when neither exists)
#   CLUSTER_EXTRA_YAML    YAML appended to every node's configuration (top-level keys)
#   CLUSTER_NODE_ENV      extra environment for every node, e.g. "COHORT_UNBOUNDED_RAFT=1"
#   CLUSTER_READY_TIMEOUT seconds to wait for every node to be ready (default 120)
#   CLUSTER_NET          the first three octets of the nodes' addresses (default 127.0.1)
#   CLUSTER_WAVE          start the nodes in waves of this many (default: all at once) …
#   CLUSTER_WAVE_PAUSE    … this many seconds apart (default 10)
set -euo pipefail

dir=${CLUSTER_DIR:-/tmp/cohort-cluster}
root=$(cd "$(dirname "$0")/.." && pwd)

address() { echo "${CLUSTER_NET:-127.0.1}.$1"; }

binary() {
    if [[ -n ${CLUSTER_COHORTD:-} ]]; then echo "$CLUSTER_COHORTD"; return; fi
    for candidate in "$root/.build/release/cohortd" "$root/.build/debug/cohortd"; do
        if [[ -x $candidate ]]; then echo "$candidate"; return; fi
    done
    (cd "$root" && swift build --product cohortd >&2)
    echo "$root/.build/debug/cohortd"
}

write_config() { # index count
    local i=$1 n=$2 ip expect founders
    ip=$(address "$i")
    founders=$(( n < 3 ? n : 3 ))
    expect=0
    if (( i <= founders )); then expect=$founders; fi
    mkdir -p "$dir/n$i"
    {
        echo "cluster:"
        echo "  enabled: true"
        echo "  name: n$i"
        echo "  membership:"
        echo "    bind_addr: $ip"
        if (( i > 1 )); then echo "    join_addrs: \"$(address 1):7946\""; fi
        echo "  internode:"
        echo "    bind_addr: $ip"
        echo "  raft:"
        echo "    bootstrap_expect: $expect"
        echo "    data_dir: $dir/n$i/data"
        echo "admin:"
        echo "  address: $ip:7960"
        if [[ -n ${CLUSTER_EXTRA_YAML:-} ]]; then echo "$CLUSTER_EXTRA_YAML"; fi
    } > "$dir/n$i/cohortd.yaml"
}

start_node() { # binary config
    # Close every descriptor inherited beyond stdio, so that whoever runs this script (a test harness
    # waiting for its output pipe, say) is not kept waiting by the nodes it leaves running.
    local fd
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        if (( fd > 2 )); then eval "exec $fd>&-" 2> /dev/null || true; fi
    done
    # shellcheck disable=SC2086
    exec env ${CLUSTER_NODE_ENV:-} "$1" --config "$2"
}

up() {
    local n=${1:?usage: cluster.sh up N}
    [[ $n =~ ^[0-9]+$ ]] && (( n >= 1 && n <= 250 )) || { echo "cluster.sh: N must be 1..250" >&2; exit 2; }
    if compgen -G "$dir/n*/pid" > /dev/null; then
        echo "cluster.sh: a cluster is already running from $dir; run 'cluster.sh down' first" >&2
        exit 1
    fi
    local bin
    bin=$(binary)
    mkdir -p "$dir"
    for (( i = 1; i <= n; i++ )); do
        write_config "$i" "$n"
        start_node "$bin" "$dir/n$i/cohortd.yaml" > "$dir/n$i/log" 2>&1 < /dev/null &
        echo $! > "$dir/n$i/pid"
        if [[ -n ${CLUSTER_WAVE:-} ]] && (( i % CLUSTER_WAVE == 0 && i < n )); then sleep "${CLUSTER_WAVE_PAUSE:-10}"; fi
    done
    local deadline=$(( SECONDS + ${CLUSTER_READY_TIMEOUT:-120} ))
    for (( i = 1; i <= n; i++ )); do
        until curl -sf "http://$(address "$i"):7960/readyz" > /dev/null 2>&1; do
            if ! kill -0 "$(cat "$dir/n$i/pid")" 2> /dev/null; then
                echo "cluster.sh: n$i exited; its log:" >&2
                tail -n 20 "$dir/n$i/log" >&2
                exit 1
            fi
            if (( SECONDS > deadline )); then
                echo "cluster.sh: n$i not ready after ${CLUSTER_READY_TIMEOUT:-120}s:" >&2
                curl -s "http://$(address "$i"):7960/readyz" >&2 || true
                exit 1
            fi
            sleep 0.2
        done
    done
    echo "cluster.sh: $n nodes ready in $dir (admin: http://$(address 1):7960 … http://$(address "$n"):7960)"
}

status() {
    for pidfile in "$dir"/n*/pid; do
        [[ -e $pidfile ]] || { echo "cluster.sh: no cluster in $dir"; return; }
        local node ip
        node=$(basename "$(dirname "$pidfile")")
        ip=$(address "${node#n}")
        printf '%-5s %-12s %s\n' "$node" "$ip" "$(curl -s -m 2 "http://$ip:7960/v1/raft" || echo unreachable)"
    done
}

down() {
    local pids=()
    for pidfile in "$dir"/n*/pid; do
        [[ -e $pidfile ]] || continue
        pids+=("$(cat "$pidfile")")
    done
    (( ${#pids[@]} )) && kill -TERM "${pids[@]}" 2> /dev/null || true
    local deadline=$(( SECONDS + 15 ))
    for pid in "${pids[@]}"; do
        while kill -0 "$pid" 2> /dev/null; do
            if (( SECONDS > deadline )); then kill -KILL "$pid" 2> /dev/null || true; break; fi
            sleep 0.1
        done
    done
    rm -f "$dir"/n*/pid
    echo "cluster.sh: stopped ${#pids[@]} nodes (data kept in $dir; remove it for a fresh cluster)"
}

case ${1:-} in
    up) up "${2:-}" ;;
    status) status ;;
    down) down ;;
    *) echo "usage: scripts/cluster.sh up N | status | down" >&2; exit 2 ;;
esac
