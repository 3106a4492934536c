#!/usr/bin/env python3
"""How quickly a gossip-only client's name cache follows a consistent name that moves, on real daemons.

Starts N cohortd nodes on loopback (default 6: 3 voters founding the Raft group, the rest `role: client`,
with the integration tests' membership timings: probe 400 ms, gossip 100 ms, suspicion_mult 3), registers
a consistent name for a session on node 1, has client node 5 (the first client when N < 5) resolve it
(so its cache holds it), then --rounds times: unregisters the name on its owner, registers it for a
session on the other of nodes 1 and 2, and polls the client's GET /v1/names/{name} every 20 ms until it
answers with the new owner. A client that missed the leader's update keeps the old answer until its cache's
TTL (30 s) expires; such a round shows as "late". Every wait is bounded (40 s a round); every node is
killed at the end (by PID), also on failure.

    swift build --product cohortd          # or -c release; --binary picks the build
    python3 Benchmarks/scripts/name_cache_follow.py --rounds 400
    python3 Benchmarks/scripts/name_cache_follow.py --rounds 400 --late-ms 2000 --net 127.0.78

Standard output: one line of figures, then the same as JSON.
"""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time, urllib.error, urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=None, help="cohortd (default: .build/release, else .build/debug)")
    parser.add_argument("--net", default="127.0.77", help="first three octets of the nodes' addresses")
    parser.add_argument("--nodes", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--late-ms", type=int, default=2000, help="a round slower than this counts as late")
    args = parser.parse_args()
    binary = args.binary or next(
        (p for p in (f"{ROOT}/.build/release/cohortd", f"{ROOT}/.build/debug/cohortd") if os.access(p, os.X_OK)), None)
    if binary is None:
        sys.exit("no cohortd: build it first (swift build --product cohortd)")
    ip = lambda i: f"{args.net}.{i}"
    client = 5 if args.nodes >= 5 else args.nodes
    directory = tempfile.mkdtemp(prefix="name-cache-follow-")
    processes = []

    def call(method, i, path, body=None):
        request = urllib.request.Request(f"http://{ip(i)}:7960{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError as error:
            return 0, str(error)

    def until(what, seconds, condition):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise SystemExit(f"gave up waiting for {what} after {seconds} s")

    try:
        for i in range(1, args.nodes + 1):
            founders = min(3, args.nodes)
            config = "\n".join([
                "cluster:", "  enabled: true", f"  name: n{i}", "  membership:", f"    bind_addr: {ip(i)}",
                f"    join_addrs: \"{ip(1)}:7946\"" if i > 1 else "    join_addrs: \"\"",
                "    probe_interval: 400ms", "    probe_timeout: 200ms", "    gossip_interval: 100ms",
                "    suspicion_mult: 3", "    push_pull_interval: 5s",
                "  internode:", f"    bind_addr: {ip(i)}", "  raft:", f"    data_dir: {directory}/n{i}/data",
                f"    bootstrap_expect: {founders if i <= founders else 0}",
                *(["    role: client"] if i > founders else []),
                "admin:", f"  address: {ip(i)}:7960", ""])
            os.makedirs(f"{directory}/n{i}")
            with open(f"{directory}/n{i}/cohortd.yaml", "w") as file:
                file.write(config)
            with open(f"{directory}/n{i}/log", "w") as log:
                processes.append(subprocess.Popen([binary, "--config", f"{directory}/n{i}/cohortd.yaml"],
                                                  stdout=log, stderr=subprocess.STDOUT))

        def alive():
            status, body = call("GET", 1, "/v1/members")
            return status == 200 and sum(m["state"] == "alive" for m in json.loads(body)) == args.nodes
        until("every node alive", 60, alive)
        sessions = {}

        def opened():
            for i in (1, 2):
                status, body = call("POST", i, "/v1/sessions", {"ttl": "30m"})
                if status != 201:
                    return False
                sessions[i] = json.loads(body)["pid"]
            return True
        until("two sessions", 60, opened)
        until("the first registration", 60, lambda: call("POST", 1, "/v1/names", {
            "name": "billing", "pid": sessions[1], "scope": "consistent"})[0] == 201)
        until("the client to resolve the name", 30, lambda: sessions[1] in call("GET", client, "/v1/names/billing")[1])

        owner, times, late = 1, [], []
        for number in range(args.rounds):
            other = 3 - owner
            status, body = call("DELETE", owner, f"/v1/names/billing?pid={sessions[owner]}")
            if status != 204:
                raise SystemExit(f"round {number}: unregister answered {status} {body}")
            status, body = call("POST", other, "/v1/names", {"name": "billing", "pid": sessions[other], "scope": "consistent"})
            if status != 201:
                raise SystemExit(f"round {number}: register answered {status} {body}")
            started = time.time()
            while True:
                status, body = call("GET", client, "/v1/names/billing")
                if status == 200 and sessions[other] in body:
                    break
                if time.time() - started > 40:
                    raise SystemExit(f"round {number}: the client still answered {status} {body[:120]} after 40 s")
                time.sleep(0.02)
            elapsed = time.time() - started
            times.append(elapsed)
            if elapsed * 1000 > args.late_ms:
                late.append({"round": number, "seconds": round(elapsed, 2)})
            owner = other
        times.sort()
        result = {
            "nodes": args.nodes, "rounds": args.rounds, "binary": binary,
            "p50_ms": round(times[len(times) // 2] * 1000), "p99_ms": round(times[max(0, int(len(times) * 0.99) - 1)] * 1000),
            "max_s": round(times[-1], 2), "late_ms": args.late_ms, "late": late,
        }
        print(f"N = {args.nodes}, {args.rounds} moves: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
              f"max {result['max_s']} s; later than {args.late_ms} ms: {len(late)} {late}")
        print(json.dumps(result))
    finally:
        for process in processes:
            process.send_signal(signal.SIGKILL)
        for process in processes:
            process.wait()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
