#!/usr/bin/env python3
"""Cohort's coordination API (three real release cohortd daemons) against a three-member etcd 3.4 cluster,
in one run, on this machine's loopback. Builds the Go load generator (Benchmarks/loadgen, standard library
only) into a temporary directory; give it the release cohortd binary:

    swift build -c release --product cohortd --scratch-path /tmp/build-bench-release
    python3 Benchmarks/scripts/coordination_vs_etcd.py /tmp/build-bench-release/release/cohortd

Cohort: nodes c1..c3 on 127.0.9.1..3 (gossip 7946, mesh 7950, admin/HTTP 7960), three voters
(bootstrap_expect 3), the Raft log fsynced on every write (cohortd always fsyncs; there is no switch),
heartbeat 100 ms and election timeout 1 s like etcd below, snapshot threshold 8192 entries (the default),
stores `bench` and `big` (kv.raft). etcd: `etcd` from Debian (3.4.x; the version is printed), members
e1..e3 on 127.0.0.1:24791..24793 (peers 24801..24803), heartbeat 100 ms, election 1000 ms,
--snapshot-count 8192 (so both snapshot as often), --logger zap. The two clusters run one after the
other, never at the same time. Every process started here is killed by PID at the end; data lives in a
temporary directory.

One Go binary (`loadgen`) drives both sides with the same HTTP/1.1 keep-alive client and worker loop:
one connection per caller, latency per operation, ops/s over the timed part only (setup and a warm-up of
20 operations per caller happen before the clock starts).

Operations (64-byte values), each measured (a) by one caller, N sequential operations, and (b) by C
concurrent callers (default 64) for S seconds: ops/s, p50, p99, all against the leader:
  put    Cohort PUT /v1/kv/{key}?store=bench; etcd POST /v3/kv/put. One key per caller, overwritten.
  cas    Cohort POST /v1/txn?store=bench {compare: version == V, success: put}; etcd POST /v3/kv/txn
         {compare: MOD(key) == R, success: request_put}. Each caller swaps its own key, carrying the
         version (mod_revision) from the previous reply, so every swap must succeed (a failed one is an
         error).
  lock   acquire + release, one operation. Cohort POST /v1/locks/{name} {"holder": PID} then
         DELETE /v1/locks/{name}?holder=PID, the PID a session (POST /v1/sessions, ttl 1h). etcd 3.4's
         gateway has the v3lock service: POST /v3/lock/lock {"name", "lease"} then POST /v3/lock/unlock
         {"key": the owner key it returned}; each caller grants itself a lease first (POST
         /v3/lease/grant, TTL 3600, outside the clock). One lock name per caller (uncontended).
  name   Cohort only (etcd has no names): POST /v1/names {"name", "pid"} (consistent scope) then
         DELETE /v1/names/{name}?pid=PID, one operation.
  For lock and name each of the two requests is also timed on its own (rows "acquire alone",
  "release alone", "register alone", "unregister alone"): each is one write, and SPEC §13's write
  targets (lock acquire, consistent register) are per write.

Watch: W watchers (default 1000) on one fresh prefix, spread over the three nodes; then one caller makes
K sequential writes (default 10,000) to new keys under it through the leader. Delivery latency = arrival
at a watcher minus the write's reply at the writer (negative when the event comes first; counted as
before_reply). Every watcher must see every write exactly once and in order: missing, duplicates and
out_of_order count the mismatches. Cohort: GET /v1/watch?store=bench&prefix=P&from=R, R the store's revision before the writes (Server-Sent
Events). etcd: the 3.4 gateway's POST /v3/watch with one create_request (a stream of JSON messages).

Large state (default 1,000,000 keys, --keys to scale it down) in one store (Cohort `big`; etcd's one
keyspace), keys k/00000000... with 64-byte values:
  load           the keys written by 64 concurrent callers: seconds and ops/s;
  memory         VmRSS of the leader (/proc/PID/status) before and after the load (after every node
                 applied it): (after - before) / keys;
  snapshot       Cohort: cohortd logs "raft snapshot taken" (index, bytes) without a duration, so the
                 script writes until one entry short of the next snapshot, makes the crossing write, and
                 times from its reply until the leader's log shows the snapshot (polled every 5 ms): the
                 whole state serialized and saved with fsync. etcd: the leader's zap log, "triggering
                 snapshot" to "saved snapshot" of the last snapshot (ms timestamps). Not the same work:
                 etcd's keyspace already lives in bbolt, so its snapshot saves raft metadata and the v2
                 store and commits the backend;
  list           N (default 2000) sequential reads of a random 100-key prefix (linearizable on both: Cohort
                 GET /v1/kv?prefix=&limit=100; etcd POST /v3/kv/range with range_end and limit 100);
  restart        a sentinel key written, then all three killed (SIGKILL) and started again over their data:
                 per node, spawn until its log says Raft started (the snapshot restored; etcd: "serving
                 client traffic"), and for the cluster, spawn until a linearizable read of the sentinel
                 answers and every node has applied the index committed before the kill;
  follower       a follower killed, its data directory deleted, started again: spawn until it has applied
                 the leader's commit index from before (Cohort: the same node comes back blank and is sent
                 a snapshot; etcd cannot take a wiped member back under its ID: it is removed and added
                 again through /v3/cluster/member/{remove,add} and started with --initial-cluster-state
                 existing, and the leader sends it the database snapshot). The log line that shows the
                 snapshot arrived is checked.

Prints one Markdown table with both sides, then the raw JSON. Every loop is bounded in time.
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COHORT_NET = "127.0.9"
COHORT_ADMIN_PORT = 7960
ETCD_CLIENT_PORTS = [24791, 24792, 24793]
ETCD_PEER_PORTS = [24801, 24802, 24803]
SNAPSHOT_THRESHOLD = 8192


def log(message):
    print("# " + message, file=sys.stderr, flush=True)


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def process_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http(url, method="GET", body=None, timeout=2.0):
    """(status, parsed JSON or raw bytes); (None, error text) when the request failed to complete."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    except Exception as error:  # refused, reset, timed out
        return None, str(error)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def wait_until(what, condition, within, interval=0.05):
    """Polls `condition` until it returns something truthy; the seconds it took, or TimeoutError."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        value = condition()
        if value:
            return time.monotonic() - started, value
        time.sleep(interval)
    raise TimeoutError("%s: not within %.0f s" % (what, within))


class LogFile:
    """A daemon's log, read from where the last look ended."""

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def mark(self):
        self.offset = os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def lines(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        return data.decode("utf-8", "replace").splitlines()

    def json_lines(self, message):
        """Parsed JSON lines since the mark whose `msg` is `message`."""
        found = []
        for line in self.lines():
            if message not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == message:
                found.append(entry)
        return found


def stop_process(proc, sig=signal.SIGKILL, within=20.0):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# ---------------------------------------------------------------- the load generator


class LoadGen:
    def __init__(self, directory):
        self.binary = os.path.join(directory, "loadgen")
        env = dict(os.environ, GOCACHE=os.path.join(directory, "gocache"), GOFLAGS="", CGO_ENABLED="0",
                   GO111MODULE="off")
        subprocess.run(["go", "build", "-o", self.binary, os.path.join(ROOT, "Benchmarks", "loadgen", "main.go")],
                       env=env, check=True, timeout=600)

    def run(self, *arguments, timeout=3600):
        started = time.monotonic()
        result = subprocess.run([self.binary] + [str(a) for a in arguments], capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError("loadgen %s failed: %s" % (" ".join(map(str, arguments[:5])), result.stderr.strip()))
        output = json.loads(result.stdout.strip().splitlines()[-1])
        output["wall_seconds"] = time.monotonic() - started
        return output


# ---------------------------------------------------------------- Cohort


class Cohort:
    def __init__(self, binary, base):
        self.binary = os.path.abspath(binary)
        self.base = base
        self.procs = {}
        self.logs = {i: LogFile(os.path.join(base, "c%d" % (i + 1), "log")) for i in range(3)}

    def ip(self, i):
        return "%s.%d" % (COHORT_NET, i + 1)

    def url(self, i):
        return "http://%s:%d" % (self.ip(i), COHORT_ADMIN_PORT)

    def data_dir(self, i):
        return os.path.join(self.base, "c%d" % (i + 1), "data")

    def config(self, i):
        directory = os.path.join(self.base, "c%d" % (i + 1))
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "cohortd.yaml")
        # Every node lists the other two as seeds, so any of them (a wiped one too) finds the cluster at once;
        # a node without seeds would wait for the others to notice it (up to tens of seconds).
        join = '    join_addrs: "%s"\n' % ",".join("%s:7946" % self.ip(k) for k in range(3) if k != i)
        with open(path, "w") as f:
            f.write(
                "cluster:\n"
                "  enabled: true\n"
                "  name: c%d\n"
                "  membership:\n"
                "    bind_addr: %s\n%s"
                "  internode:\n"
                "    bind_addr: %s\n"
                "    bind_port: 7950\n"
                "  raft:\n"
                "    bootstrap_expect: 3\n"
                "    data_dir: %s\n"
                "    heartbeat_interval: 100ms\n"
                "    election_timeout: 1s\n"
                "    snapshot_threshold: %d\n"
                "admin:\n"
                "  address: %s:%d\n"
                "log:\n"
                "  format: json\n"
                "stores:\n"
                "  - name: bench\n"
                "    kind: kv.raft\n"
                "  - name: big\n"
                "    kind: kv.raft\n"
                % (i + 1, self.ip(i), join, self.ip(i), self.data_dir(i), SNAPSHOT_THRESHOLD,
                   self.ip(i), COHORT_ADMIN_PORT))
        return path

    def start(self, i):
        config = self.config(i)
        log_file = open(self.logs[i].path, "ab")
        self.procs[i] = subprocess.Popen([self.binary, "--config", config], stdout=log_file, stderr=log_file,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        log_file.close()
        return time.monotonic()

    def kill(self, i, sig=signal.SIGKILL):
        stop_process(self.procs.pop(i, None), sig)

    def stop_all(self):
        for i in list(self.procs):
            self.kill(i, signal.SIGTERM)

    def pid(self, i):
        return self.procs[i].pid

    def raft(self, i):
        status, body = http(self.url(i) + "/v1/raft", timeout=1.0)
        return body if status == 200 and isinstance(body, dict) else None

    def agreed_leader(self, members=(0, 1, 2), within=120.0):
        def check():
            for i in members:
                if i in self.procs and self.procs[i].poll() is not None:
                    raise RuntimeError("cohortd c%d exited; see %s" % (i + 1, self.logs[i].path))
            states = [self.raft(i) for i in members]
            leaders = {s["leader"] for s in states if s}
            if all(states) and len(leaders) == 1 and None not in leaders:
                leader = leaders.pop()
                ready = [http(self.url(i) + "/readyz", timeout=1.0)[0] == 200 for i in members]
                if all(ready):
                    return int(leader[1:])  # c1 → 1 (1-based here, so that it is never false)
            return None
        _, leader = wait_until("Cohort: an agreed leader", check, within)
        return leader - 1

    def applied(self, i):
        state = self.raft(i)
        return state["applied_index"] if state else -1

    def commit(self, i):
        state = self.raft(i)
        return state["commit_index"] if state else -1


# ---------------------------------------------------------------- etcd


class Etcd:
    NAMES = ["e1", "e2", "e3"]

    def __init__(self, base):
        self.base = base
        self.procs = {}
        self.logs = {i: LogFile(os.path.join(base, "%s.log" % self.NAMES[i])) for i in range(3)}

    def url(self, i):
        return "http://127.0.0.1:%d" % ETCD_CLIENT_PORTS[i]

    def peer_url(self, i):
        return "http://127.0.0.1:%d" % ETCD_PEER_PORTS[i]

    def data_dir(self, i):
        return os.path.join(self.base, self.NAMES[i])

    def start(self, i, state="new"):
        cluster = ",".join("%s=%s" % (n, self.peer_url(k)) for k, n in enumerate(self.NAMES))
        args = [
            "etcd", "--name", self.NAMES[i], "--data-dir", self.data_dir(i),
            "--listen-client-urls", self.url(i), "--advertise-client-urls", self.url(i),
            "--listen-peer-urls", self.peer_url(i), "--initial-advertise-peer-urls", self.peer_url(i),
            "--initial-cluster", cluster, "--initial-cluster-state", state,
            "--initial-cluster-token", "cohort-coordination-bench",
            "--heartbeat-interval", "100", "--election-timeout", "1000",
            "--snapshot-count", str(SNAPSHOT_THRESHOLD), "--logger", "zap", "--log-outputs", "stderr",
        ]
        log_file = open(self.logs[i].path, "ab")
        self.procs[i] = subprocess.Popen(args, stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        log_file.close()
        return time.monotonic()

    def kill(self, i, sig=signal.SIGKILL):
        stop_process(self.procs.pop(i, None), sig)

    def stop_all(self):
        for i in list(self.procs):
            self.kill(i)

    def pid(self, i):
        return self.procs[i].pid

    def status(self, i):
        code, body = http(self.url(i) + "/v3/maintenance/status", "POST", {}, timeout=1.0)
        if code != 200 or not isinstance(body, dict):
            return None
        return body

    def agreed_leader(self, members=(0, 1, 2), within=120.0):
        def check():
            for i in members:
                if i in self.procs and self.procs[i].poll() is not None:
                    raise RuntimeError("etcd %s exited; see %s" % (self.NAMES[i], self.logs[i].path))
            states = {i: self.status(i) for i in members}
            if not all(states.values()):
                return None
            leaders = {s.get("leader") for s in states.values()}
            if len(leaders) != 1:
                return None
            leader = leaders.pop()
            for i, s in states.items():
                if s["header"]["member_id"] == leader:
                    return i + 1
            return None
        _, leader = wait_until("etcd: an agreed leader", check, within)
        return leader - 1

    def raft_index(self, i):
        s = self.status(i)
        return int(s.get("raftIndex", 0)) if s else -1

    def applied(self, i):
        s = self.status(i)
        # raftAppliedIndex is 3.4+; raftIndex is the committed index this member knows.
        return int(s.get("raftAppliedIndex", s.get("raftIndex", 0))) if s else -1


def zap_time(entry):
    text = entry.get("ts")
    if isinstance(text, (int, float)):
        return float(text)
    return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


# ---------------------------------------------------------------- the measurements


def operations(gen, system, url, ops, args, pid=None):
    results = {}
    for op in ops:
        common = ["--system", system, "--op", op, "--url", url, "--store", "bench", "--value-size", args.size]
        if pid:
            common += ["--pid", pid]
        log("%s %s: %d sequential" % (system, op, args.sequential))
        sequential = gen.run("run", *common, "--prefix", "seq-%s/" % op, "--concurrency", 1,
                             "--count", args.sequential)
        log("%s %s: %d callers for %d s" % (system, op, args.concurrency, args.seconds))
        concurrent = gen.run("run", *common, "--prefix", "conc-%s/" % op, "--concurrency", args.concurrency,
                             "--duration", "%ds" % args.seconds, "--warmup", 5)
        results[op] = {"sequential": sequential, "concurrent": concurrent}
    return results


def watch(gen, system, urls, leader_url, args):
    log("%s watch: %d watchers, %d writes" % (system, args.watchers, args.watch_writes))
    return gen.run("watch", "--system", system, "--url", ",".join(urls), "--write-url", leader_url,
                   "--store", "bench", "--prefix", "watch-%d/" % int(time.time()), "--watchers", args.watchers,
                   "--writes", args.watch_writes, "--value-size", args.size,
                   timeout=600 + args.watch_writes)


def all_applied(cluster, members, index):
    return all(cluster.applied(i) >= index for i in members)


def cohort_big(gen, cohort, args):
    out = {}
    leader = cohort.agreed_leader()
    pid = cohort.pid(leader)
    out["rss_before_kib"] = rss_kib(pid)
    log("Cohort big state: loading %d keys" % args.keys)
    cohort.logs[leader].mark()
    out["load"] = gen.run("run", "--system", "cohort", "--op", "put", "--url", cohort.url(leader), "--store", "big",
                          "--prefix", "k/", "--unique", "--key-width", 8, "--count", args.keys,
                          "--concurrency", args.concurrency, "--warmup", 0, "--value-size", args.size,
                          "--max-errors", 100)
    commit = cohort.commit(leader)
    wait_until("Cohort: every node applied the load", lambda: all_applied(cohort, range(3), commit), 600, 0.2)
    time.sleep(1)
    out["rss_after_kib"] = rss_kib(pid)
    out["rss_bytes_per_key"] = (out["rss_after_kib"] - out["rss_before_kib"]) * 1024 / max(1, args.keys)

    # Snapshot: the daemon logs how long each snapshot took to serialize and to save (off the event loop,
    # while entries go on applying). A snapshot waits until the entries since the last one add up to half
    # its size (docs/raft.md), so the largest one taken during the load is the measure: its size and time.
    taken = cohort.logs[leader].json_lines("raft snapshot taken")
    if not taken:
        raise RuntimeError("the leader took no snapshot during the load")
    largest = max(taken, key=lambda e: int(e.get("bytes", 0)))
    out["snapshot_seconds"] = (int(largest.get("serialize_ms", 0)) + int(largest.get("save_ms", 0))) / 1000.0
    out["snapshot_serialize_seconds"] = int(largest.get("serialize_ms", 0)) / 1000.0
    out["snapshot_save_seconds"] = int(largest.get("save_ms", 0)) / 1000.0
    out["snapshot_bytes"] = int(largest.get("bytes", 0))
    out["snapshot_index"] = int(largest["raft.snapshot_index"])
    out["snapshots_during_load"] = len(taken)

    log("Cohort big state: %d prefix lists" % args.list_ops)
    out["list"] = gen.run("run", "--system", "cohort", "--op", "list", "--url", cohort.url(leader), "--store", "big",
                          "--prefix", "k/", "--key-width", 8, "--keys", args.keys, "--concurrency", 1,
                          "--count", args.list_ops)

    # Full restart.
    log("Cohort big state: full restart")
    # A key known to be written (a load that met errors may lack its last key) to read back after it.
    code, _ = http(cohort.url(leader) + "/v1/kv/restart-sentinel?store=big", "PUT", {"value": "x"}, timeout=10)
    if code != 200:
        raise RuntimeError("sentinel write before the restart: %s" % code)
    commit = cohort.commit(leader)
    for i in range(3):
        cohort.kill(i)
    spawned = {}
    for i in range(3):
        cohort.logs[i].mark()
        spawned[i] = cohort.start(i)
    started = min(spawned.values())
    raft_started = {}

    def restored():
        for i in range(3):
            if i not in raft_started and cohort.logs[i].json_lines("raft started"):
                raft_started[i] = time.monotonic() - spawned[i]
            if cohort.procs[i].poll() is not None:
                raise RuntimeError("cohortd c%d exited on restart" % (i + 1))
        if len(raft_started) < 3:
            return None
        code, _ = http(cohort.url(leader) + "/v1/kv/restart-sentinel?store=big", timeout=2)
        return code == 200 and all_applied(cohort, range(3), commit)
    wait_until("Cohort: serving after a full restart", restored, 600, 0.02)
    out["restart_serving_seconds"] = time.monotonic() - started
    out["restart_raft_started_seconds"] = max(raft_started.values())

    # A follower wiped and caught up.
    leader = cohort.agreed_leader()
    follower = next(i for i in range(3) if i != leader)
    log("Cohort big state: wiping follower c%d" % (follower + 1))
    cohort.kill(follower)
    shutil.rmtree(cohort.data_dir(follower))
    commit = cohort.commit(leader)
    cohort.logs[follower].mark()
    cohort.logs[leader].mark()
    spawned = cohort.start(follower)

    def caught_up():
        if cohort.procs[follower].poll() is not None:
            raise RuntimeError("cohortd c%d exited after its wipe" % (follower + 1))
        return cohort.applied(follower) >= commit
    try:
        out["follower_catch_up_seconds"], _ = wait_until("Cohort: the wiped follower caught up", caught_up,
                                                         args.catch_up_timeout, 0.02)
    except TimeoutError as error:
        out["follower_catch_up_seconds"] = None
        out["follower_catch_up_error"] = str(error)
    out["follower_snapshot_installed"] = bool(cohort.logs[follower].json_lines("raft snapshot installed"))
    sent = cohort.logs[leader].json_lines("raft snapshot sent")
    out["follower_snapshot_sent_bytes"] = int(sent[-1].get("bytes", 0)) if sent else None
    refused = cohort.logs[leader].json_lines("raft snapshot not sent")
    if refused:
        out["follower_snapshot_not_sent"] = "%d times; last reason: %s" % (len(refused), refused[-1].get("reason"))
    return out


def etcd_member_list(etcd, i):
    code, body = http(etcd.url(i) + "/v3/cluster/member/list", "POST", {}, timeout=5)
    if code != 200:
        raise RuntimeError("etcd member list: %s %s" % (code, body))
    return body["members"]


def etcd_big(gen, etcd, args):
    out = {}
    leader = etcd.agreed_leader()
    pid = etcd.pid(leader)
    out["rss_before_kib"] = rss_kib(pid)
    log("etcd big state: loading %d keys" % args.keys)
    out["load"] = gen.run("run", "--system", "etcd", "--op", "put", "--url", etcd.url(leader), "--prefix", "k/",
                          "--unique", "--key-width", 8, "--count", args.keys, "--concurrency", args.concurrency,
                          "--warmup", 0, "--value-size", args.size, "--max-errors", 10000)
    index = etcd.raft_index(leader)
    wait_until("etcd: every member applied the load", lambda: all_applied(etcd, range(3), index), 600, 0.2)
    time.sleep(1)
    out["rss_after_kib"] = rss_kib(pid)
    out["rss_bytes_per_key"] = (out["rss_after_kib"] - out["rss_before_kib"]) * 1024 / max(1, args.keys)

    triggered = etcd.logs[leader].json_lines("triggering snapshot")
    saved = etcd.logs[leader].json_lines("saved snapshot")
    if triggered and saved:
        last_saved = saved[-1]
        before = [t for t in triggered if zap_time(t) <= zap_time(last_saved)]
        out["snapshot_seconds"] = zap_time(last_saved) - zap_time(before[-1]) if before else None
        out["snapshot_index"] = last_saved.get("snapshot-index")
    else:
        out["snapshot_seconds"] = None
    out["snapshots_during_load"] = len(saved)

    log("etcd big state: %d prefix lists" % args.list_ops)
    out["list"] = gen.run("run", "--system", "etcd", "--op", "list", "--url", etcd.url(leader), "--prefix", "k/",
                          "--key-width", 8, "--keys", args.keys, "--concurrency", 1, "--count", args.list_ops)

    log("etcd big state: full restart")
    last_key = "restart-sentinel"
    code, _ = http(etcd.url(leader) + "/v3/kv/put", "POST", {"key": base64.b64encode(last_key.encode()).decode(),
                                                             "value": base64.b64encode(b"x").decode()}, timeout=10)
    if code != 200:
        raise RuntimeError("sentinel write before the restart: %s" % code)
    index = etcd.raft_index(leader)
    for i in range(3):
        etcd.kill(i)
    spawned = {}
    for i in range(3):
        etcd.logs[i].mark()
        spawned[i] = etcd.start(i)
    started = min(spawned.values())
    serving = {}

    def restored():
        for i in range(3):
            if i not in serving and etcd.logs[i].json_lines("serving client traffic insecurely; this is strongly discouraged!"):
                serving[i] = time.monotonic() - spawned[i]
            if etcd.procs[i].poll() is not None:
                raise RuntimeError("etcd %s exited on restart" % etcd.NAMES[i])
        if len(serving) < 3:
            return None
        code, body = http(etcd.url(0) + "/v3/kv/range", "POST",
                          {"key": base64.b64encode(last_key.encode()).decode()}, timeout=2)
        return code == 200 and isinstance(body, dict) and body.get("kvs") and all_applied(etcd, range(3), index)
    wait_until("etcd: serving after a full restart", restored, 600, 0.02)
    out["restart_serving_seconds"] = time.monotonic() - started
    out["restart_raft_started_seconds"] = max(serving.values()) if len(serving) == 3 else None

    leader = etcd.agreed_leader()
    follower = next(i for i in range(3) if i != leader)
    log("etcd big state: wiping follower %s (member remove + add)" % etcd.NAMES[follower])
    members = etcd_member_list(etcd, leader)
    member = next(m for m in members if m.get("name") == etcd.NAMES[follower])
    etcd.kill(follower)
    shutil.rmtree(etcd.data_dir(follower))
    removed_at = time.monotonic()
    code, body = http(etcd.url(leader) + "/v3/cluster/member/remove", "POST", {"ID": member["ID"]}, timeout=10)
    if code != 200:
        raise RuntimeError("etcd member remove: %s %s" % (code, body))
    # etcd refuses a reconfiguration ("unhealthy cluster") until the leader has been connected to a
    # quorum for 5 s, which a cluster restarted moments ago has not: retry, bounded.
    added = [None]

    def add():
        code, body = http(etcd.url(leader) + "/v3/cluster/member/add", "POST",
                          {"peerURLs": [etcd.peer_url(follower)]}, timeout=10)
        added[0] = (code, body)
        return code == 200
    try:
        wait_until("etcd member add", add, 60, 0.5)
    except TimeoutError:
        raise RuntimeError("etcd member add: %s %s" % added[0])
    out["member_replace_seconds"] = time.monotonic() - removed_at
    index = etcd.raft_index(leader)
    etcd.logs[follower].mark()
    etcd.start(follower, state="existing")

    def caught_up():
        if etcd.procs[follower].poll() is not None:
            raise RuntimeError("etcd %s exited after its wipe" % etcd.NAMES[follower])
        return etcd.applied(follower) >= index
    try:
        out["follower_catch_up_seconds"], _ = wait_until("etcd: the wiped follower caught up", caught_up,
                                                         args.catch_up_timeout, 0.02)
    except TimeoutError as error:
        out["follower_catch_up_seconds"] = None
        out["follower_catch_up_error"] = str(error)
    out["follower_snapshot_installed"] = bool(etcd.logs[follower].json_lines("received and saved database snapshot")
                                              or etcd.logs[follower].json_lines("applied snapshot"))
    return out


# ---------------------------------------------------------------- output


def fmt_ms(v):
    return "%.2f ms" % v if isinstance(v, (int, float)) else "–"


def fmt_s(v):
    return "%.2f s" % v if isinstance(v, (int, float)) else "–"


def fmt_ops(v):
    return "%.0f" % v if isinstance(v, (int, float)) else "–"


def ms(seconds):
    return seconds * 1000 if isinstance(seconds, (int, float)) else None


def show(v):
    return "–" if v is None else str(v)


def ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 and b > 0:
        return "%.2f×" % (a / b)
    return "–"


# The requests of the two-request operations, as the load generator names them in "steps".
STEPS = {"lock": ["acquire", "release"], "name": ["register", "unregister"]}


def table(c, e, args):
    rows = []

    def row(name, a, b, f):
        rows.append("| %s | %s | %s | %s |" % (name, f(a), f(b), ratio(a, b)))

    def get(d, *path):
        for p in path:
            if not isinstance(d, dict) or p not in d:
                return None
            d = d[p]
        return d

    for op in ["put", "cas", "lock", "name"]:
        for mode, label in [("sequential", "1 caller, %d sequential" % args.sequential),
                            ("concurrent", "%d callers, %d s" % (args.concurrency, args.seconds))]:
            cs, es = get(c, "ops", op, mode), get(e, "ops", op, mode)
            row("%s, %s: ops/s" % (op, label), get(cs, "ops_per_s"), get(es, "ops_per_s"), fmt_ops)
            row("%s, %s: p50" % (op, label), get(cs, "p50_ms"), get(es, "p50_ms"), fmt_ms)
            row("%s, %s: p99" % (op, label), get(cs, "p99_ms"), get(es, "p99_ms"), fmt_ms)
            # The two writes of a two-request operation, each timed on its own (SPEC's targets are per write).
            for step in STEPS.get(op, []):
                for q in ("p50", "p99"):
                    row("%s, %s: %s alone %s" % (op, label, step, q), get(cs, "steps", step, q + "_ms"),
                        get(es, "steps", step, q + "_ms"), fmt_ms)
            errors = (get(cs, "errors"), get(es, "errors"))
            if any(errors):
                rows.append("| %s, %s: errors | %s | %s | |" % (op, label, errors[0], errors[1]))
    cw, ew = get(c, "watch"), get(e, "watch")
    label = "watch (%d watchers × %d writes)" % (args.watchers, args.watch_writes)
    row(label + ": delivery p50", get(cw, "p50_ms"), get(ew, "p50_ms"), fmt_ms)
    row(label + ": delivery p99", get(cw, "p99_ms"), get(ew, "p99_ms"), fmt_ms)
    for key in ["deliveries", "missing", "duplicates", "out_of_order", "before_reply", "watchers_failed"]:
        rows.append("| %s: %s | %s | %s | |" % (label, key, show(get(cw, key)), show(get(ew, key))))
    cb, eb = get(c, "big"), get(e, "big")
    label = "%d keys" % args.keys
    row(label + ": load (64 callers)", get(cb, "load", "seconds"), get(eb, "load", "seconds"), fmt_s)
    row(label + ": load ops/s", get(cb, "load", "ops_per_s"), get(eb, "load", "ops_per_s"), fmt_ops)
    rows.append("| %s: load errors | %s | %s | |" % (label, show(get(cb, "load", "errors")), show(get(eb, "load", "errors"))))
    row(label + ": leader RSS bytes per key", get(cb, "rss_bytes_per_key"), get(eb, "rss_bytes_per_key"), fmt_ops)
    row(label + ": snapshot", ms(get(cb, "snapshot_seconds")), ms(get(eb, "snapshot_seconds")), fmt_ms)
    rows.append("| %s: snapshot bytes (Cohort) | %s | | |" % (label, show(get(cb, "snapshot_bytes"))))
    row(label + ": 100-key prefix list p50", get(cb, "list", "p50_ms"), get(eb, "list", "p50_ms"), fmt_ms)
    row(label + ": 100-key prefix list p99", get(cb, "list", "p99_ms"), get(eb, "list", "p99_ms"), fmt_ms)
    row(label + ": full restart, Raft started (slowest node)", get(cb, "restart_raft_started_seconds"),
        get(eb, "restart_raft_started_seconds"), fmt_s)
    row(label + ": full restart, serving again", get(cb, "restart_serving_seconds"),
        get(eb, "restart_serving_seconds"), fmt_s)
    row(label + ": wiped follower caught up", get(cb, "follower_catch_up_seconds"),
        get(eb, "follower_catch_up_seconds"), fmt_s)
    rows.append("| %s: wiped follower got a snapshot | %s | %s | |" % (
        label, show(get(cb, "follower_snapshot_installed")), show(get(eb, "follower_snapshot_installed"))))
    return "\n".join(["| measure | Cohort | etcd | Cohort / etcd |", "|---|---|---|---|"] + rows)


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cohortd", help="path of the release cohortd binary")
    parser.add_argument("--sequential", type=int, default=2000, help="operations for the one-caller run")
    parser.add_argument("--concurrency", type=int, default=64, help="callers for the concurrent run and the load")
    parser.add_argument("--seconds", type=int, default=10, help="length of the concurrent run")
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--watch-writes", type=int, default=10000)
    parser.add_argument("--keys", type=int, default=1000000, help="keys of the large-state part (0 skips it)")
    parser.add_argument("--list-ops", type=int, default=2000)
    parser.add_argument("--catch-up-timeout", type=float, default=600)
    parser.add_argument("--size", type=int, default=64, help="value bytes")
    parser.add_argument("--skip-etcd", action="store_true")
    parser.add_argument("--skip-cohort", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data)")
    args = parser.parse_args()
    if args.keys and args.keys < 100:
        parser.error("--keys must be 0 or at least 100")

    if not args.skip_etcd and shutil.which("etcd") is None:
        subprocess.run(["apt-get", "install", "-y", "etcd-server", "etcd-client"], check=True, stdout=subprocess.DEVNULL)
    etcd_version = "–" if args.skip_etcd else subprocess.run(["etcd", "--version"], capture_output=True, text=True).stdout.splitlines()[0]

    base = tempfile.mkdtemp(prefix="coordination-bench-")
    cohort = Cohort(args.cohortd, os.path.join(base, "cohort"))
    etcd = Etcd(os.path.join(base, "etcd"))
    os.makedirs(etcd.base)
    c, e = {}, {}
    try:
        log("building the load generator")
        gen = LoadGen(base)

        if not args.skip_cohort:
            log("starting Cohort (3 × cohortd on %s.1-3)" % COHORT_NET)
            c["load_start"] = load_average()
            for i in range(3):
                cohort.start(i)
            leader = cohort.agreed_leader()
            status, session = http(cohort.url(leader) + "/v1/sessions", "POST", {"ttl": "1h"}, timeout=5)
            if status != 201:
                raise RuntimeError("open session: %s %s" % (status, session))
            pids = [cohort.pid(i) for i in range(3)]
            cpu_before = sum(process_cpu_seconds(p) for p in pids)
            c["ops"] = operations(gen, "cohort", cohort.url(leader), ["put", "cas", "lock", "name"], args, session["pid"])
            c["server_cpu_seconds_ops"] = sum(process_cpu_seconds(p) for p in pids) - cpu_before
            c["watch"] = watch(gen, "cohort", [cohort.url(i) for i in range(3)], cohort.url(leader), args)
            if args.keys:
                c["big"] = cohort_big(gen, cohort, args)
            c["load_end"] = load_average()
            cohort.stop_all()

        if not args.skip_etcd:
            log("starting etcd (3 members on 127.0.0.1:%d-%d)" % (ETCD_CLIENT_PORTS[0], ETCD_CLIENT_PORTS[-1]))
            e["load_start"] = load_average()
            for i in range(3):
                etcd.start(i)
            leader = etcd.agreed_leader()
            pids = [etcd.pid(i) for i in range(3)]
            cpu_before = sum(process_cpu_seconds(p) for p in pids)
            e["ops"] = operations(gen, "etcd", etcd.url(leader), ["put", "cas", "lock"], args)
            e["server_cpu_seconds_ops"] = sum(process_cpu_seconds(p) for p in pids) - cpu_before
            e["watch"] = watch(gen, "etcd", [etcd.url(i) for i in range(3)], etcd.url(leader), args)
            if args.keys:
                e["big"] = etcd_big(gen, etcd, args)
            e["load_end"] = load_average()
    finally:
        cohort.stop_all()
        etcd.stop_all()
        if args.keep:
            log("kept %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)

    print("## Coordination: Cohort against etcd (one run)\n")
    print("cohortd %s; %s; %d cores. Load average: Cohort %s → %s, etcd %s → %s.\n" % (
        args.cohortd, etcd_version, os.cpu_count(), c.get("load_start"), c.get("load_end"),
        e.get("load_start", "–"), e.get("load_end", "–")))
    print(table(c, e, args))
    print("\nFor ops/s a ratio above 1 favours Cohort; for latencies and times a ratio below 1 does. "
          "Load generator CPU (cores) during the concurrent runs: %s." % ", ".join(
              "%s %s %.2f" % (side, op, r["ops"][op]["concurrent"]["client_cpu_cores"])
              for side, r in [("Cohort", c), ("etcd", e)] if "ops" in r for op in r["ops"]))
    print("\n```json\n%s\n```" % json.dumps({"cohort": c, "etcd": e}, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
