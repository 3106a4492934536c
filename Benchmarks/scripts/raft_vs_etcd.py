#!/usr/bin/env python3
"""Cohort Raft (three in-process RaftService nodes, RaftBenchmarks) against a three-member etcd 3.4 cluster,
in one run, on this machine's loopback. Builds nothing: give it the release RaftBenchmarks binary.

    cd Benchmarks && swift build -c release --product RaftBenchmarks --scratch-path .build-release-raft
    python3 scripts/raft_vs_etcd.py .build-release-raft/release/RaftBenchmarks

Measures on both sides (fsync on, heartbeat 100 ms, election timeout 1 s, 64 B values):
  (a) one client, N sequential writes to the leader: ops/s, p50, p99;
  (b) C concurrent clients for S seconds (etcd: one thread and one keep-alive connection each): ops/s, p50, p99;
  (c) failover: the leader is killed (etcd: kill -9; Cohort: its services cancelled) while a client loops;
      time from the kill until a write succeeds on a survivor; repeated F times, the killed member restarted
      over its data in between.
etcd is driven through its JSON gateway (POST /v3/kv/put) with http.client on keep-alive connections.
Every etcd process is started here and killed by PID at the end; data lives in a temporary directory.
"""

import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CLIENT_PORTS = [23791, 23792, 23793]
PEER_PORTS = [23801, 23802, 23803]
NAMES = ["e1", "e2", "e3"]


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def process_cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------- etcd cluster


class Etcd:
    def __init__(self, base):
        self.base = base
        self.procs = {}  # index -> Popen
        self.cluster = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(NAMES, PEER_PORTS))

    def start(self, i):
        name = NAMES[i]
        log = open(os.path.join(self.base, f"{name}.log"), "ab")
        args = [
            "etcd", "--name", name, "--data-dir", os.path.join(self.base, name),
            "--listen-client-urls", f"http://127.0.0.1:{CLIENT_PORTS[i]}",
            "--advertise-client-urls", f"http://127.0.0.1:{CLIENT_PORTS[i]}",
            "--listen-peer-urls", f"http://127.0.0.1:{PEER_PORTS[i]}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{PEER_PORTS[i]}",
            "--initial-cluster", self.cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", "cohort-bench",
            "--heartbeat-interval", "100", "--election-timeout", "1000",
        ]
        self.procs[i] = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)

    def kill(self, i):
        proc = self.procs.pop(i, None)
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self):
        for i in list(self.procs):
            self.kill(i)

    def status(self, i, timeout=1.0):
        """(member_id, leader_id, raft_index) as strings/ints, or None."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", CLIENT_PORTS[i], timeout=timeout)
            conn.request("POST", "/v3/maintenance/status", body="{}", headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            body = json.loads(response.read())
            conn.close()
            if response.status != 200:
                return None
            return body["header"]["member_id"], body.get("leader"), int(body.get("raftIndex", 0))
        except Exception:
            return None

    def wait_for_leader(self, members, within=60.0):
        """Index of the leader once every member in `members` reports the same leader and raft index."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            statuses = {i: self.status(i) for i in members}
            if all(s is not None for s in statuses.values()):
                leaders = {s[1] for s in statuses.values()}
                indexes = {s[2] for s in statuses.values()}
                if len(leaders) == 1 and len(indexes) == 1:
                    leader = leaders.pop()
                    for i, s in statuses.items():
                        if s[0] == leader:
                            return i
            time.sleep(0.05)
        raise RuntimeError("etcd: no agreed leader within %.0f s" % within)


def put_body(key, value):
    return json.dumps({"key": base64.b64encode(key).decode(), "value": base64.b64encode(value).decode()})


class Client:
    """One keep-alive connection to one member."""

    def __init__(self, port, timeout=10.0):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def put(self, body):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", "/v3/kv/put", body=body, headers={"Content-Type": "application/json"})
            response = self.conn.getresponse()
            data = response.read()
        except Exception:
            self.conn.close()
            self.conn = None
            return False
        return response.status == 200 and b'"error"' not in data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def etcd_sequential(port, n, value):
    client = Client(port)
    body = put_body(b"seq", value)
    for _ in range(200):
        client.put(body)
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        if not client.put(body):
            raise RuntimeError("etcd put failed")
        samples.append((time.perf_counter() - t) * 1e3)
    rate = n / (time.perf_counter() - started)
    client.close()
    samples.sort()
    return {"n": n, "ops": rate, "p50_ms": percentile(samples, 0.5), "p99_ms": percentile(samples, 0.99)}


def etcd_concurrent(port, clients, seconds, value):
    results = [None] * clients
    barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(k):
        client = Client(port)
        body = put_body(b"conc-%d" % k, value)
        client.put(body)  # connect before the clock starts
        samples, errors = [], 0
        barrier.wait()
        while time.perf_counter() < stop_at[0]:
            t = time.perf_counter()
            if client.put(body):
                samples.append((time.perf_counter() - t) * 1e3)
            else:
                errors += 1
        client.close()
        results[k] = (samples, errors)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + 3600
    time.sleep(0.2)
    started = time.perf_counter()
    stop_at[0] = started + seconds
    barrier.wait()
    for t in threads:
        t.join(timeout=seconds + 30)
    elapsed = time.perf_counter() - started
    samples = sorted(s for r in results if r for s in r[0])
    errors = sum(r[1] for r in results if r)
    return {"clients": clients, "n": len(samples), "errors": errors, "seconds": elapsed,
            "ops": len(samples) / elapsed, "p50_ms": percentile(samples, 0.5), "p99_ms": percentile(samples, 0.99)}


def etcd_failover(etcd, rounds, value):
    body = put_body(b"failover", value)
    times = []
    for _ in range(rounds):
        leader = etcd.wait_for_leader([0, 1, 2])
        survivors = [i for i in range(3) if i != leader]
        looping = [True]

        def loop():
            client = Client(CLIENT_PORTS[survivors[0]], timeout=0.2)
            while looping[0]:
                if not client.put(body):
                    time.sleep(0.01)
            client.close()

        looper = threading.Thread(target=loop, daemon=True)
        looper.start()
        time.sleep(0.3)
        crashed = time.monotonic()
        etcd.kill(leader)
        recovered, attempt = None, 0
        clients = [Client(CLIENT_PORTS[i], timeout=0.2) for i in survivors]
        while recovered is None and time.monotonic() < crashed + 30:
            client = clients[attempt % len(clients)]
            attempt += 1
            if client.put(body):
                recovered = (time.monotonic() - crashed) * 1e3
            else:
                time.sleep(0.01)
        looping[0] = False
        looper.join(timeout=5)
        for c in clients:
            c.close()
        times.append(recovered)
        etcd.start(leader)
        etcd.wait_for_leader([0, 1, 2])
        time.sleep(0.5)
    return times


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raft_benchmarks", help="path of the release RaftBenchmarks binary")
    parser.add_argument("--sequential", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--failovers", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()

    if shutil.which("etcd") is None:
        subprocess.run(["apt-get", "install", "-y", "etcd-server", "etcd-client"], check=True,
                       stdout=subprocess.DEVNULL)
    etcd_version = subprocess.run(["etcd", "--version"], capture_output=True, text=True).stdout.splitlines()[0]

    print("## Cohort (RaftBenchmarks)\n", flush=True)
    common = ["--sequential", str(args.sequential), "--concurrency", str(args.concurrency),
              "--seconds", str(args.seconds), "--failovers", str(args.failovers), "--size", str(args.size)]
    run = subprocess.run([args.raft_benchmarks] + common, capture_output=True, text=True, timeout=900)
    sys.stdout.write(run.stdout)
    if run.returncode != 0:
        sys.stderr.write(run.stderr)
        sys.exit("RaftBenchmarks failed with %d" % run.returncode)
    cohort = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("JSON: "))[6:])

    base = tempfile.mkdtemp(prefix="etcd-bench-", dir=tempfile.gettempdir())
    etcd = Etcd(base)
    value = b"\x42" * args.size
    try:
        etcd_load_start = load_average()
        for i in range(3):
            etcd.start(i)
        leader = etcd.wait_for_leader([0, 1, 2])
        sequential = etcd_sequential(CLIENT_PORTS[leader], args.sequential, value)
        leader = etcd.wait_for_leader([0, 1, 2])
        # CPU used during (b) by this client (Python, one GIL) and by the etcd members, in cores.
        pids = [p.pid for p in etcd.procs.values()]
        server_before = sum(process_cpu_seconds(pid) for pid in pids)
        client_before = os.times()
        concurrent = etcd_concurrent(CLIENT_PORTS[leader], args.concurrency, args.seconds, value)
        client_after = os.times()
        server_cpu = (sum(process_cpu_seconds(pid) for pid in pids) - server_before) / concurrent["seconds"]
        client_cpu = ((client_after.user + client_after.system) - (client_before.user + client_before.system)) / concurrent["seconds"]
        failovers = etcd_failover(etcd, args.failovers, value)
        etcd_load_end = load_average()
    finally:
        etcd.stop_all()
        shutil.rmtree(base, ignore_errors=True)

    def ratio(a, b):
        return "%.2f×" % (a / b) if a and b and a == a and b == b else "–"

    def ms(v):
        return "%.2f ms" % v if v is not None else "no recovery in 30 s"

    print("\n## Side by side (one run)\n")
    print("%s; Cohort: three nodes in one process; etcd: three processes. Load average: Cohort %s → %s, etcd %s → %s.\n"
          % (etcd_version, cohort["load_start"], cohort["load_end"], etcd_load_start, etcd_load_end))
    print("| measure | Cohort | etcd | Cohort / etcd |")
    print("|---|---|---|---|")
    cs, es = cohort["sequential"], sequential
    cc, ec = cohort["concurrent"], concurrent
    print("| (a) 1 client, %d sequential: ops/s | %.0f | %.0f | %s |" % (cs["n"], cs["ops"], es["ops"], ratio(cs["ops"], es["ops"])))
    print("| (a) p50 | %s | %s | %s |" % (ms(cs["p50_ms"]), ms(es["p50_ms"]), ratio(cs["p50_ms"], es["p50_ms"])))
    print("| (a) p99 | %s | %s | %s |" % (ms(cs["p99_ms"]), ms(es["p99_ms"]), ratio(cs["p99_ms"], es["p99_ms"])))
    print("| (b) %d clients, %d s: ops/s | %.0f | %.0f | %s |" % (cc["clients"], args.seconds, cc["ops"], ec["ops"], ratio(cc["ops"], ec["ops"])))
    print("| (b) p50 | %s | %s | %s |" % (ms(cc["p50_ms"]), ms(ec["p50_ms"]), ratio(cc["p50_ms"], ec["p50_ms"])))
    print("| (b) p99 | %s | %s | %s |" % (ms(cc["p99_ms"]), ms(ec["p99_ms"]), ratio(cc["p99_ms"], ec["p99_ms"])))
    print("| (b) errors | %d | %d | |" % (cc["errors"], ec["errors"]))
    for k in range(max(len(cohort["failover_ms"]), len(failovers))):
        c = cohort["failover_ms"][k] if k < len(cohort["failover_ms"]) else None
        e = failovers[k] if k < len(failovers) else None
        print("| (c) failover %d: kill → next write committed | %s | %s | %s |" % (k + 1, ms(c), ms(e), ratio(c, e)))
    print("\nCPU during (b), in cores of %d: Cohort's process (nodes and proposers) %.2f; etcd's three members %.2f"
          " and the Python client %.2f." % (os.cpu_count(), cc.get("cores", float("nan")), server_cpu, client_cpu))
    print("For ops/s a ratio above 1 favours Cohort; for latencies and failover a ratio below 1 does.")


if __name__ == "__main__":
    main()
