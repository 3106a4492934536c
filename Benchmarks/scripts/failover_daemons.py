#!/usr/bin/env python3
"""Leader failover with real cohortd daemons on their defaults (heartbeat 500 ms, election timeout 2 s):
the time from SIGKILL of the Raft leader until a write is accepted again (SPEC section 13: within 3 s).

    python3 Benchmarks/scripts/failover_daemons.py --cohortd .build/release/cohortd --nodes 3 --rounds 10

Starts the cluster with scripts/cluster.sh (on 127.0.3.x, data in a temporary directory), then per round:
find the leader (GET /v1/raft), SIGKILL it, PUT /v1/kv/failover (a 200 ms server-side timeout per attempt, a
new attempt right after a refusal) on a survivor until one returns 200; record the time since the kill; restart the
killed node over its data and wait until every node agrees on a leader again. Prints each round and the
p50 / max. Everything started here is stopped by PID at the end.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

NET = "127.0.3"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def request(ip, method, path, body=None, timeout=1.0):
    connection = http.client.HTTPConnection(ip, 7960, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def raft(ip):
    try:
        status, body = request(ip, "GET", "/v1/raft")
        return json.loads(body) if status == 200 else None
    except OSError:
        return None


def agreed_leader(ips, deadline):
    while time.monotonic() < deadline:
        states = [raft(ip) for ip in ips]
        leaders = {s["leader"] for s in states if s}
        if all(states) and len(leaders) == 1 and None not in leaders:
            return leaders.pop()
        time.sleep(0.1)
    raise TimeoutError("no agreed leader")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohortd", required=True)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="cohort-failover-")
    env = dict(os.environ, CLUSTER_DIR=directory, CLUSTER_COHORTD=os.path.abspath(args.cohortd), CLUSTER_NET=NET)
    script = os.path.join(ROOT, "scripts", "cluster.sh")
    ips = [f"{NET}.{i}" for i in range(1, args.nodes + 1)]
    extra = []
    times = []
    try:
        subprocess.run(["bash", script, "up", str(args.nodes)], env=env, check=True, timeout=180)
        agreed_leader(ips, time.monotonic() + 60)
        for round_number in range(1, args.rounds + 1):
            leader = agreed_leader(ips, time.monotonic() + 60)
            index = int(leader[1:])
            pid_file = os.path.join(directory, leader, "pid")
            with open(pid_file) as handle:
                pid = int(handle.read())
            survivor = next(ip for i, ip in enumerate(ips, 1) if i != index)
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            attempts = 0
            while True:
                attempts += 1
                try:
                    # A short server-side deadline, so an attempt stuck on the dead leader ends quickly and the
                    # figure is not rounded up to a client timeout.
                    status, _ = request(survivor, "PUT", "/v1/kv/failover?timeout=200ms",
                                        json.dumps({"value": str(round_number)}), timeout=0.5)
                    if status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() - killed > 30:
                    raise TimeoutError("no write accepted within 30 s of the kill")
                time.sleep(0.02)
            elapsed = time.monotonic() - killed
            times.append(elapsed)
            print(f"round {round_number}: killed leader {leader}; a write was accepted on {survivor} after {elapsed:.2f} s ({attempts} attempts)", flush=True)
            # Restart the killed node over its data.
            config = os.path.join(directory, leader, "cohortd.yaml")
            with open(os.path.join(directory, leader, "log"), "ab") as log:
                process = subprocess.Popen([env["CLUSTER_COHORTD"], "--config", config], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            extra.append(process)
            with open(pid_file, "w") as handle:
                handle.write(str(process.pid))
            agreed_leader(ips, time.monotonic() + 60)
            time.sleep(2)  # let the restarted node settle before the next kill
        ordered = sorted(times)
        print(f"\nfailover after SIGKILL of the leader, {args.nodes} nodes, {len(times)} rounds: "
              f"p50 {ordered[len(ordered) // 2]:.2f} s, min {ordered[0]:.2f} s, max {ordered[-1]:.2f} s")
    finally:
        subprocess.run(["bash", script, "down"], env=env, timeout=60)
        for process in extra:
            if process.poll() is None:
                process.kill()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
