#!/usr/bin/env python3
"""Gossip benchmark: real cohortd processes next to Go memberlist 0.2.2 nodes at the same settings (LAN
defaults), measured in the same run: join convergence, SIGKILL to first suspicion and to dead-everywhere,
idle CPU per node. Loopback only (127.0.<x>.<i>); every wait is bounded; everything started is killed.

    swift build -c release && Tools/memberlist-peer/build.sh
    python3 Benchmarks/scripts/gossip_vs_memberlist.py --n 10 50 --idle 30
"""
import argparse, json, os, platform, shutil, signal, subprocess, sys, tempfile, time, urllib.request

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

class Cluster:
    def __init__(self, kind, n, subnet, args, workdir):
        self.kind, self.n, self.subnet, self.args, self.workdir = kind, n, subnet, args, workdir
        self.procs, self.names = [], [f"{kind}-{i}" for i in range(1, n + 1)]

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
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
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

def run(kind, n, subnet, args):
    workdir = tempfile.mkdtemp(prefix=f"gossip-bench-{kind}-")
    c = Cluster(kind, n, subnet, args, workdir)
    result = {"kind": kind, "n": n}
    try:
        c.start(1, "")
        assert wait(20, lambda: c.members(1)), f"{kind} seed did not come up"
        t0 = time.monotonic()
        for i in range(2, n + 1):
            c.start(i, f"{c.ip(1)}:7946")
        ok = wait(60, lambda: all(c.alive_count(i) == n for i in range(1, n + 1)), poll=0.1)
        result["converge_s"] = time.monotonic() - t0 if ok else None
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
    args = ap.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}; LAN defaults on both sides")
    rows = []
    for n in args.n:
        for k, kind in enumerate(["cohort", "go"]):
            r = run(kind, n, 150 + 2 * len(rows) + k, args)
            rows.append(r)
            print(json.dumps(r), flush=True)
    print("\n| N | impl | join convergence | kill→first suspect | kill→dead everywhere | idle CPU/node (mean, max) |")
    print("|---|---|---|---|---|---|")
    fmt = lambda v, u="s": "—" if v is None else f"{v:.2f} {u}"
    for r in rows:
        print(f"| {r['n']} | {r['kind']} | {fmt(r.get('converge_s'))} | {fmt(r.get('suspect_s'))} | "
              f"{fmt(r.get('dead_everywhere_s'))} | {r['idle_cpu_pct_mean']:.3f}%, {r['idle_cpu_pct_max']:.3f}% |")
    for n in args.n:
        c = next(r for r in rows if r["n"] == n and r["kind"] == "cohort")
        g = next(r for r in rows if r["n"] == n and r["kind"] == "go")
        ratio = lambda a, b: "—" if not a or not b else f"{a / b:.2f}"
        print(f"N={n} cohort/go ratios: convergence {ratio(c.get('converge_s'), g.get('converge_s'))}, "
              f"dead-everywhere {ratio(c.get('dead_everywhere_s'), g.get('dead_everywhere_s'))}, "
              f"idle CPU {ratio(c['idle_cpu_pct_mean'], g['idle_cpu_pct_mean'])}")

if __name__ == "__main__":
    sys.exit(main())
