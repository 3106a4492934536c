#!/usr/bin/env python3
"""The eventual plane on real daemons: eventual names and kv.crdt stores, measured through /v1 on a local
cluster started with scripts/cluster.sh (each node on its own loopback address, its own data directory).
Every wait is bounded; the cluster is stopped (by the PIDs cluster.sh recorded) also on failure.

For each N in --nodes (default 10,50):
  a. eventual registration visible on all N nodes: --registrations names, round-robin over the nodes, each
     registered for a session of the node it is sent to (POST /v1/names scope eventual); one thread per
     node polls GET /v1/names/{name}?scope=eventual on its node every max(--poll-ms, N/2) ms until it answers 200; the
     latency is the last node's first 200 less the time just before the POST (p50 / p99 / max), printed
     next to SWIM's dissemination figures for that N with the default LAN settings (gossip every 200 ms to
     3 nodes, a broadcast retransmitted 4 * ceil(log10(N + 1)) times): the expected rounds to reach all,
     ceil(log(N) / log(4)) * 200 ms, and the retransmit window, limit / 3 * 200 ms;
  b. (N = the first of --nodes only) memory and wire bytes per name: --names names registered (spread over
     4 nodes' sessions, 4 threads), then RssAnon of every node and the plane's bytes (plane_bytes_total,
     all planes, in + out) before and after, per name; then the idle plane traffic per node over --idle-s
     seconds, with the names and (before the fill) without them;
  c. kv.crdt: writes/s through one node's HTTP (1 caller, then 16), and the time until every node holds
     the last write (polled on every node).

    swift build -c release --product cohortd
    python3 Benchmarks/scripts/eventual.py                       # N = 10 and 50 (about 6 minutes)
    python3 Benchmarks/scripts/eventual.py --nodes 10 --names 20000 --quick
    python3 Benchmarks/scripts/eventual.py --out results.json

Standard output: a Markdown table per N, then every figure as JSON.
"""
import argparse, http.client, json, math, os, statistics, subprocess, sys, threading, time, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CLUSTER = os.path.join(ROOT, "scripts", "cluster.sh")
NET = "127.0.4"


def log(msg):
    print(f"[eventual {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def address(i):
    return f"{NET}.{i}"


class Client:
    """One keep-alive HTTP connection to a node's admin API."""

    def __init__(self, i, timeout=10):
        self.host = address(i)
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, 7960, timeout=self.timeout)
            try:
                data = None if body is None else json.dumps(body).encode()
                headers = {"content-type": "application/json"} if data is not None else {}
                self.conn.request(method, path, body=data, headers=headers)
                reply = self.conn.getresponse()
                payload = reply.read()
                return reply.status, payload
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")

    def json(self, method, path, body=None, expect=(200, 201)):
        status, payload = self.call(method, path, body)
        if status not in expect:
            raise RuntimeError(f"{method} {path} on {self.host}: HTTP {status} {payload[:200]!r}")
        return json.loads(payload) if payload else None


def cluster(command, *args, env):
    return subprocess.run(["bash", CLUSTER, command, *map(str, args)], env=env, check=True, capture_output=True, text=True)


def node_pids(directory, n):
    pids = {}
    for i in range(1, n + 1):
        with open(os.path.join(directory, f"n{i}", "pid")) as f:
            pids[i] = int(f.read().strip())
    return pids


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def metric_sum(client, name):
    status, payload = client.call("GET", "/metrics")
    total = 0.0
    for line in payload.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def nearest_rank(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def session(client):
    return client.json("POST", "/v1/sessions", {"ttl": "1h"})["pid"]


def visibility(n, args, clients):
    sessions = {i: session(clients[i]) for i in range(1, n + 1)}
    latencies = []
    for k in range(args.registrations):
        origin = k % n + 1
        name = f"vis-{n}-{k}-{time.time_ns()}"
        seen = {}
        start = threading.Event()

        def poll(i):
            client = Client(i)
            path = "/v1/names/" + urllib.parse.quote(name, safe="") + "?scope=eventual"
            start.wait()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status, _ = client.call("GET", path)
                if status == 200:
                    seen[i] = time.monotonic()
                    return
                time.sleep(max(args.poll_ms, n * 0.5) / 1000)

        threads = [threading.Thread(target=poll, args=(i,), daemon=True) for i in range(1, n + 1)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        clients[origin].json("POST", "/v1/names", {"name": name, "pid": sessions[origin], "scope": "eventual"})
        start.set()
        for t in threads:
            t.join(35)
        if len(seen) < n:
            log(f"registration {k}: only {len(seen)} of {n} nodes saw it within 30 s")
            continue
        latencies.append((max(seen.values()) - t0) * 1000)
    rounds = math.ceil(math.log(n) / math.log(4))
    limit = 4 * math.ceil(math.log10(n + 1))
    return {
        "registrations": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(nearest_rank(latencies, 99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "swim_expected_ms": rounds * 200,
        "swim_retransmit_window_ms": round(limit / 3 * 200),
    }


def names_memory(n, args, clients, pids):
    fillers = list(range(1, min(4, n) + 1))
    sessions = {i: session(clients[i]) for i in fillers}
    idle_before = idle_traffic(n, args, clients)
    rss_before = {i: rss_anon_kib(pids[i]) for i in range(1, n + 1)}
    bytes_before = sum(metric_sum(clients[i], "plane_bytes_total") for i in range(1, n + 1))
    per = args.names // len(fillers)
    errors = []

    def fill(i):
        client = Client(i)
        for k in range(per):
            status, payload = client.call("POST", "/v1/names", {"name": f"mem-{i}-{k}", "pid": sessions[i], "scope": "eventual"})
            if status != 201:
                errors.append((i, k, status, payload[:100]))
                return

    started = time.monotonic()
    threads = [threading.Thread(target=fill, args=(i,)) for i in fillers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fill_s = time.monotonic() - started
    if errors:
        raise RuntimeError(f"filling names failed: {errors[:3]}")
    total = per * len(fillers)
    at_fill_end = [metric_sum(clients[i], 'names_registered{scope="eventual"}') for i in range(1, n + 1)]
    # Every node holds every name: wait (bounded) until the last node's count is complete.
    deadline = time.monotonic() + 300
    converged_s = None
    while time.monotonic() < deadline:
        counts = [metric_sum(clients[i], 'names_registered{scope="eventual"}') for i in range(1, n + 1)]
        if all(c >= total for c in counts):
            converged_s = time.monotonic() - started
            break
        time.sleep(1)
    time.sleep(args.settle_s)  # let the last pulls and retransmissions finish before measuring idle
    rss_after = {i: rss_anon_kib(pids[i]) for i in range(1, n + 1)}
    bytes_after = sum(metric_sum(clients[i], "plane_bytes_total") for i in range(1, n + 1))
    idle_after = idle_traffic(n, args, clients)
    per_node_kib = statistics.median(rss_after[i] - rss_before[i] for i in range(1, n + 1))
    return {
        "names": total,
        "fill_s": round(fill_s, 1),
        "held_at_fill_end_min_pct": round(100 * min(at_fill_end) / total, 2),
        "all_nodes_hold_all_s": round(converged_s, 1) if converged_s else None,
        "rss_anon_bytes_per_name_median_node": round(per_node_kib * 1024 / total, 1),
        "plane_bytes_per_name_per_node": round((bytes_after - bytes_before) / total / n, 1),
        "idle_plane_bytes_per_s_per_node_without_names": idle_before,
        "idle_plane_bytes_per_s_per_node_with_names": idle_after,
    }


def idle_traffic(n, args, clients):
    before = sum(metric_sum(clients[i], "plane_bytes_total") for i in range(1, n + 1))
    time.sleep(args.idle_s)
    after = sum(metric_sum(clients[i], "plane_bytes_total") for i in range(1, n + 1))
    return round((after - before) / args.idle_s / n, 1)


def crdt(n, args, clients):
    client = clients[1]
    count = args.crdt_writes
    started = time.monotonic()
    for k in range(count):
        client.json("PUT", f"/v1/kv/k{k % 100}?store=cache", {"value": f"v{k}"})
    one = count / (time.monotonic() - started)
    done = []

    def writer(t):
        c = Client(1)
        for k in range(count // 16):
            c.json("PUT", f"/v1/kv/t{t}-{k % 50}?store=cache", {"value": f"w{k}"})
        done.append(t)

    started = time.monotonic()
    threads = [threading.Thread(target=writer, args=(t,)) for t in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sixteen = (count // 16 * 16) / (time.monotonic() - started)
    marker = f"last-{time.time_ns()}"
    t0 = time.monotonic()
    client.json("PUT", "/v1/kv/marker?store=cache", {"value": marker})
    deadline = time.monotonic() + 60
    pending = set(range(1, n + 1))
    while pending and time.monotonic() < deadline:
        for i in list(pending):
            status, payload = clients[i].call("GET", "/v1/kv/marker?store=cache")
            if status == 200 and marker in payload.decode():
                pending.discard(i)
        time.sleep(0.01)
    return {
        "writes_per_s_1_caller": round(one),
        "writes_per_s_16_callers": round(sixteen),
        "last_write_everywhere_ms": None if pending else round((time.monotonic() - t0) * 1000),
    }


def run(n, args):
    directory = f"/tmp/eventual-bench-{n}"
    subprocess.run(["rm", "-rf", directory], check=True)
    env = dict(os.environ, CLUSTER_DIR=directory, CLUSTER_NET=NET,
               CLUSTER_EXTRA_YAML="stores:\n  - name: cache\n    kind: kv.crdt\n    durable: false",
               CLUSTER_READY_TIMEOUT="180")
    if args.cohortd:
        env["CLUSTER_COHORTD"] = args.cohortd
    log(f"N={n}: starting the cluster")
    started = time.monotonic()
    cluster("up", n, env=env)
    log(f"N={n}: ready in {time.monotonic() - started:.1f} s")
    try:
        pids = node_pids(directory, n)
        clients = {i: Client(i) for i in range(1, n + 1)}
        result = {"nodes": n}
        log(f"N={n}: registration visibility")
        result["visibility"] = visibility(n, args, clients)
        if n == args.nodes[0] and args.names > 0:
            log(f"N={n}: {args.names} names")
            result["memory"] = names_memory(n, args, clients, pids)
        log(f"N={n}: kv.crdt")
        result["crdt"] = crdt(n, args, clients)
        return result
    finally:
        log(f"N={n}: stopping")
        cluster("down", env=env)


def table(results):
    lines = []
    for r in results:
        v = r["visibility"]
        lines.append(f"### N = {r['nodes']}")
        lines.append("| measure | value |")
        lines.append("|---|---|")
        lines.append(f"| eventual name visible on all nodes, p50 / p99 / max | {v['p50_ms']} / {v['p99_ms']} / {v['max_ms']} ms ({v['registrations']} names) |")
        lines.append(f"| SWIM: expected rounds to reach all / retransmit window | {v['swim_expected_ms']} / {v['swim_retransmit_window_ms']} ms |")
        if "memory" in r:
            m = r["memory"]
            lines.append(f"| {m['names']} names: anonymous memory per name (median node) | {m['rss_anon_bytes_per_name_median_node']} B |")
            lines.append(f"| plane bytes per name per node (in + out) | {m['plane_bytes_per_name_per_node']} B |")
            lines.append(f"| fill (4 nodes' sessions, 4 HTTP callers) / every node holds every name | {m['fill_s']} s / {m['all_nodes_hold_all_s']} s (at the fill's end the emptiest node held {m['held_at_fill_end_min_pct']} %) |")
            lines.append(f"| idle plane traffic per node, without / with the names | {m['idle_plane_bytes_per_s_per_node_without_names']} / {m['idle_plane_bytes_per_s_per_node_with_names']} B/s |")
        c = r["crdt"]
        lines.append(f"| kv.crdt writes/s, 1 / 16 callers | {c['writes_per_s_1_caller']} / {c['writes_per_s_16_callers']} |")
        lines.append(f"| kv.crdt last write on every node | {c['last_write_everywhere_ms']} ms |")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", default="10,50")
    parser.add_argument("--registrations", type=int, default=40)
    parser.add_argument("--names", type=int, default=100_000)
    parser.add_argument("--idle-s", type=float, default=30)
    parser.add_argument("--settle-s", type=float, default=15)
    parser.add_argument("--crdt-writes", type=int, default=3200)
    parser.add_argument("--poll-ms", type=float, default=5)
    parser.add_argument("--cohortd", default=None)
    parser.add_argument("--quick", action="store_true", help="fewer registrations, shorter idle window")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    args.nodes = [int(x) for x in args.nodes.split(",")]
    if args.quick:
        args.registrations, args.idle_s, args.crdt_writes, args.settle_s = 10, 10, 800, 5
    results = [run(n, args) for n in args.nodes]
    print(table(results))
    print(json.dumps(results, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
