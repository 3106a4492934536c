#!/usr/bin/env python3
"""Wakeups and CPU of idle `cohortd` nodes, per role (leader, follower, standby, client), with real daemons.

    swift build -c release --product cohortd --scratch-path /tmp/build-rel
    python3 Benchmarks/scripts/idle_wakeups.py --cohortd /tmp/build-rel/release/cohortd

It starts N nodes (default 7) with scripts/cluster.sh on CLUSTER_NET (default 127.0.7, so it does not collide
with idle_leader_cpu.py's 127.0.1) with `cluster.raft.max_voters` 3 and `max_standbys` 2 (N=7: a leader, 2
followers, 2 standbys and 2 gossip-only clients), waits until the leader's /v1/raft shows that configuration
and every node agrees on the leader, lets it settle, then reads at both ends of a window (default 60 s) in
which nothing talks to the nodes:

  - wakeups: voluntary + nonvoluntary context switches summed over /proc/<pid>/task/*/status (a thread
    that sleeps and is woken counts one; robust when other processes load the machine, unlike CPU time);
  - CPU: utime + stime of /proc/<pid>/stat → % of one core (10 ms ticks: noisy when others build), and the
    same from /proc/<pid>/task/*/schedstat (nanoseconds on a CPU, summed over the threads alive at the
    window's end: a thread that exits within the window takes its time with it, which at idle is rare);
  - per thread name (/proc/<pid>/task/*/comm), the wakeups of the busiest threads of each role.

Prints one table per role (median over the nodes of the role) and the load average at the window's start
and end. Bounded: the cluster is stopped (cluster.sh down, then SIGKILL by PID) and its directory removed in
`finally`, whatever happens. Python standard library only.
"""

import argparse
import collections
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

# The /proc readers, logging and signal handling idle_leader_cpu.py already has.
from idle_leader_cpu import Interrupted, _on_signal, log, process_ticks

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CLUSTER_SH = os.path.join(ROOT, "scripts", "cluster.sh")
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROLES = ("leader", "follower", "standby", "client")


def thread_switches(pid):
    """{tid: (comm, voluntary + nonvoluntary context switches, ns on a CPU)} of the process's live threads."""
    threads = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return threads
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                comm = f.read().strip()
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                count = 0
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        count += int(line.split()[1])
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ran = int(f.read().split()[0])
            threads[tid] = (comm, count, ran)
        except (OSError, ValueError, IndexError):
            pass
    return threads


def load_average():
    with open("/proc/loadavg") as f:
        return "/".join(f.read().split()[:3])


def http_json(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except Exception:
        return None


class Cluster:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="idle-wakeups-%d-" % args.nodes)
        self.pids = {}

    def ip(self, i):
        return "%s.%d" % (self.args.net, i)

    def env(self):
        env = dict(os.environ)
        env.update(CLUSTER_DIR=self.dir, CLUSTER_COHORTD=self.args.cohortd, CLUSTER_NET=self.args.net,
                   CLUSTER_READY_TIMEOUT=str(self.args.ready_timeout),
                   CLUSTER_NODE_ENV="COHORT_CLUSTER_RAFT_MAX_VOTERS=%d COHORT_CLUSTER_RAFT_MAX_STANDBYS=%d" % (
                       self.args.voters, self.args.standbys))
        return env

    def up(self):
        # Another cluster on these addresses would answer for ours (and ours would not bind).
        for i in range(1, self.args.nodes + 1):
            try:
                socket.create_connection((self.ip(i), 7960), timeout=0.5).close()
            except OSError:
                continue
            raise RuntimeError("%s:7960 is already in use (another cluster on %s.x?)" % (self.ip(i), self.args.net))
        try:
            run = subprocess.run(["bash", CLUSTER_SH, "up", str(self.args.nodes)], env=self.env(),
                                 capture_output=True, text=True, timeout=self.args.ready_timeout + 60,
                                 start_new_session=True)
        finally:
            for i in range(1, self.args.nodes + 1):
                try:
                    with open(os.path.join(self.dir, "n%d" % i, "pid")) as f:
                        self.pids[i] = int(f.read().strip())
                except (OSError, ValueError):
                    pass
        if run.returncode != 0:
            raise RuntimeError("cluster.sh up failed: %s" % (run.stderr or run.stdout).strip()[-1500:])

    def wait_for_roles(self, timeout):
        """The roles once the cluster reached its configuration (see roles()); raises after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            roles = self.roles()
            if roles is not None:
                return roles
            time.sleep(1.0)
        raise RuntimeError("the cluster did not reach its configuration within %g s" % timeout)

    def roles(self):
        """{node index: role} once the leader shows the expected configuration and every node agrees, else None."""
        statuses = {i: http_json("http://%s:7960/v1/raft" % self.ip(i)) for i in self.pids}
        leaders = [i for i, s in statuses.items() if s and s.get("state") == "leader"]
        if len(leaders) != 1:
            return None
        lead = statuses[leaders[0]]
        voters, standbys = set(lead.get("voters", [])), set(lead.get("standbys", []))
        want_voters = min(self.args.voters, self.args.nodes)
        if len(voters) != want_voters or len(standbys) != min(self.args.standbys, self.args.nodes - want_voters):
            return None
        roles = {}
        for i, s in statuses.items():
            name = "n%d" % i
            if not s:
                return None
            if i == leaders[0]:
                roles[i] = "leader"
            elif name in voters or name in standbys:
                if s.get("leader") != lead.get("leader"):
                    return None
                roles[i] = "follower" if name in voters else "standby"
            else:
                roles[i] = "client"
        return roles

    def down(self):
        try:
            subprocess.run(["bash", CLUSTER_SH, "down"], env=self.env(), capture_output=True, text=True,
                           timeout=40, start_new_session=True)
        except subprocess.TimeoutExpired:
            pass
        finally:
            for pid in self.pids.values():
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            shutil.rmtree(self.dir, ignore_errors=True)


def measure(pids, window):
    start = {i: (process_ticks(p), thread_switches(p)) for i, p in pids.items()}
    began = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - began
    end = {i: (process_ticks(p), thread_switches(p)) for i, p in pids.items()}
    result = {}
    for i in pids:
        (t0, th0), (t1, th1) = start[i], end[i]
        if t0 is None or t1 is None:
            result[i] = None
            continue
        per_name = collections.Counter()
        ran = 0
        for tid, (comm, count, ns) in th1.items():
            before = th0.get(tid, (comm, 0, 0))
            per_name[comm] += count - before[1]
            ran += ns - before[2]
        result[i] = {
            "cpu_pct": 100.0 * (t1 - t0) / CLK_TCK / elapsed,
            "sched_cpu_pct": 100.0 * ran / 1e9 / elapsed,
            "wakeups": sum(per_name.values()) / elapsed,
            "threads": {comm: count / elapsed for comm, count in per_name.items()},
        }
    return result, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohortd", required=True, help="release cohortd binary")
    parser.add_argument("--nodes", type=int, default=7, help="N (default 7)")
    parser.add_argument("--voters", type=int, default=3, help="cluster.raft.max_voters (default 3)")
    parser.add_argument("--standbys", type=int, default=2, help="cluster.raft.max_standbys (default 2)")
    parser.add_argument("--net", default="127.0.7", help="CLUSTER_NET (default 127.0.7)")
    parser.add_argument("--window", type=float, default=60.0, help="measurement window, s (default 60)")
    parser.add_argument("--settle", type=float, default=10.0, help="idle time before the window, s (default 10)")
    parser.add_argument("--ready-timeout", type=int, default=120)
    parser.add_argument("--converge-timeout", type=float, default=120.0)
    parser.add_argument("--hold", type=float, default=0.0,
                        help="keep the cluster this many s after the window (e.g. to run perf on it; bounded)")
    parser.add_argument("--json", action="store_true", help="also print the raw numbers as JSON")
    args = parser.parse_args()
    if not os.access(args.cohortd, os.X_OK):
        sys.exit("no cohortd at %s" % args.cohortd)
    if not 1 <= args.nodes <= 250:
        sys.exit("N must be 1..250")
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    cluster = Cluster(args)
    try:
        log("starting %d nodes on %s.x (max_voters %d, max_standbys %d)" % (args.nodes, args.net, args.voters,
                                                                             args.standbys))
        cluster.up()
        roles = cluster.wait_for_roles(args.converge_timeout)
        log("converged: %s; settling %g s" % (", ".join("n%d %s" % (i, r) for i, r in sorted(roles.items())),
                                               args.settle))
        time.sleep(args.settle)
        load_before = load_average()
        log("window %g s (load %s)" % (args.window, load_before))
        result, elapsed = measure(cluster.pids, args.window)
        load_after = load_average()
        if cluster.roles() != roles:
            log("NOTE: roles changed during the window")
        if args.hold > 0:
            log("holding the cluster %g s: %s" % (args.hold, ", ".join(
                "n%d %s pid %d" % (i, roles[i], cluster.pids[i]) for i in sorted(roles))))
            time.sleep(args.hold)
    except (KeyboardInterrupt, Interrupted, RuntimeError) as stop:
        log("stopped: %s" % stop)
        cluster.down()
        sys.exit(1)
    else:
        cluster.down()

    print("\nN=%d (%s), window %.0f s, load %s → %s, nproc %d\n" % (
        args.nodes, ", ".join("%d %s" % (list(roles.values()).count(r), r) for r in ROLES), elapsed,
        load_before, load_after, os.cpu_count() or 1))
    print("| role | nodes | wakeups/s (median; min–max) | CPU % of a core (median; min–max) | CPU % by schedstat (median; min–max) | busiest threads (wakeups/s, median node) |")
    print("|---|---|---|---|---|---|")
    for role in ROLES:
        nodes = [result[i] for i, r in roles.items() if r == role and result.get(i)]
        if not nodes:
            continue
        wake = [n["wakeups"] for n in nodes]
        cpu = [n["cpu_pct"] for n in nodes]
        mid = sorted(nodes, key=lambda n: n["wakeups"])[len(nodes) // 2]
        top = sorted(mid["threads"].items(), key=lambda kv: -kv[1])[:4]
        sched = [n["sched_cpu_pct"] for n in nodes]
        print("| %s | %d | %.1f; %.1f–%.1f | %.3f; %.3f–%.3f | %.3f; %.3f–%.3f | %s |" % (
            role, len(nodes), statistics.median(wake), min(wake), max(wake), statistics.median(cpu), min(cpu),
            max(cpu), statistics.median(sched), min(sched), max(sched),
            ", ".join("%s %.1f" % kv for kv in top if kv[1] > 0)))
    if args.json:
        print("\nJSON: " + json.dumps({"roles": roles, "result": result, "load": [load_before, load_after]}))


if __name__ == "__main__":
    main()
