#!/usr/bin/env python3
"""Gossip benchmark: real cohortd processes next to Go memberlist 0.2.2 nodes at the same settings (LAN
defaults), measured in the same run: join convergence, SIGKILL to first suspicion and to dead-everywhere,
idle CPU per node. Loopback only (127.<x>.0.<i>); every wait is bounded; everything started is killed.

Join convergence is reported two ways, the same for both implementations:
- from start: from the moment the N−1 joiners are spawned to the moment the last node's view shows N alive;
- from bound: from the moment the last node's gossip UDP socket appeared in /proc/net/udp (sampled every
  5 ms, so process start-up — runtime, storage, admin server — is excluded) to that same moment.
Each node's view is polled by a pool of threads, only until it first shows N alive, so a converged node is
not polled again and polling one implementation's slower HTTP endpoint does not delay noticing the others;
the time recorded is when the poll that saw N was sent (the view was at N by then or at most one poll
interval before, --poll, default 50 ms).

    swift build -c release && Tools/memberlist-peer/build.sh
    python3 Benchmarks/scripts/gossip_vs_memberlist.py --n 10 50 --idle 30

A cohortd node announces its node metadata in every alive message (28 bytes in such a cluster: internode
port, role, priority, bootstrap state, boot id, version; 45 on a Raft member, which adds the group id); the Go
nodes announce none. `--go-meta-bytes K` adds a third cluster per round, memberlist nodes carrying K bytes of
metadata each and names as long as cohortd's (`go+meta`, nodes `gometa-<i>`), so that the comparison can
separate what the payload costs from what the implementation costs.
"""
import argparse, concurrent.futures, json, os, platform, shutil, signal, subprocess, sys, tempfile, threading, time, urllib.request

def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return json.loads(r.read())
    except Exception:
        return None

def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0

def udp_hex(ip, port):
    """How /proc/net/udp spells ip:port (the address as a little-endian u32)."""
    a, b, c, d = (int(x) for x in ip.split("."))
    return f"{d:02X}{c:02X}{b:02X}{a:02X}:{port:04X}"

class BindWatcher(threading.Thread):
    """Records when each address first has a bound UDP socket, sampling /proc/net/udp every 5 ms."""
    def __init__(self, addresses):
        super().__init__(daemon=True)
        self.wanted = {udp_hex(ip, port): ip for ip, port in addresses}
        self.bound, self.stopped = {}, threading.Event()

    def run(self):
        while not self.stopped.is_set() and len(self.bound) < len(self.wanted):
            now = time.monotonic()
            try:
                with open("/proc/net/udp") as f:
                    for line in f.read().splitlines()[1:]:
                        local = line.split()[1]
                        if local in self.wanted and local not in self.bound:
                            self.bound[local] = now
            except OSError:
                pass
            time.sleep(0.005)

    def times(self):
        return {self.wanted[k]: t for k, t in self.bound.items()}

class Cluster:
    def __init__(self, kind, n, subnet, args, workdir):
        self.kind, self.n, self.subnet, self.args, self.workdir = kind, n, subnet, args, workdir
        self.procs, self.names = [], [f"{'gometa' if kind == 'go+meta' else kind}-{i}" for i in range(1, n + 1)]
        self.spawned = {}

    def ip(self, i):
        return f"127.{self.subnet}.0.{i}"

    def start(self, i, join):
        name, ip = self.names[i - 1], self.ip(i)
        log = open(os.path.join(self.workdir, f"{name}.log"), "w")
        if self.kind == "cohort":
            env = dict(os.environ, COHORT_CLUSTER_ENABLED="true", COHORT_CLUSTER_NAME=name,
                       COHORT_CLUSTER_MEMBERSHIP_BIND_ADDR=ip, COHORT_JOIN_ADDRS=join,
                       COHORT_ADMIN_ADDRESS=f"{ip}:7960", COHORT_DATA_DIR=os.path.join(self.workdir, name),
                       COHORT_LOG_LEVEL="warning")
            p = subprocess.Popen([self.args.cohortd], env=env, stdout=log, stderr=log)
        else:
            cmd = [self.args.peer, "-name", name, "-bind", ip, "-port", "7946", "-http", f"{ip}:7999",
                   "-config", "lan", "-join", join, "-join-timeout", "60s"]
            if self.kind == "go+meta":
                cmd += ["-meta", "m" * self.args.go_meta_bytes]
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        self.spawned[i] = time.monotonic()
        self.procs.append(p)
        return p

    def members(self, i):
        url = f"http://{self.ip(i)}:7960/v1/members" if self.kind == "cohort" else f"http://{self.ip(i)}:7999/members"
        return get_json(url) or []

    def state(self, i, name):
        for m in self.members(i):
            if m.get("name") == name:
                return m.get("state")
        return None

    def alive_count(self, i):
        return sum(1 for m in self.members(i) if m.get("state") == "alive")

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait()

def wait(limit, predicate, poll=0.1):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False

def converge(c, n, limit, poll, workers=8):
    """Polls every node's view in parallel until it first shows n alive; returns {node: time} (partial on timeout)."""
    seen, deadline = {}, time.monotonic() + limit
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        def check(i):
            sent = time.monotonic()
            return i, sent, c.alive_count(i) == n
        while len(seen) < n and time.monotonic() < deadline:
            started = time.monotonic()
            for i, sent, ok in pool.map(check, [i for i in range(1, n + 1) if i not in seen]):
                if ok:
                    seen[i] = sent
            time.sleep(max(0.0, poll - (time.monotonic() - started)))
    return seen

def run(kind, n, subnet, args, joins_only=False):
    workdir = tempfile.mkdtemp(prefix=f"gossip-bench-{kind}-")
    c = Cluster(kind, n, subnet, args, workdir)
    result = {"kind": kind, "n": n}
    try:
        c.start(1, "")
        assert wait(20, lambda: c.members(1)), f"{kind} seed did not come up"
        watcher = BindWatcher([(c.ip(i), 7946) for i in range(2, n + 1)])
        watcher.start()
        t0 = time.monotonic()
        for i in range(2, n + 1):
            c.start(i, f"{c.ip(1)}:7946")
        seen = converge(c, n, 60, args.poll)
        result["cluster_cpu_s"] = sum(cpu_seconds(p.pid) for p in c.procs)
        watcher.stopped.set()
        watcher.join()
        bound = watcher.times()
        startup = sorted(bound[c.ip(i)] - c.spawned[i] for i in range(2, n + 1) if c.ip(i) in bound)
        result["spawn_s"] = c.spawned[n] - t0
        result["startup_median_s"] = startup[len(startup) // 2] if startup else None
        result["startup_max_s"] = startup[-1] if startup else None
        if len(seen) == n:
            done = max(seen.values())
            result["converge_s"] = done - t0
            result["converge_from_bound_s"] = done - max(bound.values()) if len(bound) == n - 1 else None
        else:
            result["converge_s"] = result["converge_from_bound_s"] = None
            result["converged_nodes"] = len(seen)
        if joins_only or args.joins_only:
            return result
        time.sleep(3)
        cpu0, w0 = [cpu_seconds(p.pid) for p in c.procs], time.monotonic()
        time.sleep(args.idle)
        cpu1, w1 = [cpu_seconds(p.pid) for p in c.procs], time.monotonic()
        per_node = [(b - a) / (w1 - w0) * 100 for a, b in zip(cpu0, cpu1)]
        result["idle_cpu_pct_mean"] = sum(per_node) / len(per_node)
        result["idle_cpu_pct_max"] = max(per_node)
        victim = n  # a non-seed node
        name = c.names[victim - 1]
        survivors = [i for i in range(1, n + 1) if i != victim]
        c.procs[victim - 1].send_signal(signal.SIGKILL)
        tk = time.monotonic()
        first_suspect, seen_dead = [None], set()
        def dead_everywhere():
            for i in survivors:
                if i in seen_dead:
                    continue
                s = c.state(i, name)
                if s in ("suspect", "dead") and first_suspect[0] is None:
                    first_suspect[0] = time.monotonic() - tk
                if s == "dead":
                    seen_dead.add(i)
            return len(seen_dead) == len(survivors)
        ok = wait(120, dead_everywhere, poll=0.2)
        result["suspect_s"] = first_suspect[0]
        result["dead_everywhere_s"] = time.monotonic() - tk if ok else None
    finally:
        c.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cohortd", default=".build/release/cohortd")
    ap.add_argument("--peer", default=".build-go/memberlist-peer")
    ap.add_argument("--n", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--poll", type=float, default=0.1, help="seconds between polls of a node's view while joining")
    ap.add_argument("--repeat", type=int, default=1, help="join rounds per N and implementation (fresh clusters)")
    ap.add_argument("--joins-only", action="store_true", help="measure joins only (no idle CPU, no failure detection)")
    ap.add_argument("--go-meta-bytes", type=int, default=0,
                    help="also run memberlist nodes carrying this many bytes of metadata each (kind go+meta), as a "
                         "cohortd node carries its node metadata; 0 = not run")
    args = ap.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}; LAN defaults on both sides; "
          f"load average before: {os.getloadavg()}")
    rows = []
    for n in args.n:
        for repeat in range(args.repeat):
            # cohort and go alternate, so both see the same background load; idle CPU and failure
            # detection are measured in the last round only.
            for k, kind in enumerate(kinds(args)):
                r = run(kind, n, 100 + (2 * len(rows) + k) % 150, args, joins_only=repeat < args.repeat - 1)
                r["load1"] = os.getloadavg()[0]
                rows.append(r)
                print(json.dumps(r), flush=True)
    print(f"load average after: {os.getloadavg()}")
    print_table(rows, args.n, kinds(args))

def kinds(args):
    return ["cohort", "go"] + (["go+meta"] if args.go_meta_bytes > 0 else [])

def print_table(rows, ns, kinds):
    print("(—: did not converge within 60 s; medians are over the rounds that did)")
    fmt = lambda v, u=" s": "—" if v is None else f"{v:.2f}{u}"
    def median(vs):
        done = sorted(v for v in vs if v is not None)
        return done[len(done) // 2] if done else None
    print("\n| N | impl | runs | join convergence from start (median; all) | from last gossip bind (median; all) | "
          "start-up spawn→bound (median, max) | cluster CPU until converged (median) | kill→first suspect | kill→dead everywhere | idle CPU/node (mean, max) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for n in ns:
        for kind in kinds:
            rs = [r for r in rows if r["n"] == n and r["kind"] == kind]
            conv = [r.get("converge_s") for r in rs]
            bound = [r.get("converge_from_bound_s") for r in rs]
            summary[(n, kind)] = (median(conv), median(bound))
            last = rs[-1]  # the round that measured idle CPU and failure detection
            idle = "—" if "idle_cpu_pct_mean" not in last else f"{last['idle_cpu_pct_mean']:.3f}%, {last['idle_cpu_pct_max']:.3f}%"
            print(f"| {n} | {kind} | {len(rs)} | {fmt(median(conv))} ({', '.join(fmt(v, '') for v in conv)}) | "
                  f"{fmt(median(bound))} ({', '.join(fmt(v, '') for v in bound)}) | "
                  f"{fmt(median([r.get('startup_median_s') for r in rs]))}, {fmt(max((r.get('startup_max_s') or 0) for r in rs))} | "
                  f"{fmt(median([r.get('cluster_cpu_s') for r in rs if r.get('converge_s') is not None]))} | "
                  f"{fmt(last.get('suspect_s'))} | {fmt(last.get('dead_everywhere_s'))} | {idle} |")
    ratio = lambda a, b: "—" if not a or not b else f"{a / b:.2f}"
    for n in ns:
        (cs, cb), (gs, gb) = summary[(n, "cohort")], summary[(n, "go")]
        print(f"N={n} cohort/go ratios (medians): convergence from start {ratio(cs, gs)}, from last bind {ratio(cb, gb)}")
        if (n, "go+meta") in summary:
            ms, mb = summary[(n, "go+meta")]
            print(f"N={n} cohort/go+meta ratios (medians): convergence from start {ratio(cs, ms)}, from last bind {ratio(cb, mb)}")

if __name__ == "__main__":
    sys.exit(main())
