#!/usr/bin/env python3
"""Idle Raft LEADER CPU against cluster size, with real `cohortd` daemons, against a three-member etcd 3.4.

    cd /work/main && swift build -c release --product cohortd --scratch-path /work/bench-build
    python3 Benchmarks/scripts/idle_leader_cpu.py --cohortd /work/bench-build/release/cohortd

For every N (default 3 9 25 50 100), twice — bounded (the product: ≤ 5 voters, ≤ 4 standbys, every other
node a gossip-only client) and unbounded (`COHORT_UNBOUNDED_RAFT=1`: the leader puts every server node in
the Raft configuration, 5 voters + N-5 standbys) — it:

  1. starts N nodes with scripts/cluster.sh (127.0.1.1 … 127.0.1.N, fresh data in a temporary directory);
  2. waits until the leader's /v1/raft shows the expected configuration (bounded: voters = min(5, largest
     odd ≤ N), standbys = min(4, N - voters); unbounded: voters + standbys = N) and every node's /v1/raft
     names the same leader;
  3. lets it settle (10 s), checks what else is using the CPU (waits up to --max-wait for other processes
     to quieten, then goes ahead and records it), then reads /proc/<pid>/stat (utime + stime) of every node
     at the start and end of a 60 s window in which nothing talks to the nodes → % of one core; the leader
     is also sampled every 10 s (to see CPU climbing over time) and cross-checked with the summed
     /proc/<pid>/task/*/schedstat run time;
  4. records the leader's VmRSS, the median follower (Raft members other than the leader), median standby
     and median client CPU, the load average and the CPU used by everything that is not this benchmark;
  5. stops the cluster (cluster.sh down, then SIGKILL by PID) and removes its directory.

etcd: three members on 127.0.0.1 (client ports 23891–23893, peer ports 23901–23903: not raft_vs_etcd.py's,
so both can run), started here with their defaults (heartbeat 100 ms, election timeout 1 s) and, unless
--no-etcd-tuned, a second time with --heartbeat-interval 500 --election-timeout 2500 (Cohort's heartbeat,
cluster.raft.heartbeat_interval 500 ms; etcd refuses an election timeout under 5 heartbeats, so not Cohort's
2 s); the leader (the member whose
/v3/maintenance/status "leader" equals its header.member_id) measured the same way.

Prints a markdown table and, unless --quick (or --no-write), writes it with the machine's conditions to
Benchmarks/results/idle-leader-cpu.md and the plot to Benchmarks/results/idle-leader-cpu.png (matplotlib;
when it is missing the table is still printed and written). Measuring uses the Python standard library only.
Every process is started here and killed by PID in `finally`.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
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
NPROC = os.cpu_count() or 1

ETCD_CLIENT_PORTS = [23891, 23892, 23893]
ETCD_PEER_PORTS = [23901, 23902, 23903]
ETCD_NAMES = ["e1", "e2", "e3"]


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    # Once: a second signal must not cut short the cleanup (killing the nodes, removing their directories).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Interrupted("signal %d" % signum)


def log(message):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc


def process_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks; None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def sum_over_threads(pid, name, parse):
    """Sums parse(text of /proc/<pid>/task/<tid>/<name>) over the process's live threads; None when the
    process is gone. A thread that ends meanwhile, or a file that does not parse, counts 0."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/%s" % (pid, tid, name)) as f:
                total += parse(f.read())
        except (OSError, IndexError, ValueError):
            pass
    return total


def process_runtime_ns(pid):
    """Sum over the process's live threads of /proc/<pid>/task/<tid>/schedstat's on-CPU time, in ns."""
    return sum_over_threads(pid, "schedstat", lambda text: int(text.split()[0]))


def context_switches(pid):
    """Voluntary context switches summed over the process's live threads (≈ wakeups from sleep)."""
    def voluntary(text):
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
        return 0
    return sum_over_threads(pid, "status", voluntary)


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def established_tcp(pid):
    """Established TCP connections held by a process (its socket inodes found in /proc/net/tcp)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return None
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "01" and fields[9] in inodes:
                        count += 1
        except OSError:
            pass
    return count


def load_average():
    with open("/proc/loadavg") as f:
        return tuple(float(x) for x in f.read().split()[:3])


def system_busy_ticks():
    """Busy (non-idle, non-iowait) ticks of all CPUs together, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq + steal


def all_process_ticks():
    """{pid: (comm, ticks)} for every process on the machine."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                text = f.read()
            comm = text[text.index("(") + 1:text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[int(entry)] = (comm, int(fields[11]) + int(fields[12]))
        except (OSError, ValueError, IndexError):
            pass
    return out


def other_cpu_top(before, after, exclude, elapsed, limit=3):
    """The busiest processes outside `exclude` between two all_process_ticks() snapshots: [(comm, cores)]."""
    by_comm = {}
    for pid, (comm, ticks) in after.items():
        if pid in exclude:
            continue
        used = ticks - before[pid][1] if pid in before else ticks  # a process born in the window: all of it
        if used > 0:
            by_comm[comm] = by_comm.get(comm, 0) + used
    ranked = sorted(by_comm.items(), key=lambda kv: -kv[1])[:limit]
    return [(comm, ticks / CLK_TCK / elapsed) for comm, ticks in ranked]


def other_cores(seconds, exclude):
    """Cores used by processes outside `exclude` over a short sample (the machine's busy time minus ours)."""
    busy0, ours0, t0 = system_busy_ticks(), sum(process_ticks(p) or 0 for p in exclude), time.monotonic()
    time.sleep(seconds)
    busy1, ours1, t1 = system_busy_ticks(), sum(process_ticks(p) or 0 for p in exclude), time.monotonic()
    return max(0.0, ((busy1 - busy0) - (ours1 - ours0)) / CLK_TCK / (t1 - t0))


def wait_for_quiet(exclude, threshold, max_wait):
    """Waits (up to max_wait s) until processes outside `exclude` use less than `threshold` cores over 5 s.
    Returns (cores at the last check, seconds waited)."""
    started = time.monotonic()
    while True:
        cores = other_cores(5.0, exclude)
        waited = time.monotonic() - started
        if cores < threshold or waited >= max_wait:
            return cores, waited
        log("  other processes use %.2f cores (≥ %.2f); waiting (%.0f/%.0f s)" % (cores, threshold, waited, max_wait))
        time.sleep(10)


# ---------------------------------------------------------------- measuring a set of processes


def measure(roles, leader_pid, window, slices, exclude_for_other):
    """Measures every pid in `roles` ({pid: role}) over `window` seconds without talking to any of them.

    Returns per-pid % of one core, the leader's per-slice % and its schedstat %, and what else ran."""
    pids = list(roles)
    mine = set(pids) | {os.getpid()}
    load_before = load_average()
    procs_before = all_process_ticks()
    busy_before = system_busy_ticks()
    ticks_before = {p: process_ticks(p) for p in pids}
    ns_before = process_runtime_ns(leader_pid)
    cs_before = context_switches(leader_pid)
    t0 = time.monotonic()
    slice_points = [(t0, ticks_before[leader_pid])]
    for k in range(1, slices + 1):
        target = t0 + window * k / slices
        time.sleep(max(0.0, target - time.monotonic()))
        slice_points.append((time.monotonic(), process_ticks(leader_pid)))
    t1 = time.monotonic()
    ticks_after = {p: process_ticks(p) for p in pids}
    ns_after = process_runtime_ns(leader_pid)
    cs_after = context_switches(leader_pid)
    busy_after = system_busy_ticks()
    procs_after = all_process_ticks()
    load_after = load_average()
    elapsed = t1 - t0

    percent = {}
    for p in pids:
        if ticks_before[p] is None or ticks_after[p] is None:
            percent[p] = None  # died during the window
        else:
            percent[p] = 100.0 * (ticks_after[p] - ticks_before[p]) / CLK_TCK / elapsed
    leader_slices = []
    for (ta, ka), (tb, kb) in zip(slice_points, slice_points[1:]):
        leader_slices.append(None if ka is None or kb is None else 100.0 * (kb - ka) / CLK_TCK / (tb - ta))
    ours = sum((ticks_after[p] or 0) - (ticks_before[p] or 0) for p in pids)
    # This script sleeps through the window; what it uses (a few /proc reads) lands in "other".
    other = max(0.0, ((busy_after - busy_before) - ours) / CLK_TCK / elapsed)
    schedstat = None
    if ns_before is not None and ns_after is not None:
        schedstat = 100.0 * (ns_after - ns_before) / 1e9 / elapsed
    return {
        "elapsed_s": elapsed,
        "percent": percent,
        "leader_slices": leader_slices,
        "leader_schedstat_pct": schedstat,
        "leader_wakeups_per_s": None if cs_before is None or cs_after is None else (cs_after - cs_before) / elapsed,
        "other_cores": other,
        "other_top": other_cpu_top(procs_before, procs_after, mine | set(exclude_for_other), elapsed),
        "load_before": load_before,
        "load_after": load_after,
    }


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------- Cohort clusters


def http_json(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except Exception:
        return None


def node_ip(i):
    return "127.0.1.%d" % i


def raft_status(i, timeout=2.0):
    return http_json("http://%s:7960/v1/raft" % node_ip(i), timeout)


def expected_config(n, unbounded):
    """(voters, standbys) the leader should show; standbys None = voters + standbys == n."""
    largest_odd = n if n % 2 else n - 1
    voters = min(5, largest_odd)
    if unbounded:
        return voters, n - voters
    return voters, min(4, n - voters)


def read_pids(cluster_dir, n):
    pids = {}
    for i in range(1, n + 1):
        try:
            with open(os.path.join(cluster_dir, "n%d" % i, "pid")) as f:
                pids[i] = int(f.read().strip())
        except (OSError, ValueError):
            pass
    return pids


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            pass


BENIGN = ("no cluster key set", "internode mesh is not encrypted")


def log_evidence(cluster_dir, n, kinds=10):
    """The kinds of warning/error lines across every node's log (numbers and node names folded), with how
    many there are, which nodes logged them and the first and last instance."""
    import re
    fold = re.compile(r"\bn\d+\b|\d+")
    seen = {}
    for i in range(1, n + 1):
        try:
            with open(os.path.join(cluster_dir, "n%d" % i, "log"), errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split(" ", 2)
            if len(parts) < 3 or parts[1] not in ("warning", "error", "critical") or any(b in line for b in BENIGN):
                continue
            key = fold.sub("#", parts[2])
            entry = seen.setdefault(key, {"count": 0, "nodes": set(), "first": line, "last": line})
            entry["count"] += 1
            entry["nodes"].add("n%d" % i)
            entry["last"] = line
    ranked = sorted(seen.values(), key=lambda e: -e["count"])[:kinds]
    return [{"count": e["count"], "nodes": sorted(e["nodes"])[:8] + (["…"] if len(e["nodes"]) > 8 else []),
             "first": e["first"][:400], "last": e["last"][:400]} for e in ranked]


def raft_evidence(statuses, metrics_of):
    """Per node: state, term, commit/last index, configuration size; and non-zero Raft drop counters."""
    out = {}
    for i, st in statuses.items():
        if not st:
            out["n%d" % i] = "no answer"
            continue
        if st.get("role") == "client" and i > 12:
            continue
        line = "%s/%s term %s commit %s last %s, %d voters + %d standbys" % (
            st.get("state"), st.get("role"), st.get("term"), st.get("commit_index"), st.get("last_log_index"),
            len(st.get("voters", [])), len(st.get("standbys", [])))
        drops = metrics_of(i)
        if drops:
            line += "; " + ", ".join(drops)
        out["n%d" % i] = line
    return out


def raft_drop_metrics(i):
    try:
        with urllib.request.urlopen("http://%s:7960/metrics" % node_ip(i), timeout=3) as response:
            text = response.read().decode(errors="replace")
    except Exception:
        return []
    return [l for l in text.splitlines() if l.startswith("raft_dropped_messages_total") and not l.endswith(" 0")]


def busy_addresses(n):
    """Indexes i in 1..n whose address 127.0.1.i has a bound TCP listener or UDP socket (someone else's
    cluster: cluster.sh's readiness check would accept its answers as ours)."""
    wanted = {"%02X%02X%02X%02X" % (i, 1, 0, 127): i for i in range(1, n + 1)}
    busy = set()
    for table, listen_only in (("/proc/net/tcp", True), ("/proc/net/udp", False)):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    ip = fields[1].split(":")[0]
                    if ip in wanted and (not listen_only or fields[3] == "0A"):
                        busy.add(wanted[ip])
        except OSError:
            pass
    return sorted(busy)


def wait_addresses_free(n, within):
    deadline = time.monotonic() + within
    while True:
        busy = busy_addresses(n)
        if not busy:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("addresses still in use by other processes: %s" % ", ".join(node_ip(i) for i in busy[:8]))
        log("  %s in use by another process; waiting" % ", ".join(node_ip(i) for i in busy[:4]))
        time.sleep(5)


class Cluster:
    def __init__(self, cohortd, n, unbounded, ready_timeout):
        self.cohortd = cohortd
        self.n = n
        self.unbounded = unbounded
        self.ready_timeout = ready_timeout
        self.dir = tempfile.mkdtemp(prefix="idle-cpu-%s-%d-" % ("unbounded" if unbounded else "bounded", n))
        self.pids = {}

    def env(self):
        env = dict(os.environ)
        env["CLUSTER_DIR"] = self.dir
        env["CLUSTER_COHORTD"] = self.cohortd
        env["CLUSTER_READY_TIMEOUT"] = str(self.ready_timeout)
        if self.unbounded:
            env["CLUSTER_NODE_ENV"] = "COHORT_UNBOUNDED_RAFT=1"
        else:
            env.pop("CLUSTER_NODE_ENV", None)
        return env

    def up(self):
        wait_addresses_free(self.n, 300)
        try:
            run = subprocess.run(["bash", CLUSTER_SH, "up", str(self.n)], env=self.env(), capture_output=True,
                                 text=True, timeout=self.ready_timeout + 120, start_new_session=True)
        finally:
            self.pids = read_pids(self.dir, self.n)
        if run.returncode != 0:
            raise RuntimeError("cluster.sh up %d failed (%d): %s" % (self.n, run.returncode,
                                                                     (run.stderr or run.stdout).strip()[-2000:]))
        dead = [i for i in range(1, self.n + 1) if i not in self.pids or process_ticks(self.pids[i]) is None]
        if dead:
            raise RuntimeError("nodes not running after cluster.sh up: %s" % ", ".join("n%d" % i for i in dead[:10]))

    def statuses(self):
        return {i: raft_status(i) for i in range(1, self.n + 1)}

    def converged(self, statuses):
        """(leader index, status) when the expected configuration is in force everywhere, else (None, why)."""
        voters, standbys = expected_config(self.n, self.unbounded)
        leaders = [i for i, s in statuses.items() if s and s.get("state") == "leader"]
        if len(leaders) != 1:
            return None, "%d nodes in state leader" % len(leaders)
        li = leaders[0]
        ls = statuses[li]
        name = ls.get("leader")
        if name != "n%d" % li:
            return None, "leader n%d names %r as leader" % (li, name)
        if len(ls["voters"]) != voters or len(ls["standbys"]) != standbys:
            return None, "leader shows %d voters + %d standbys, want %d + %d" % (
                len(ls["voters"]), len(ls["standbys"]), voters, standbys)
        # Raft members must name the leader; a client (outside the configuration) reports role "client" and
        # no leader (it is not replicated to) — it may not name another one.
        members = set(ls["voters"]) | set(ls["standbys"])
        disagree = []
        for i, s in statuses.items():
            if not s:
                disagree.append(i)
            elif "n%d" % i in members:
                if s.get("leader") != name or s.get("term") != ls.get("term"):
                    disagree.append(i)
            elif s.get("role") != "client" or s.get("leader") not in (None, name):
                disagree.append(i)
        if disagree:
            return None, "%d nodes disagree with leader %s (e.g. %s)" % (
                len(disagree), name, ", ".join("n%d" % i for i in disagree[:5]))
        return li, ls

    def wait_converged(self, timeout):
        started = time.monotonic()
        why = "not polled"
        last_log = 0.0
        while time.monotonic() - started < timeout:
            statuses = self.statuses()
            dead = [i for i, p in self.pids.items() if process_ticks(p) is None]
            if dead:
                raise RuntimeError("nodes exited while converging: %s" % ", ".join("n%d" % i for i in dead))
            leader, detail = self.converged(statuses)
            if leader is not None:
                return leader, detail, statuses, time.monotonic() - started
            why = detail
            if time.monotonic() - last_log > 15:
                log("  waiting for convergence: %s" % why)
                last_log = time.monotonic()
            time.sleep(1.0)
        return None, why, self.statuses(), time.monotonic() - started

    def down(self):
        pids = list(self.pids.values())
        try:
            if os.path.isdir(self.dir):
                subprocess.run(["bash", CLUSTER_SH, "down"], env=self.env(), capture_output=True, text=True,
                               timeout=60, start_new_session=True)
        except subprocess.TimeoutExpired:
            log("  cluster.sh down timed out")
        finally:
            kill_pids(pids)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(process_ticks(p) is not None and not _is_zombie(p) for p in pids):
                time.sleep(0.1)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def run_cohort(args, n, unbounded):
    mode = "unbounded" if unbounded else "bounded"
    row = {"kind": "cohort", "n": n, "mode": mode, "ok": False, "notes": []}
    cluster = Cluster(args.cohortd, n, unbounded, args.ready_timeout)
    log("%s N=%d: starting in %s" % (mode, n, cluster.dir))
    row["load_at_start"] = load_average()
    t_start = time.monotonic()
    try:
        cluster.up()
        row["ready_s"] = time.monotonic() - t_start
        log("  %d nodes ready in %.1f s" % (n, row["ready_s"]))
        leader, detail, statuses, waited = cluster.wait_converged(args.converge_timeout)
        row["converge_s"] = time.monotonic() - t_start
        if leader is None:
            row["notes"].append("did not converge within %.0f s after ready: %s" % (args.converge_timeout, detail))
            log("  NOT CONVERGED: %s" % detail)
            members_view = {i: s for i, s in statuses.items() if s and s.get("role") != "client"}
            row["evidence"] = {
                "raft": raft_evidence({i: statuses[i] for i in sorted(statuses) if statuses[i] is None or i in members_view or i <= 12},
                                      raft_drop_metrics),
                "logs": log_evidence(cluster.dir, n),
            }
            leaders = [i for i, s in statuses.items() if s and s.get("state") == "leader"]
            if len(leaders) != 1:
                return row
            # Measured anyway (marked): what an unconverged leader costs.
            leader = leaders[0]
            detail = statuses[leader]
            row["converged"] = False
            log("  measuring the unconverged leader n%d anyway (%d voters + %d standbys)" % (
                leader, len(detail["voters"]), len(detail["standbys"])))
        else:
            row["converged"] = True
            log("  converged in %.1f s (leader n%d, %d voters + %d standbys, term %s)" % (
                row["converge_s"], leader, len(detail["voters"]), len(detail["standbys"]), detail["term"]))
        row["leader"] = "n%d" % leader
        row["term"] = detail["term"]
        row["voters"] = len(detail["voters"])
        row["standbys"] = len(detail["standbys"])
        members = set(detail["voters"]) | set(detail["standbys"])
        roles = {}
        for i, pid in cluster.pids.items():
            name = "n%d" % i
            if i == leader:
                roles[pid] = "leader"
            elif name in detail["voters"]:
                roles[pid] = "follower"
            elif name in detail["standbys"]:
                roles[pid] = "standby"
            else:
                roles[pid] = "client"
        time.sleep(args.settle)
        quiet, waited_quiet = wait_for_quiet(list(cluster.pids.values()), args.quiet_threshold, args.max_wait)
        row["other_cores_pre"] = quiet
        row["waited_quiet_s"] = waited_quiet
        log("  measuring %d s (load %s, others %.2f cores)" % (args.window, "/".join("%.2f" % x for x in load_average()), quiet))
        m = measure(roles, cluster.pids[leader], args.window, args.slices, [])
        # The leader must still be the leader of the same term, and every node alive.
        after = raft_status(leader, timeout=5.0)
        dead = [p for p, v in m["percent"].items() if v is None]
        if dead:
            row["notes"].append("%d node(s) died during the window" % len(dead))
        if not after or after.get("state") != "leader" or after.get("term") != detail["term"]:
            row["notes"].append("leadership changed during the window: %s" % json.dumps(after))
        by_role = {}
        for pid, pct in m["percent"].items():
            by_role.setdefault(roles[pid], []).append(pct)
        row.update({
            "ok": not dead and not row["notes"],
            "all_nodes_cores": sum(v for v in m["percent"].values() if v is not None) / 100.0,
            "leader_pct": m["percent"][cluster.pids[leader]],
            "leader_slices": m["leader_slices"],
            "leader_schedstat_pct": m["leader_schedstat_pct"],
            "leader_wakeups_per_s": m["leader_wakeups_per_s"],
            "follower_pct": median(by_role.get("follower", [])),
            "standby_pct": median(by_role.get("standby", [])),
            "client_pct": median(by_role.get("client", [])),
            "client_max_pct": max([v for v in by_role.get("client", []) if v is not None], default=None),
            "all_nodes_pct": sum(v for v in m["percent"].values() if v is not None),
            "leader_rss_mib": rss_mib(cluster.pids[leader]),
            "leader_tcp": established_tcp(cluster.pids[leader]),
            "median_rss_mib": median([rss_mib(p) for p in cluster.pids.values()]),
            "window_s": m["elapsed_s"],
            "other_cores": m["other_cores"],
            "other_top": m["other_top"],
            "load_before": m["load_before"],
            "load_after": m["load_after"],
        })
        if row["all_nodes_cores"] > 0.8 * NPROC:
            row["saturated"] = True
            row["notes"].append("the cluster itself used %.2f of %d cores: the machine was saturated, per-node "
                                "figures are what the nodes got, possibly less than they would use" % (
                                    row["all_nodes_cores"], NPROC))
        s = row["leader_slices"]
        if len(s) >= 3 and all(x is not None for x in s) and s[-1] > 2 * max(s[0], 0.05) and s[-1] - s[0] > 0.1:
            row["notes"].append("leader CPU rose within the window: " + ", ".join("%.2f" % x for x in s))
        log("  leader %.3f%%  follower %s  client %s  rss %.1f MiB  others %.2f cores" % (
            row["leader_pct"], fmt(row["follower_pct"]), fmt(row["client_pct"]), row["leader_rss_mib"] or 0,
            row["other_cores"]))
        return row
    except Interrupted:
        raise
    except Exception as error:  # recorded in the results, not hidden
        row["notes"].append("error: %s" % error)
        row["evidence"] = {"logs": log_evidence(cluster.dir, n)}
        log("  ERROR: %s" % error)
        return row
    finally:
        cluster.down()
        if args.keep_failed and not row.get("ok"):
            log("  kept %s for inspection" % cluster.dir)
        else:
            cluster.remove()


# ---------------------------------------------------------------- etcd


class Etcd:
    def __init__(self, heartbeat_ms, election_ms):
        self.base = tempfile.mkdtemp(prefix="idle-cpu-etcd-")
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.procs = {}
        self.cluster = ",".join("%s=http://127.0.0.1:%d" % (n, p) for n, p in zip(ETCD_NAMES, ETCD_PEER_PORTS))

    def start(self):
        for i, name in enumerate(ETCD_NAMES):
            logfile = open(os.path.join(self.base, "%s.log" % name), "ab")
            argv = [
                "etcd", "--name", name, "--data-dir", os.path.join(self.base, name),
                "--listen-client-urls", "http://127.0.0.1:%d" % ETCD_CLIENT_PORTS[i],
                "--advertise-client-urls", "http://127.0.0.1:%d" % ETCD_CLIENT_PORTS[i],
                "--listen-peer-urls", "http://127.0.0.1:%d" % ETCD_PEER_PORTS[i],
                "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % ETCD_PEER_PORTS[i],
                "--initial-cluster", self.cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", "cohort-idle-cpu",
            ]
            if self.heartbeat_ms is not None:
                argv += ["--heartbeat-interval", str(self.heartbeat_ms), "--election-timeout", str(self.election_ms)]
            self.procs[i] = subprocess.Popen(argv, stdout=logfile, stderr=logfile, start_new_session=True)
            logfile.close()

    def status(self, i):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", ETCD_CLIENT_PORTS[i], timeout=1.0)
            conn.request("POST", "/v3/maintenance/status", body="{}", headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            body = json.loads(response.read())
            conn.close()
            if response.status != 200:
                return None
            return body["header"]["member_id"], body.get("leader"), body.get("raftTerm")
        except Exception:
            return None

    def wait_leader(self, within=60.0):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for i, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError("etcd member %s exited (%d)" % (ETCD_NAMES[i], p.returncode))
            statuses = {i: self.status(i) for i in self.procs}
            if all(s is not None for s in statuses.values()) and len({s[1] for s in statuses.values()}) == 1:
                for i, s in statuses.items():
                    if s[0] == s[1]:
                        return i, s[2]
            time.sleep(0.2)
        raise RuntimeError("etcd: no agreed leader within %.0f s" % within)

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        shutil.rmtree(self.base, ignore_errors=True)


def run_etcd(args, heartbeat_ms, election_ms):
    label = "etcd-3 (defaults: heartbeat 100 ms, election 1 s)" if heartbeat_ms is None else \
        "etcd-3 (heartbeat %d ms, election %d ms)" % (heartbeat_ms, election_ms)
    row = {"kind": "etcd", "label": label, "heartbeat_ms": heartbeat_ms or 100, "ok": False, "notes": [],
           "load_at_start": load_average()}
    log("%s: starting" % label)
    etcd = Etcd(heartbeat_ms, election_ms)
    try:
        etcd.start()
        leader, term = etcd.wait_leader()
        log("  leader %s (term %s)" % (ETCD_NAMES[leader], term))
        time.sleep(args.settle)
        pids = [p.pid for p in etcd.procs.values()]
        quiet, waited = wait_for_quiet(pids, args.quiet_threshold, args.max_wait)
        row["other_cores_pre"] = quiet
        row["waited_quiet_s"] = waited
        roles = {p.pid: ("leader" if i == leader else "follower") for i, p in etcd.procs.items()}
        log("  measuring %d s" % args.window)
        m = measure(roles, etcd.procs[leader].pid, args.window, args.slices, [])
        after = etcd.status(leader)
        if not after or after[0] != after[1] or after[2] != term:
            row["notes"].append("leadership changed during the window")
        row.update({
            "ok": not row["notes"],
            "leader": ETCD_NAMES[leader],
            "leader_pct": m["percent"][etcd.procs[leader].pid],
            "leader_slices": m["leader_slices"],
            "leader_schedstat_pct": m["leader_schedstat_pct"],
            "leader_wakeups_per_s": m["leader_wakeups_per_s"],
            "follower_pct": median([v for p, v in m["percent"].items() if roles[p] == "follower"]),
            "leader_rss_mib": rss_mib(etcd.procs[leader].pid),
            "leader_tcp": established_tcp(etcd.procs[leader].pid),
            "window_s": m["elapsed_s"],
            "other_cores": m["other_cores"],
            "other_top": m["other_top"],
            "load_before": m["load_before"],
            "load_after": m["load_after"],
        })
        log("  leader %.3f%%  follower %s  rss %.1f MiB" % (row["leader_pct"], fmt(row["follower_pct"]),
                                                           row["leader_rss_mib"] or 0))
    except Interrupted:
        raise
    except Exception as error:
        tail = ""
        try:
            with open(os.path.join(etcd.base, "e1.log"), errors="replace") as f:
                tail = " | ".join(l.strip() for l in f.read().splitlines()[-3:])
        except OSError:
            pass
        row["notes"].append("error: %s%s" % (error, (" (e1.log: %s)" % tail) if tail else ""))
        log("  ERROR: %s %s" % (error, tail))
    finally:
        etcd.stop()
    return row


# ---------------------------------------------------------------- reporting


def fmt(v, digits=3, suffix=""):
    return "–" if v is None else ("%.*f" % (digits, v)) + suffix


def fmt_load(load):
    return "/".join("%.2f" % x for x in load) if load else "–"


def ratio(a, b):
    return a / b if a is not None and b else None


def summary_table(rows, sizes):
    cohort = {(r["n"], r["mode"]): r for r in rows if r["kind"] == "cohort"}
    etcd_default = next((r for r in rows if r["kind"] == "etcd" and r["heartbeat_ms"] == 100), None)
    lines = [
        "| N | bounded leader % | unbounded leader % | bounded median follower % | bounded median client % "
        "| bounded leader RSS MiB | etcd-3 leader % | load 1-min (bounded / unbounded window start) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        b = cohort.get((n, "bounded"), {})
        u = cohort.get((n, "unbounded"), {})

        def cell(r, key, digits=3):
            v = r.get(key)
            text = fmt(v, digits)
            if r and v is not None and not r.get("ok"):
                text += " †"
            if r and v is not None and r.get("saturated"):
                text += " ‡"
            if r and v is None and r.get("notes"):
                text = "failed †"
            return text

        client = fmt(b.get("client_pct")) if b.get("client_pct") is not None else ("(no clients)" if b else "–")
        lines.append("| %d | %s | %s | %s | %s | %s | %s | %s / %s |" % (
            n, cell(b, "leader_pct"), cell(u, "leader_pct"), fmt(b.get("follower_pct")), client,
            fmt(b.get("leader_rss_mib"), 1), fmt(etcd_default.get("leader_pct")) if etcd_default else "–",
            "%.2f" % b["load_before"][0] if b.get("load_before") else "–",
            "%.2f" % u["load_before"][0] if u.get("load_before") else "–"))
    return "\n".join(lines)


def detail_table(rows):
    lines = [
        "| run | leader | config | ready / converged (s) | leader % | leader % per 10 s slice | leader % (schedstat) "
        "| follower % | standby % | client % (median / max) | leader − median client | all nodes % | leader RSS "
        "| leader's TCP connections | leader wakeups/s | load before → after | other processes (cores; busiest) | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "cohort":
            name = "%s N=%d" % (r["mode"], r["n"])
            config = "%s+%s" % (r.get("voters", "?"), r.get("standbys", "?"))
            times = "%s / %s" % (fmt(r.get("ready_s"), 1), fmt(r.get("converge_s"), 1))
            clients = "%s / %s" % (fmt(r.get("client_pct")), fmt(r.get("client_max_pct")))
        else:
            name = r["label"]
            config = "3 voters"
            times = "–"
            clients = "–"
        slices = ", ".join(fmt(x, 2) for x in r.get("leader_slices", [])) or "–"
        busiest = "; ".join("%s %.2f" % (c, v) for c, v in r.get("other_top", []))
        other = "%s (%s)" % (fmt(r.get("other_cores"), 2), busiest) if r.get("other_cores") is not None else "–"
        excess = None
        if r.get("leader_pct") is not None and r.get("client_pct") is not None:
            excess = r["leader_pct"] - r["client_pct"]
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s → %s | %s | %s |" % (
            name, r.get("leader", "–"), config, times, fmt(r.get("leader_pct")), slices,
            fmt(r.get("leader_schedstat_pct")), fmt(r.get("follower_pct")), fmt(r.get("standby_pct")), clients,
            fmt(excess),
            fmt(r.get("all_nodes_pct"), 2), fmt(r.get("leader_rss_mib"), 1, " MiB"),
            "–" if r.get("leader_tcp") is None else str(r["leader_tcp"]), fmt(r.get("leader_wakeups_per_s"), 0),
            fmt_load(r.get("load_before")),
            fmt_load(r.get("load_after")), other, "; ".join(r.get("notes", [])) or ""))
    return "\n".join(lines)


def ratios_text(rows):
    cohort = {(r["n"], r["mode"]): r for r in rows if r["kind"] == "cohort"}
    etcd_rows = [r for r in rows if r["kind"] == "etcd" and r.get("leader_pct") is not None]
    bounded = sorted((r["n"], r) for (n, mode), r in cohort.items() if mode == "bounded" and r.get("leader_pct") is not None)
    out = []
    if not bounded:
        return ["No bounded measurement completed."]
    big_n, big = bounded[-1]
    for ref_n in (9, 3):
        ref = cohort.get((ref_n, "bounded"))
        if ref and ref.get("leader_pct") and ref_n != big_n:
            r = ratio(big["leader_pct"], ref["leader_pct"])
            out.append("- Bounded leader, N=%d / N=%d: %.3f%% / %.3f%% = **%.2f×** (goal ≤ 1.2×: %s)." % (
                big_n, ref_n, big["leader_pct"], ref["leader_pct"], r, "met" if r <= 1.2 else "NOT met"))
    for n, r in bounded:
        unb = cohort.get((n, "unbounded"))
        if n >= 25 and unb and unb.get("leader_pct") is not None:
            out.append("- Unbounded leader at N=%d (%s+%s members%s): %.3f%% = %.2f× the bounded leader at the same N." % (
                n, unb.get("voters"), unb.get("standbys"), "" if unb.get("converged", True) else ", DID NOT CONVERGE",
                unb["leader_pct"], ratio(unb["leader_pct"], r["leader_pct"]) or float("nan")))
    for e in etcd_rows:
        for n, r in bounded:
            if n not in (3, 9, big_n):
                continue
            q = ratio(r["leader_pct"], e["leader_pct"])
            out.append("- Bounded leader N=%d vs %s leader: %.3f%% / %.3f%% = **%.2f×** (goal ≤ 0.33×: %s)." % (
                n, e["label"], r["leader_pct"], e["leader_pct"], q, "met" if q <= 1 / 3 else "NOT met"))
    shares = [(n, r["leader_pct"] - r["client_pct"]) for n, r in bounded if r.get("client_pct") is not None]
    if shares:
        out.append("- Bounded leader minus the median gossip-only client (the leader's Raft work over a node that "
                   "does none): " + ", ".join("N=%d %.3f" % s for s in shares) + " points of a core.")
    for n, r in bounded:
        out.append("- Bounded leader N=%d: %.3f%% of a core (goal ≤ 0.3%%: %s)." % (
            n, r["leader_pct"], "met" if r["leader_pct"] <= 0.3 else "NOT met"))
    return out


def plot(rows, sizes, path, window):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no plot (pip install matplotlib)")
        return False
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for mode, style, colour in (("bounded", "o-", "tab:blue"), ("unbounded", "s--", "tab:orange")):
        pts = sorted((r["n"], r["leader_pct"]) for r in rows if r["kind"] == "cohort" and r["mode"] == mode
                     and r.get("leader_pct") is not None and r.get("converged", True))
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, color=colour, label="Cohort leader, %s" % mode)
        for r in rows:
            if r["kind"] == "cohort" and r["mode"] == mode and r.get("leader_pct") is not None and not r.get("converged", True):
                ax.plot([r["n"]], [r["leader_pct"]], "x", color=colour, markersize=9,
                        label="Cohort leader, %s N=%d: did not converge (%s+%s members)" % (
                            mode, r["n"], r.get("voters"), r.get("standbys")))
    pts = sorted((r["n"], r["client_pct"]) for r in rows
                 if r["kind"] == "cohort" and r["mode"] == "bounded" and r.get("client_pct") is not None)
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "^:", color="grey", label="Cohort median client (bounded)")
    colours = ["tab:red", "tab:purple"]
    for k, e in enumerate(r for r in rows if r["kind"] == "etcd" and r.get("leader_pct") is not None):
        ax.axhline(e["leader_pct"], color=colours[k % 2], linestyle="-." if k else "-", linewidth=1.2,
                   label="%s leader" % e["label"])
    ax.axhline(0.3, color="green", linestyle=":", linewidth=1, label="goal: 0.3% of a core")
    ax.set_xscale("log")
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(n) for n in sizes])
    ax.set_xlabel("cluster size N (cohortd daemons)")
    ax.set_ylabel("idle leader CPU, % of one core")
    ax.set_ylim(bottom=0)
    ax.set_title("Idle Raft leader CPU vs cluster size (%d-core machine, %d s windows)" % (NPROC, round(window)))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def git_head():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except Exception:
        return "?"


def binary_provenance(cohortd):
    """What the binary was built from, as far as git can tell: its mtime, Sources/ changes not committed now,
    and commits touching Sources/ or Package.swift made after the binary was linked (a stale binary)."""
    try:
        mtime = os.path.getmtime(cohortd)
        built = datetime.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M:%S")
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "Sources", "Package.swift"],
                               capture_output=True, text=True, timeout=10).stdout.split("\n")
        newer = subprocess.run(["git", "-C", ROOT, "log", "--format=%h", "--since=@%d" % int(mtime), "--",
                                "Sources", "Package.swift"], capture_output=True, text=True, timeout=10).stdout.split()
        text = "`cohortd` linked %s" % built
        dirty = [l.strip() for l in dirty if l.strip()]
        if dirty:
            text += "; uncommitted in Sources/ now: %s" % ", ".join("`%s`" % l for l in dirty)
        if newer:
            text += "; NOTE commits touching Sources/ after the binary was linked: %s" % ", ".join(newer)
        return text
    except Exception as error:
        return "provenance unknown (%s)" % error


def etcd_version():
    try:
        return subprocess.run(["etcd", "--version"], capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
    except Exception:
        return "etcd ?"


def write_markdown(path, args, rows, sizes, conditions, png_written):
    table = summary_table(rows, sizes)
    extra = ""
    if sizes != [3, 9, 25, 50, 100]:
        extra += " --sizes " + " ".join(map(str, sizes))
    if args.window != 60:
        extra += " --window %g" % args.window
    if args.no_unbounded:
        extra += " --no-unbounded"
    if args.no_etcd:
        extra += " --no-etcd"
    elif args.no_etcd_tuned:
        extra += " --no-etcd-tuned"
    command = "python3 Benchmarks/scripts/idle_leader_cpu.py --cohortd %s%s" % (args.cohortd, extra)
    text = []
    text.append("# Idle Raft leader CPU vs cluster size — %s\n" % conditions["date"])
    binary = os.path.abspath(args.cohortd)
    scratch = os.path.dirname(os.path.dirname(binary)) if binary.endswith("/release/cohortd") else None
    build = ("swift build -c release --product cohortd --scratch-path %s" % scratch) if scratch else \
        "swift build -c release --product cohortd  # then pass its path with --cohortd"
    text.append("```\ncd %s && %s\n%s\n```\n" % (ROOT, build, command))
    text.append("Machine: %d cores (`nproc`), %s, kernel %s, %s; Cohort %s (release `cohortd`); %s. "
                "Load average before the run: %s; after: %s. Total run time %.1f min.\n" % (
                    NPROC, conditions["memory"], conditions["kernel"], conditions["python"],
                    "commit %s (HEAD at the run; %s)" % (conditions["commit"], conditions["binary"]),
                    conditions["etcd"], fmt_load(conditions["load_start"]), fmt_load(conditions["load_end"]),
                    conditions["minutes"]))
    text.append("Method: real `cohortd` daemons started by `scripts/cluster.sh` on 127.0.1.1…N (one process per node, "
                "default timings: Raft heartbeat 500 ms, election timeout 2 s; default SWIM settings), fresh data "
                "directories. After the leader's `/v1/raft` shows the expected configuration and every node names "
                "the same leader, %d s to settle, then nothing talks to the nodes for %d s while `/proc/<pid>/stat` "
                "utime+stime (SC_CLK_TCK = %d) is read at both ends → %% of one core. \"Follower\" = Raft members "
                "other than the leader that are voters; standbys and gossip-only clients are listed apart in the "
                "detail table. The leader's CPU includes its SWIM gossip (which every node, client or not, does "
                "— see the client column). \"Other processes\" = the machine's busy time minus the measured "
                "processes during the window (something else on this shared machine); the names after it are the "
                "busiest processes that were alive at the window's end (short-lived compiler processes are missed). "
                "The 1-minute load average lags: at large N it still carries the cluster's own start (N processes "
                "at once) when the window begins, so \"other processes\" is the column that says whether anything "
                "else ran. etcd: three members on "
                "127.0.0.1, measured the same way.\n" % (args.settle, args.window, CLK_TCK))
    text.append("**Heartbeats are not the same:** etcd's default heartbeat is 100 ms, Cohort's default "
                "(`cluster.raft.heartbeat_interval`) is 500 ms; both are reported as shipped. The second etcd row "
                "runs etcd with Cohort's heartbeat (`--heartbeat-interval 500 --election-timeout 2500`; etcd refuses an "
                "election timeout under 5 heartbeats, so not Cohort's 2 s).\n"
                if any(r["kind"] == "etcd" and r["heartbeat_ms"] == 500 for r in rows) else
                "**Heartbeats are not the same:** etcd's default heartbeat is 100 ms, Cohort's default "
                "(`cluster.raft.heartbeat_interval`) is 500 ms; both are reported as shipped.\n")
    text.append("## Summary\n")
    text.append(table + "\n")
    text.append("† = the run has a note in the detail table (not converged, leadership change, node died, error). "
                "‡ = the cluster's nodes together used more than 80%% of the machine's %d cores during the window "
                "(the load average then counts the cluster's own runnable threads).\n" % NPROC)
    etcd_rows = [r for r in rows if r["kind"] == "etcd"]
    if etcd_rows:
        text.append("etcd leaders: " + "; ".join("%s %s%% (follower %s%%, RSS %s)" % (
            r["label"], fmt(r.get("leader_pct")), fmt(r.get("follower_pct")), fmt(r.get("leader_rss_mib"), 1, " MiB"))
            for r in etcd_rows) + ".\n")
    text.append("## Ratios\n")
    text.append("\n".join(ratios_text(rows)) + "\n")
    text.append("The goal's small reference is \"N ≈ 5\". N=9 is the first size at which the bounded leader has its "
                "full configuration (5 voters + 4 standbys, i.e. the same 8 replication peers as at N=100), so "
                "N=100 / N=9 isolates the cost of the extra gossip-only clients; N=3 (2 peers) is the stricter "
                "reference and also counts the growth from 2 to 8 Raft peers.\n")
    if png_written:
        text.append("![idle leader CPU vs N](idle-leader-cpu.png)\n")
    text.append("## Detail\n")
    text.append(detail_table(rows) + "\n")
    evidence = [r for r in rows if r.get("evidence")]
    if evidence:
        text.append("## Evidence from runs that did not converge or failed\n")
        for r in evidence:
            text.append("### %s N=%d\n" % (r["mode"], r["n"]))
            text.append("- " + "\n- ".join(r["notes"]) + "\n")
            ev = r["evidence"]
            if ev.get("raft"):
                text.append("`/v1/raft` of the Raft members (and n1–n12) when the wait ended, with non-zero "
                            "`raft_dropped_messages_total` from `/metrics`:\n")
                text.append("```\n%s\n```\n" % "\n".join("%-5s %s" % kv for kv in ev["raft"].items()))
            if ev.get("logs"):
                text.append("Warning/error lines across all nodes' logs (by kind; benign \"unencrypted\" warnings left out):\n")
                text.append("```\n%s\n```\n" % "\n".join(
                    "%d× on %s\n  first: %s\n  last:  %s" % (e["count"], ", ".join(e["nodes"]), e["first"], e["last"])
                    for e in ev["logs"]))
    with open(path, "w") as f:
        f.write("\n".join(text))


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohortd", default="/work/bench-build/release/cohortd", help="release cohortd binary")
    parser.add_argument("--sizes", type=int, nargs="+", help="cluster sizes (default 3 9 25 50 100)")
    parser.add_argument("--window", type=float, default=60.0, help="measurement window, s (default 60)")
    parser.add_argument("--settle", type=float, default=10.0, help="idle time after convergence, s (default 10)")
    parser.add_argument("--slices", type=int, default=6, help="leader samples within the window (default 6)")
    parser.add_argument("--quick", action="store_true", help="N = 3 9, 20 s windows, writes no results files")
    parser.add_argument("--no-unbounded", action="store_true", help="bounded clusters only")
    parser.add_argument("--no-etcd", action="store_true")
    parser.add_argument("--no-etcd-tuned", action="store_true", help="skip etcd with heartbeat 500 ms")
    parser.add_argument("--ready-timeout", type=int, default=300, help="cluster.sh readiness timeout, s")
    parser.add_argument("--converge-timeout", type=float, default=180.0, help="s after ready")
    parser.add_argument("--quiet-threshold", type=float, default=0.5,
                        help="cores other processes may use before a window without waiting (default 0.5)")
    parser.add_argument("--max-wait", type=float, default=60.0, help="longest wait for others to quieten, s")
    parser.add_argument("--keep-failed", action="store_true", help="keep the directory of a failed cluster")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--out-md", default=None)
    parser.add_argument("--out-png", default=None)
    args = parser.parse_args()

    sizes = args.sizes or ([3, 9] if args.quick else [3, 9, 25, 50, 100])
    if args.quick:
        args.window = min(args.window, 20.0)
    write = not args.no_write and (not args.quick or args.out_md or args.out_png)
    out_md = args.out_md or os.path.join(RESULTS, "idle-leader-cpu.md")
    out_png = args.out_png or os.path.join(RESULTS, "idle-leader-cpu.png")
    if not os.access(args.cohortd, os.X_OK):
        sys.exit("no cohortd at %s (build it: swift build -c release --product cohortd --scratch-path /work/bench-build)" % args.cohortd)
    if max(sizes) > 250:
        sys.exit("cluster.sh supports N ≤ 250")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    started = time.monotonic()
    conditions = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "kernel": platform.release(),
        "python": "Python %s" % platform.python_version(),
        "commit": git_head(),
        "etcd": etcd_version(),
        "binary": binary_provenance(args.cohortd),
        "load_start": load_average(),
    }
    with open("/proc/meminfo") as f:
        conditions["memory"] = "%.0f GiB RAM" % (int(f.readline().split()[1]) / 1024 / 1024)
    log("idle leader CPU: sizes %s, window %.0f s, nproc %d, load %s, cohort %s" % (
        sizes, args.window, NPROC, fmt_load(conditions["load_start"]), conditions["commit"]))

    rows = []
    try:
        if not args.no_etcd:
            if shutil.which("etcd") is None:
                log("etcd not found: skipping etcd")
            else:
                rows.append(run_etcd(args, None, None))
                if not args.no_etcd_tuned:
                    rows.append(run_etcd(args, 500, 2500))
        for n in sizes:
            rows.append(run_cohort(args, n, False))
            if not args.no_unbounded:
                rows.append(run_cohort(args, n, True))
    except (KeyboardInterrupt, Interrupted) as stop:
        log("interrupted (%s): reporting what was measured" % stop)
        if write and not (args.out_md or args.out_png):
            # A partial run must not replace the results of a complete one.
            write = False
            log("not writing %s: the run was interrupted (pass --out-md/--out-png to keep a partial run)" % out_md)
    conditions["load_end"] = load_average()
    conditions["minutes"] = (time.monotonic() - started) / 60

    print("\n" + summary_table(rows, sizes) + "\n")
    print("\n".join(ratios_text(rows)) + "\n")
    print(detail_table(rows) + "\n")
    print("JSON: " + json.dumps(rows, default=str))
    if write:
        png = plot(rows, sizes, out_png, args.window)
        write_markdown(out_md, args, rows, sizes, conditions, png)
        log("wrote %s%s" % (out_md, " and " + out_png if png else ""))


if __name__ == "__main__":
    main()
