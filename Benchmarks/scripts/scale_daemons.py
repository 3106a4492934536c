#!/usr/bin/env python3
"""N real `cohortd` daemons on one machine, all started at once: convergence, the settled Raft core,
failure detection, the idle leader's CPU, memory and connections per node.

    cd /work/main && swift build -c release --product cohortd --scratch-path /tmp/build-release
    python3 Benchmarks/scripts/scale_daemons.py --cohortd /tmp/build-release/release/cohortd --sizes 5 250
    python3 Benchmarks/scripts/scale_daemons.py --cohortd … --sizes 250 --wave 25 --wave-pause 15   # in waves

For every N (default 5 250):

  1. starts nodes 1..N with scripts/cluster.sh (CLUSTER_NET, default 127.0.9.x; fresh data in a temporary
     directory): every process is forked within about a second, all joining through node 1, the first three
     founding the Raft group (bootstrap_expect 3) — the mass start a new user does;
  2. records, from the first fork: when every node is ready (/readyz), when every node's gossip view shows
     N alive (`gossip_members{state="alive"}`), and when the leader's /v1/raft shows the bounded core
     (voters = min(5, largest odd ≤ N), standbys = min(4, N - voters));
     At convergence and when the core has settled: the CPU-seconds (utime + stime) all N processes used
     since they were forked (per node: the cluster's sum ÷ N), the machine's busy core-seconds in the same
     span (so what other processes used is known), and the membership events each node's subscribers
     handled (`gossip_convergence_seconds_count`: one per joined, left or updated member);
     with --joins-only the run stops here;
  3. after --settle seconds, a --window-second idle window in which nothing talks to the nodes: CPU % of one
     core per node from /proc/<pid>/stat (utime + stime), wake-ups per second (voluntary + involuntary context
     switches summed over /proc/<pid>/task/*/status), by role (leader, voter followers, standbys, clients:
     median and max);
  4. memory per node (/proc/<pid>/smaps_rollup: RSS, PSS, anonymous), open descriptors, mesh connections
     (`internode_connections`) and known mesh peers (`internode_peers`);
  5. SIGKILLs the last client and measures when each other node's /v1/members first shows it `dead` (every
     node polled in turn), against memberlist's suspicion timeout at N (suspicion_mult × log10(N) × probe
     interval, 4 × log10(N) × 1 s by default) — the time until it is dead everywhere;
  6. stops the cluster (cluster.sh down, then SIGKILL by PID) and removes its directory.

Writes Benchmarks/results/scale-daemons.json (every figure) unless --no-write, and prints a markdown table.
Only the Python standard library. Every process started is killed by PID in `finally`.
"""

import argparse
import concurrent.futures
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CLUSTER_SH = os.path.join(ROOT, "scripts", "cluster.sh")
RESULTS = os.path.join(ROOT, "Benchmarks", "results")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def http_get(url, timeout=3.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read().decode()
    except Exception:
        return None, None


def metric(text, series):
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith(series + " "):
            try:
                return float(line.split()[-1])
            except ValueError:
                return None
    return None


def proc_cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return None


def proc_switches(pid):
    total = 0
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/status" % (pid, task)) as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                            total += int(line.split()[1])
            except OSError:
                pass
    except OSError:
        return None
    return total


def proc_memory(pid):
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss", "Anonymous"):
                    out[key.lower()] = int(rest.split()[0]) / 1024.0
        out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        pass
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def mem_available_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024.0
    return None


def expected_core(n):
    voters = min(5, n if n % 2 else n - 1)
    return voters, min(4, n - voters)


class Cluster:
    def __init__(self, binary, n, net, wave=None, wave_pause=10.0):
        self.binary = binary
        self.n = n
        self.net = net
        self.dir = tempfile.mkdtemp(prefix="cohort-scale-%d-" % n)
        self.env = dict(os.environ, CLUSTER_DIR=self.dir, CLUSTER_COHORTD=binary, CLUSTER_NET=net,
                        CLUSTER_READY_TIMEOUT=str(int(os.environ.get("SCALE_READY_TIMEOUT", "900"))))
        if wave:
            self.env["CLUSTER_WAVE"] = str(wave)
            self.env["CLUSTER_WAVE_PAUSE"] = str(wave_pause)
        self.pids = {}
        self.started = None

    def ip(self, i):
        return "%s.%d" % (self.net, i)

    def base(self, i):
        return "http://%s:7960" % self.ip(i)

    def up(self):
        self.started = time.monotonic()
        proc = subprocess.Popen([CLUSTER_SH, "up", str(self.n)], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        # The PID files appear as the nodes are forked.
        deadline = time.monotonic() + 60 + (self.n / int(self.env.get("CLUSTER_WAVE", self.n))) * float(self.env.get("CLUSTER_WAVE_PAUSE", 0))
        while len(self.pids) < self.n and time.monotonic() < deadline:
            self.read_pids()
            time.sleep(0.05)
        forked = time.monotonic() - self.started
        output, _ = proc.communicate(timeout=1000)
        if proc.returncode != 0:
            raise RuntimeError("cluster.sh up failed: %s" % output[-2000:])
        # Every PID file exists now (a slow fork of hundreds of nodes can outlast the loop above).
        self.read_pids()
        return forked, time.monotonic() - self.started

    def read_pids(self):
        """Reads the PID files of the nodes not known yet (cluster.sh writes one as it forks each)."""
        for i in range(1, self.n + 1):
            if i not in self.pids:
                try:
                    with open(os.path.join(self.dir, "n%d" % i, "pid")) as f:
                        self.pids[i] = int(f.read().strip())
                except (OSError, ValueError):
                    pass

    def down(self):
        subprocess.run([CLUSTER_SH, "down"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120)
        for pid in self.pids.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def poll_all(cluster, indices, fetch, pool):
    return dict(zip(indices, pool.map(fetch, indices)))


def join_cost(cluster, pool, busy0):
    """CPU-seconds the cluster's processes used since forked, the machine's busy core-seconds since
    `busy0`, and the membership events per node so far."""
    ticks = [proc_cpu_ticks(p) for p in cluster.pids.values()]
    ticks = [t for t in ticks if t is not None]
    cpu_s = sum(ticks) / CLK_TCK
    texts = poll_all(cluster, list(cluster.pids), lambda i: http_get(cluster.base(i) + "/metrics")[1], pool)
    events = [metric(t, "gossip_convergence_seconds_count") for t in texts.values()]
    events = [e for e in events if e is not None]
    return {"cluster_cpu_s": cpu_s, "cpu_s_per_node": cpu_s / max(1, len(ticks)), "processes_counted": len(ticks),
            "machine_busy_core_s": (machine_busy() - busy0) / CLK_TCK,
            "others_core_s": (machine_busy() - busy0) / CLK_TCK - cpu_s,
            "membership_events_per_node": summarize(events), "load": loadavg()}


def wait_converged(cluster, pool, deadline_s):
    n = cluster.n
    indices = list(range(1, n + 1))
    while time.monotonic() - cluster.started < deadline_s:
        views = poll_all(cluster, indices,
                         lambda i: metric(http_get(cluster.base(i) + "/metrics")[1], 'gossip_members{state="alive"}'), pool)
        done = sum(1 for v in views.values() if v == n)
        if done == n:
            return time.monotonic() - cluster.started
        log("  converged: %d/%d nodes see %d alive" % (done, n, n))
        time.sleep(1.0)
    return None


def raft_status(cluster, i):
    status, body = http_get(cluster.base(i) + "/v1/raft")
    if status != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def wait_core(cluster, deadline_s):
    voters, standbys = expected_core(cluster.n)
    while time.monotonic() - cluster.started < deadline_s:
        status = raft_status(cluster, 1)
        leader = status and status.get("leader")
        if leader:
            lead = raft_status(cluster, int(leader[1:]))
            if lead and len(lead.get("voters", [])) == voters and len(lead.get("standbys", [])) == standbys:
                return time.monotonic() - cluster.started, lead
        time.sleep(1.0)
    return None, None


def idle_window(cluster, window, pool):
    pids = cluster.pids
    t0 = time.monotonic()
    cpu0 = {i: proc_cpu_ticks(p) for i, p in pids.items()}
    sw0 = {i: proc_switches(p) for i, p in pids.items()}
    load0 = loadavg()
    busy0 = machine_busy()
    time.sleep(window)
    elapsed = time.monotonic() - t0
    cpu1 = {i: proc_cpu_ticks(p) for i, p in pids.items()}
    sw1 = {i: proc_switches(p) for i, p in pids.items()}
    busy1 = machine_busy()
    cpu = {}
    wakeups = {}
    for i in pids:
        if cpu0[i] is not None and cpu1[i] is not None:
            cpu[i] = 100.0 * (cpu1[i] - cpu0[i]) / CLK_TCK / elapsed
        if sw0[i] is not None and sw1[i] is not None:
            wakeups[i] = (sw1[i] - sw0[i]) / elapsed
    total_cluster = sum(cpu.values()) / 100.0
    machine = (busy1 - busy0) / CLK_TCK / elapsed
    return cpu, wakeups, {"load_start": load0, "load_end": loadavg(), "machine_cores_busy": machine,
                          "cluster_cores_busy": total_cluster, "others_cores_busy": machine - total_cluster,
                          "window_s": elapsed}


def machine_busy():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields[:8]) - idle


def roles(cluster, lead):
    leader = int(lead["leader"][1:])
    voters = {int(v[1:]) for v in lead.get("voters", [])}
    standbys = {int(s[1:]) for s in lead.get("standbys", [])}
    out = {}
    for i in cluster.pids:
        if i == leader:
            out[i] = "leader"
        elif i in voters:
            out[i] = "follower"
        elif i in standbys:
            out[i] = "standby"
        else:
            out[i] = "client"
    return out


def summarize(values):
    if not values:
        return None
    return {"median": statistics.median(values), "max": max(values), "min": min(values), "count": len(values)}


def detect_death(cluster, victim, pool, limit_s):
    name = "n%d" % victim
    others = [i for i in cluster.pids if i != victim]
    os.kill(cluster.pids[victim], signal.SIGKILL)
    killed = time.monotonic()
    seen = {}

    def state_of(i):
        status, body = http_get(cluster.base(i) + "/v1/members", timeout=5)
        if status != 200:
            return None
        try:
            for member in json.loads(body):
                if member.get("name") == name:
                    return member.get("state")
        except ValueError:
            return None
        return "gone"

    while len(seen) < len(others) and time.monotonic() - killed < limit_s:
        pending = [i for i in others if i not in seen]
        states = poll_all(cluster, pending, state_of, pool)
        now = time.monotonic() - killed
        for i, state in states.items():
            if state in ("dead", "gone"):
                seen[i] = now
        time.sleep(0.2)
    return seen, len(others)


def run_size(binary, n, net, args, pool):
    log("N=%d: starting %d nodes at once" % (n, n))
    cluster = Cluster(binary, n, net, wave=args.wave, wave_pause=args.wave_pause)
    result = {"n": n, "mem_available_before_mib": mem_available_mib(), "load_before": loadavg(),
              "start": "all at once" if not args.wave else "waves of %d every %g s" % (args.wave, args.wave_pause)}
    try:
        busy0 = machine_busy()
        forked, ready = cluster.up()
        result["forked_s"] = forked
        result["all_ready_s"] = ready
        log("  forked in %.1f s, all ready at %.1f s" % (forked, ready))
        result["converged_s"] = wait_converged(cluster, pool, args.deadline)
        log("  every node sees N alive at %s s" % result["converged_s"])
        if result["converged_s"] is not None:
            result["cost_until_converged"] = join_cost(cluster, pool, busy0)
            log("  until converged: %.3f CPU-s per node, %s membership events per node (median)" % (
                result["cost_until_converged"]["cpu_s_per_node"],
                (result["cost_until_converged"]["membership_events_per_node"] or {}).get("median")))
        core_s, lead = wait_core(cluster, args.deadline)
        result["core_settled_s"] = core_s
        if lead is None:
            raise RuntimeError("the Raft core did not settle within %d s" % args.deadline)
        result["voters"] = lead.get("voters")
        result["standbys"] = lead.get("standbys")
        result["cost_until_core_settled"] = join_cost(cluster, pool, busy0)
        log("  core settled at %.1f s: %d voters, %d standbys; %.3f CPU-s per node since the start" % (
            core_s, len(result["voters"]), len(result["standbys"]), result["cost_until_core_settled"]["cpu_s_per_node"]))
        if args.joins_only:
            return result
        time.sleep(args.settle)
        role_of = roles(cluster, lead)
        cpu, wakeups, conditions = idle_window(cluster, args.window, pool)
        result["conditions"] = conditions
        by_role = {}
        for role in ("leader", "follower", "standby", "client"):
            members = [i for i, r in role_of.items() if r == role]
            by_role[role] = {
                "cpu_percent": summarize([cpu[i] for i in members if i in cpu]),
                "wakeups_per_s": summarize([wakeups[i] for i in members if i in wakeups]),
            }
        result["by_role"] = by_role
        memory = {i: proc_memory(p) for i, p in cluster.pids.items()}
        texts = poll_all(cluster, list(cluster.pids), lambda i: http_get(cluster.base(i) + "/metrics")[1], pool)
        connections = {i: metric(t, "internode_connections") for i, t in texts.items()}
        peers = {i: metric(t, "internode_peers") for i, t in texts.items()}
        result["memory_by_role"] = {}
        for role in ("leader", "follower", "standby", "client"):
            members = [i for i, r in role_of.items() if r == role]
            result["memory_by_role"][role] = {
                key: summarize([memory[i][key] for i in members if key in memory[i]]) for key in ("rss", "pss", "anonymous", "fds")
            }
            result["memory_by_role"][role]["connections"] = summarize([connections[i] for i in members if connections[i] is not None])
        result["mesh_connections_total"] = sum(c for c in connections.values() if c) / 2
        result["mesh_peers_median"] = statistics.median([p for p in peers.values() if p is not None] or [0])
        result["cluster_rss_mib"] = sum(m.get("rss", 0) for m in memory.values())
        result["cluster_pss_mib"] = sum(m.get("pss", 0) for m in memory.values())
        result["mem_available_settled_mib"] = mem_available_mib()
        clients = [i for i, r in role_of.items() if r == "client"]
        victim = max(clients) if clients else None
        if victim is not None:
            log("  SIGKILL n%d (a client)" % victim)
            seen, others = detect_death(cluster, victim, pool, args.detect_limit)
            times = sorted(seen.values())
            result["death"] = {
                "victim": "n%d" % victim, "observers": others, "declared_by": len(times),
                "first_s": times[0] if times else None, "median_s": statistics.median(times) if times else None,
                "everywhere_s": times[-1] if len(times) == others else None,
                "memberlist_suspicion_timeout_s": 4 * max(1.0, math.log10(n)) * 1.0,
            }
            log("  dead everywhere at %s s (first %s s)" % (result["death"]["everywhere_s"], result["death"]["first_s"]))
    finally:
        cluster.down()
    return result


def table(results):
    lines = ["| N | all ready | converged | CPU-s/node until converged | events/node until converged | core settled | leader CPU % | follower | standby | client (median) | leader wake-ups/s | client wake-ups/s | leader RSS / PSS / anon MiB | client RSS / PSS / anon MiB | mesh connections (total) | dead everywhere |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def fmt(v, spec="%.3f"):
        return "–" if v is None else spec % v

    for r in results:
        role = r.get("by_role", {})
        mem = r.get("memory_by_role", {})

        def cpu(name):
            s = role.get(name, {}).get("cpu_percent")
            return fmt(s and s["median"])

        def wake(name):
            s = role.get(name, {}).get("wakeups_per_s")
            return fmt(s and s["median"], "%.1f")

        def memory(name):
            m = mem.get(name, {})
            return " / ".join(fmt(m.get(k) and m[k]["median"], "%.1f") for k in ("rss", "pss", "anonymous"))

        death = r.get("death") or {}
        cost = r.get("cost_until_converged") or {}
        events = cost.get("membership_events_per_node") or {}
        lines.append("| %d | %s s | %s s | %s | %s | %s s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s s |" % (
            r["n"], fmt(r.get("all_ready_s"), "%.1f"), fmt(r.get("converged_s"), "%.1f"), fmt(cost.get("cpu_s_per_node"), "%.3f"),
            fmt(events.get("median"), "%.0f"), fmt(r.get("core_settled_s"), "%.1f"),
            cpu("leader"), cpu("follower"), cpu("standby"), cpu("client"), wake("leader"), wake("client"),
            memory("leader"), memory("client"), fmt(r.get("mesh_connections_total"), "%.0f"), fmt(death.get("everywhere_s"), "%.1f")))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohortd", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 250])
    parser.add_argument("--net", default="127.0.9")
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--deadline", type=float, default=900.0, help="give up on convergence/settling after this (s)")
    parser.add_argument("--detect-limit", type=float, default=120.0)
    parser.add_argument("--wave", type=int, default=None, help="start the nodes in waves of this many (default: all at once)")
    parser.add_argument("--wave-pause", type=float, default=10.0)
    parser.add_argument("--out", default=os.path.join(RESULTS, "scale-daemons.json"))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--joins-only", action="store_true",
                        help="stop after convergence and the settled core (no idle window, no failure detection)")
    args = parser.parse_args()
    binary = os.path.abspath(args.cohortd)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        for n in args.sizes:
            results.append(run_size(binary, n, args.net, args, pool))
            time.sleep(5)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit, "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                                      "mem_total_mib": _mem_total()},
        "settings": {"settle_s": args.settle, "window_s": args.window, "joins_only": args.joins_only}, "results": results,
    }
    print(table(results))
    if not args.no_write:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
        log("wrote %s" % args.out)


def _mem_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024.0
    return None


if __name__ == "__main__":
    main()
