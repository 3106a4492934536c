#!/usr/bin/env python3
"""Process groups: Cohort against Erlang/OTP `pg` (this file holds the OTP yardstick; a Cohort half
goes next to run_otp). Loopback only, 5 nodes on this machine, every wait bounded, every process
this script starts is stopped by its PID (also on failure).

OTP half: 5 distributed Erlang nodes (-sname, a fresh cookie, -noshell, default pg scope through
`-kernel start_pg true`, distribution listening on 127.0.0.1 only) run pg_otp.erl, compiled here
with erlc into a temporary directory. Node 1 is the driver: this script writes one Erlang term per
line to its standard input and reads one `RESULT <json>` line back. Measured:
  a. broadcast deliveries/s: M members spread over the 5 nodes in one group; node 1 broadcasts the
     OTP way (pg:get_members/2 then `!` to each pid, per broadcast); median of 3 runs;
  b. join -> visible on all 5 nodes (pg:monitor/2 on the 4 other nodes; p50/p99 ms);
  c. sync time of a fresh node connecting to a scope of N groups (default 100,000);
  d. memory per member at N groups (local node and a remote node's view);
  e. idle CPU of each beam process with 10,000 groups and with 10 groups.

    apt-get install -y erlang-base
    python3 Benchmarks/scripts/pg_vs_otp.py                  # full run (about 4-6 minutes)
    python3 Benchmarks/scripts/pg_vs_otp.py --quick          # smoke run (under a minute)
    python3 Benchmarks/scripts/pg_vs_otp.py --out results.json
"""
import argparse, json, os, platform, queue, secrets, shutil, signal, statistics, subprocess, sys
import tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
ERL_SOURCE = os.path.join(HERE, "pg_otp.erl")
NODES = 5


def log(msg):
    if not LOG_QUIET[0]:
        print(f"[pg_vs_otp {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


LOG_QUIET = [False]


def wait_for(what, cond, timeout_s, poll_s=0.05):
    """Polls cond() until it is truthy; raises TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(poll_s)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def atom(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def atoms(names):
    return "[" + ",".join(atom(n) for n in names) + "]"


# ----------------------------------------------------------------------------------------- OTP half

class ErlNode:
    """One Erlang node OS process. `erl` execs erlexec, which execs beam.smp: the PID stays the same."""

    def __init__(self, name, proc, logfile):
        self.name, self.proc, self.logfile = name, proc, logfile
        self.full = None
        self.lines = queue.Queue()
        self.other = []          # non-RESULT stdout lines (kept for error messages)

    def beam_pid(self):
        return self.proc.pid


class OtpCluster:
    def __init__(self, args, workdir):
        self.args, self.workdir = args, workdir
        self.run_id = secrets.token_hex(3)
        self.cookie = "pgbench" + secrets.token_hex(12)
        self.nodes = []          # every ErlNode ever started (all stopped in close())
        self.epmd = None         # our epmd, if there was none
        self.host = None

    # --- lifecycle
    def compile(self):
        out = subprocess.run(["erlc", "-o", self.workdir, ERL_SOURCE], capture_output=True, text=True,
                             timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"erlc failed: {out.stdout}{out.stderr}")

    def ensure_epmd(self):
        def epmd_up():
            try:
                return subprocess.run(["epmd", "-names"], capture_output=True, timeout=5).returncode == 0
            except subprocess.TimeoutExpired:
                return False
        if epmd_up():
            log("using the epmd already running")
            return
        logf = open(os.path.join(self.workdir, "epmd.log"), "w")
        # foreground (no -daemon): it stays our child, so we can stop it by PID
        self.epmd = subprocess.Popen(["epmd", "-address", "127.0.0.1"], stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf)
        wait_for("epmd", epmd_up, 15, 0.1)
        log(f"started epmd (pid {self.epmd.pid})")

    def start_node(self, short, roles, driver=False):
        logfile = os.path.join(self.workdir, f"{short}.log")
        logf = open(logfile, "w")
        cmd = ["erl", "-sname", short, "-setcookie", self.cookie, "-noshell",
               "-kernel", "start_pg", "true", "-start_epmd", "false",
               "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
               "-pa", self.workdir] + self.args.erl_flags.split() + \
              ["-run", "pg_otp", "node_main"] + roles
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE if driver else logf,
                                stderr=logf, cwd=self.workdir, text=True, bufsize=1)
        node = ErlNode(short, proc, logfile)
        self.nodes.append(node)
        if self.host:
            node.full = f"{short}@{self.host}"
        if driver:
            threading.Thread(target=self._reader, args=(node,), daemon=True).start()
        return node

    def _reader(self, node):
        try:
            for line in node.proc.stdout:
                if line.startswith("RESULT "):
                    node.lines.put(json.loads(line[7:]))
                else:
                    node.other.append(line.rstrip("\n"))
                    del node.other[:-50]
        finally:
            node.lines.put(None)

    def stop_node(self, node, timeout_s=15):
        p = node.proc
        if p.poll() is None:
            try:
                p.stdin.close()  # watchdog / driver loop: end of input halts the node
            except OSError:
                pass
            try:
                p.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        for s in (p.stdin, p.stdout):
            try:
                if s:
                    s.close()
            except OSError:
                pass

    def close(self):
        for node in reversed(self.nodes):
            try:
                self.stop_node(node)
            except Exception as e:   # keep stopping the others
                log(f"stopping {node.name}: {e}")
        if self.epmd is not None and self.epmd.poll() is None:
            self.epmd.terminate()
            try:
                self.epmd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.epmd.kill()
                self.epmd.wait(timeout=5)

    # --- driver protocol
    def wait_ready(self, driver, timeout_s=60):
        msg = self._next(driver, timeout_s, "driver ready")
        if msg.get("event") != "ready":
            raise RuntimeError(f"unexpected first line from driver: {msg}")
        return msg

    def _next(self, driver, timeout_s, what):
        try:
            msg = driver.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise TimeoutError(f"no answer from the driver node within {timeout_s}s ({what})")
        if msg is None:
            raise RuntimeError(f"driver node exited ({what}); log {driver.logfile}; "
                               f"stdout tail: {driver.other[-10:]}")
        return msg

    def command(self, term, timeout_s):
        """Sends one command to the driver; its own deadline is timeout_s, ours a little later."""
        driver = self.nodes[0]
        text = term.replace("%TIMEOUT%", str(int(timeout_s * 1000)))
        driver.proc.stdin.write(text + ".\n")
        driver.proc.stdin.flush()
        msg = self._next(driver, timeout_s + 30, text[:60])
        if not msg.get("ok"):
            raise RuntimeError(f"driver command {text[:80]} failed: {msg.get('error')}")
        return msg["result"]


def run_otp(args):
    """Runs the OTP pg yardstick; returns the figures (keys shared with the Cohort half)."""
    workdir = tempfile.mkdtemp(prefix="pg-otp-")
    c = OtpCluster(args, workdir)
    t_start = time.monotonic()
    try:
        c.compile()
        c.ensure_epmd()
        shorts = [f"pgb{c.run_id}n{i}" for i in range(1, NODES + 1)]
        driver = c.start_node(shorts[0], ["driver"], driver=True)
        others = [c.start_node(s, ["watchdog"]) for s in shorts[1:]]
        ready = c.wait_ready(driver)
        c.host = ready["node"].split("@", 1)[1]
        for n in [driver] + others:
            n.full = f"{n.name}@{c.host}"
        names = [n.full for n in [driver] + others]
        for n in [driver] + others:
            wait_for(f"{n.name} is beam.smp", lambda: proc_comm(n.proc.pid) == "beam.smp", 30)
        log(f"OTP {ready['otp_release']} (erts {ready['erts']}), nodes {names}")
        conn = c.command(f"{{connect,{atoms(names)},%TIMEOUT%}}", 60)
        log(f"connected, full mesh, pg scopes see each other ({conn['connect_ms']:.0f} ms)")

        # a. broadcast
        log(f"a. broadcast: {args.members} members x {args.broadcasts} broadcasts x {args.repeats} runs")
        bcast = c.command(f"{{broadcast,{atoms(names)},{args.members},{args.broadcasts},{args.repeats},"
                          f"%TIMEOUT%}}", 1800)
        for r in bcast["runs"]:
            log(f"   run {r['run']}: {r['deliveries_per_s']:,.0f} deliveries/s in {r['elapsed_s']:.2f} s, "
                f"{r['dist']['messages_per_tcp_segment']} remote msgs per TCP segment")

        # b. join -> visible
        log(f"b. join -> visible on all nodes: {args.join_samples} samples")
        jv = c.command(f"{{join_visible,{atoms(names)},{args.join_samples},%TIMEOUT%}}", 600)
        log(f"   p50 {jv['p50_ms']:.3f} ms, p99 {jv['p99_ms']:.3f} ms")

        # d. memory (node 2 holds the members, node 3 is the remote view; the driver is neither)
        log(f"d. memory at {args.groups} groups x 1 member")
        mem = c.command(f"{{memory,{atom(names[1])},{atom(names[2])},{atoms(names)},{args.groups},"
                        f"%TIMEOUT%}}", 1200)
        log(f"   local {mem['local_bytes_per_member']:.0f} B/member, "
            f"remote {mem['remote_bytes_per_member']:.0f} B/member")

        # e. idle CPU
        idle = {}
        for groups in (10, args.idle_groups):
            tag = f"idle{groups}"
            setup = c.command(f"{{setup_groups,{tag},{atoms(names)},{groups},%TIMEOUT%}}", 600)
            time.sleep(args.settle_seconds)        # let the joins' after-effects pass (fixed, bounded)
            pids = [n.proc.pid for n in [driver] + others]
            c0, w0 = [cpu_seconds(p) for p in pids], time.monotonic()
            time.sleep(args.idle_seconds)          # the measurement window itself
            c1, w1 = [cpu_seconds(p) for p in pids], time.monotonic()
            per_node = [round((b - a) / (w1 - w0) * 100, 3) for a, b in zip(c0, c1)]
            idle[groups] = {"groups": groups, "per_node_percent": per_node,
                            "mean_percent": round(statistics.mean(per_node), 3),
                            "window_s": round(w1 - w0, 2), "setup": setup}
            log(f"e. idle {groups} groups: mean {idle[groups]['mean_percent']}% of a core per node {per_node}")
            c.command(f"{{teardown,{tag},{atoms(names)},%TIMEOUT%}}", 600)

        # c. sync of a fresh node: node 5 leaves; nodes 1-4 hold the groups; a new node 5 connects
        log(f"c. sync: stop node 5, {args.groups} groups on nodes 1-4, then a fresh node 5 connects")
        c.stop_node(others[-1])
        c.command(f"{{wait_gone,{atom(names[4])},{atoms(names[:4])},%TIMEOUT%}}", 60)
        setup_c = c.command(f"{{setup_groups,sync,{atoms(names[:4])},{args.groups},%TIMEOUT%}}", 1200)
        ready_file = os.path.join(workdir, "sync_ready.json")
        fresh_short = f"pgb{c.run_id}n5b"
        fresh = c.start_node(fresh_short, ["watchdog", "sync_watch", str(args.groups), str(NODES - 1),
                                            ready_file])
        fresh_name = fresh.full
        before = wait_for("fresh node's watcher", lambda: os.path.exists(ready_file) and
                          json.load(open(ready_file)), 60, 0.05)
        if before["nodes_at_start"] != 0 or before["groups_at_start"] != 0:
            raise RuntimeError(f"the fresh node was not alone before the connect: {before}")
        sync = c.command(f"{{sync_connect,{atom(fresh_name)},{args.groups},{atoms(names[:4])},%TIMEOUT%}}",
                         900)
        sync["setup"] = setup_c
        log(f"   {sync['sync_s']:.3f} s to {args.groups} groups (connect call {sync['connect_call_s']:.3f} s, "
            f"first group {sync['first_group_s']}, full mesh {sync['full_mesh_s']})")
        c.command(f"{{teardown,sync,{atoms(names[:4] + [fresh_name])},%TIMEOUT%}}", 600)

        return {
            "implementation": f"Erlang/OTP {ready['otp_release']} pg (erts {ready['erts']})",
            "broadcast_deliveries_per_s": bcast["median_deliveries_per_s"],
            "join_visible_ms": {"p50": jv["p50_ms"], "p99": jv["p99_ms"]},
            "sync_100k_groups_s": sync["sync_s"],
            "memory_bytes_per_member": {"local": mem["local_bytes_per_member"],
                                        "remote": mem["remote_bytes_per_member"]},
            "idle_cpu_percent": {f"groups_{args.idle_groups}": idle[args.idle_groups]["mean_percent"],
                                 "groups_10": idle[10]["mean_percent"]},
            "details": {
                "nodes": names, "schedulers_per_node": ready["schedulers"],
                "erl_flags": args.erl_flags,
                "broadcast": bcast, "join_visible": jv, "sync": sync, "memory": mem,
                "idle": {str(k): v for k, v in idle.items()},
                "wall_s": round(time.monotonic() - t_start, 1),
            },
        }
    finally:
        c.close()
        shutil.rmtree(workdir, ignore_errors=True)


# ----------------------------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["otp"], default="otp", help="which half to run (only otp so far)")
    ap.add_argument("--members", type=int, default=1000, help="broadcast group size (a)")
    ap.add_argument("--broadcasts", type=int, default=2000, help="broadcasts per run (a)")
    ap.add_argument("--repeats", type=int, default=3, help="broadcast runs; the median is reported (a)")
    ap.add_argument("--join-samples", type=int, default=500, help="join -> visible samples (b)")
    ap.add_argument("--groups", type=int, default=100_000, help="groups for sync (c) and memory (d)")
    ap.add_argument("--idle-groups", type=int, default=10_000, help="groups for the idle CPU figure (e)")
    ap.add_argument("--idle-seconds", type=float, default=30, help="idle CPU window (e)")
    ap.add_argument("--settle-seconds", type=float, default=2, help="pause after setup before the idle window")
    ap.add_argument("--erl-flags", default="", help="extra erl flags for every node, e.g. '+sbwt none'")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run (under a minute)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--out", help="also write the JSON summary to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.members, args.broadcasts, args.repeats = 100, 200, 3
        args.join_samples, args.groups, args.idle_groups = 50, 5000, 1000
        args.idle_seconds, args.settle_seconds = 3, 0.5
    for k in ("members", "broadcasts", "repeats", "join_samples", "groups", "idle_groups"):
        if getattr(args, k) < 1:
            ap.error(f"--{k.replace('_', '-')} must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    LOG_QUIET[0] = args.quiet
    for tool in ("erl", "erlc", "epmd"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install -y erlang-base")
    t0 = time.monotonic()
    load_before = os.getloadavg()
    summary = {
        "benchmark": "process groups: Cohort vs Erlang/OTP pg",
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "python": platform.python_version(), "loadavg_before": load_before},
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "sizes": {k: getattr(args, k) for k in ("members", "broadcasts", "repeats", "join_samples", "groups",
                                                  "idle_groups", "idle_seconds")},
    }
    if args.only == "otp":
        summary["otp"] = run_otp(args)
    summary["machine"]["loadavg_after"] = os.getloadavg()
    summary["wall_s"] = round(time.monotonic() - t0, 1)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
