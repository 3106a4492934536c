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

Each measurement also reports foreign_cpu_cores: the CPU the rest of the machine used meanwhile
(/proc/stat less this script's process tree). A figure taken while it is well above 0 was taken next
to other work; run again on a quiet machine.

    apt-get install -y erlang-base
    python3 Benchmarks/scripts/pg_vs_otp.py                  # full run (about 2 minutes)
    python3 Benchmarks/scripts/pg_vs_otp.py --quick          # smoke run (about 10 seconds)
    python3 Benchmarks/scripts/pg_vs_otp.py --out results.json
    python3 Benchmarks/scripts/pg_vs_otp.py --phases ab      # only some measurements
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


def run_ns(pid):
    """Nanoseconds on a CPU of all of pid's threads (/proc/<pid>/task/*/schedstat, first field): finer
    than the clock ticks of /proc/<pid>/stat; None where schedstat is missing."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return None
    return total


def machine_busy_seconds():
    """(task, interrupt) CPU seconds the whole machine spent busy (all cores), from /proc/stat. Interrupt
    time (irq + softirq: loopback TCP is largely softirq work) is in no process's utime/stime, ours
    included, so it is kept apart."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + steal) / hz, (irq + softirq) / hz


def proc_comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def die_with_parent():
    """preexec_fn: the child gets SIGTERM if this script dies without cleaning up (Linux prctl)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except Exception:
        pass


def cpu_pressure():
    """'some avg10/avg60' of /proc/pressure/cpu (share of time some task waited for a CPU), if present."""
    try:
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()
        return {kv.split("=")[0]: float(kv.split("=")[1]) for kv in some[1:3]}
    except (OSError, IndexError, ValueError):
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
                                     stdout=logf, stderr=logf, preexec_fn=die_with_parent,
                                     start_new_session=True)
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
                                stderr=logf, cwd=self.workdir, text=True, bufsize=1,
                                preexec_fn=die_with_parent, start_new_session=True)
        # own session: a terminal's Ctrl-C reaches only this script, which then stops the nodes
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

    def stop_nodes(self, nodes, timeout_s=10):
        """Closes their standard input (the node halts on end of input), then SIGTERM, then SIGKILL,
        each step with a deadline, all nodes at once."""
        live = [n for n in nodes if n.proc.poll() is None]
        for n in live:
            try:
                n.proc.stdin.close()
            except OSError:
                pass
        for sig, wait_s in ((None, timeout_s), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            live = [n for n in live if n.proc.poll() is None]
            if not live:
                break
            if sig is not None:
                log(f"sending {sig.name} to {[n.proc.pid for n in live]}")
                for n in live:
                    n.proc.send_signal(sig)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and any(n.proc.poll() is None for n in live):
                time.sleep(0.02)
        for n in nodes:
            for f in (n.proc.stdin, n.proc.stdout):
                try:
                    if f:
                        f.close()
                except OSError:
                    pass

    def stop_node(self, node):
        self.stop_nodes([node])

    def close(self):
        try:
            self.stop_nodes(self.nodes)
        finally:
            if self.epmd is not None and self.epmd.poll() is None:
                self.epmd.terminate()
                try:
                    self.epmd.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.epmd.kill()
                    self.epmd.wait(timeout=5)

    def our_cpu_seconds(self):
        """CPU seconds of this script and everything it started: itself, the reaped children (os.times)
        and the live ones (/proc)."""
        t = os.times()
        total = t.user + t.system + t.children_user + t.children_system
        for p in [n.proc for n in self.nodes] + ([self.epmd] if self.epmd else []):
            if p.returncode is None:
                try:
                    total += cpu_seconds(p.pid)
                except OSError:
                    pass
        return total

    def measure(self, fn, *a):
        """Runs one measurement; adds how much CPU the rest of the machine used meanwhile (in cores),
        to tell a clean figure from one taken next to other work."""
        b0, o0, w0 = machine_busy_seconds(), self.our_cpu_seconds(), time.monotonic()
        res = fn(*a)
        b1, o1, w1 = machine_busy_seconds(), self.our_cpu_seconds(), time.monotonic()
        res["foreign_cpu_cores"] = round(max(0.0, (b1[0] - b0[0]) - (o1 - o0)) / (w1 - w0), 3)
        res["irq_softirq_cores"] = round((b1[1] - b0[1]) / (w1 - w0), 3)
        res["phase_wall_s"] = round(w1 - w0, 2)
        # clock ticks (1/100 s) make this coarse for a short phase: note it only for longer ones
        if res["foreign_cpu_cores"] > 0.1 and w1 - w0 >= 5:
            log(f"   note: other processes used {res['foreign_cpu_cores']} cores during this measurement")
        return res

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


def otp_broadcast(c, names, args):
    log(f"a. broadcast: {args.members} members x {args.broadcasts} broadcasts x {args.repeats} runs")
    b = c.command(f"{{broadcast,{atoms(names)},{args.members},{args.broadcasts},{args.repeats},%TIMEOUT%}}",
                  1800)
    for r in b["runs"]:
        log(f"   run {r['run']}: {r['deliveries_per_s']:,.0f} deliveries/s in {r['elapsed_s']:.2f} s "
            f"(send loop {r['send_loop_s']:.2f} s), {r['dist']['remote_messages_per_write_syscall']:.2f} remote "
            f"msgs per write syscall, {r['dist']['messages_per_tcp_segment']:.1f} per TCP segment")
    return b


def otp_join_visible(c, names, args):
    log(f"b. join -> visible on all nodes: {args.join_samples} samples")
    jv = c.command(f"{{join_visible,{atoms(names)},{args.join_samples},%TIMEOUT%}}", 600)
    log(f"   p50 {jv['p50_ms']:.3f} ms, p99 {jv['p99_ms']:.3f} ms")
    return jv


def otp_memory(c, names, args):
    # node 2 holds the members, node 3 is the remote view; the driver (node 1) is neither
    log(f"d. memory at {args.groups} groups x 1 member")
    mem = c.command(f"{{memory,{atom(names[1])},{atom(names[2])},{atoms(names)},{args.groups},%TIMEOUT%}}",
                    1200)
    log(f"   local {mem['local_bytes_per_member']:.0f} B/member, remote {mem['remote_bytes_per_member']:.0f} "
        f"B/member")
    return mem


def otp_idle(c, names, pids, groups, args):
    tag = f"idle{groups}"
    setup = c.command(f"{{setup_groups,{tag},{atoms(names)},{groups},%TIMEOUT%}}", 600)
    try:
        time.sleep(args.settle_seconds)        # let the joins' after-effects pass (fixed, bounded)
        c0, n0, w0 = [cpu_seconds(p) for p in pids], [run_ns(p) for p in pids], time.monotonic()
        time.sleep(args.idle_seconds)          # the measurement window itself
        c1, n1, w1 = [cpu_seconds(p) for p in pids], [run_ns(p) for p in pids], time.monotonic()
    finally:
        c.command(f"{{teardown,{tag},{atoms(names)},%TIMEOUT%}}", 600)
    per_node = [round((b - a) / (w1 - w0) * 100, 3) for a, b in zip(c0, c1)]
    res = {"groups": groups, "per_node_percent": per_node, "mean_percent": round(statistics.mean(per_node), 3),
           "window_s": round(w1 - w0, 2), "tick_resolution_percent": round(100 / os.sysconf("SC_CLK_TCK") /
                                                                           (w1 - w0), 3),
           "per_node_percent_schedstat": [None if a is None or b is None else round((b - a) / 1e9 / (w1 - w0) * 100, 4)
                                          for a, b in zip(n0, n1)],
           "setup": setup}
    fine = res["per_node_percent_schedstat"]
    res["mean_percent_schedstat"] = None if None in fine else round(statistics.mean(fine), 4)
    log(f"e. idle {groups} groups: mean {res['mean_percent']}% of a core per node {per_node} "
        f"(schedstat {res['per_node_percent_schedstat']})")
    return res


def otp_sync(c, names, node5, args):
    """Node 5 leaves; nodes 1-4 hold the groups; a fresh node 5 (never connected) connects."""
    log(f"c. sync: stop node 5, {args.groups} groups on nodes 1-4, then a fresh node 5 connects")
    c.stop_node(node5)
    c.command(f"{{wait_gone,{atom(names[4])},{atoms(names[:4])},%TIMEOUT%}}", 60)
    setup = c.command(f"{{setup_groups,sync,{atoms(names[:4])},{args.groups},%TIMEOUT%}}", 1200)
    ready_file = os.path.join(c.workdir, "sync_ready.json")
    fresh = c.start_node(f"{node5.name}b", ["watchdog", "sync_watch", str(args.groups), str(NODES - 1),
                                            ready_file])
    before = wait_for("fresh node's watcher", lambda: os.path.exists(ready_file) and
                      json.load(open(ready_file)), 60, 0.05)
    if before["nodes_at_start"] != 0 or before["groups_at_start"] != 0:
        raise RuntimeError(f"the fresh node was not alone before the connect: {before}")
    sync = c.command(f"{{sync_connect,{atom(fresh.full)},{args.groups},{atoms(names[:4])},%TIMEOUT%}}", 900)
    sync["setup"] = setup
    log(f"   {sync['sync_s']:.3f} s to {args.groups} groups (connect call {sync['connect_call_s']:.3f} s, "
        f"first group {sync['first_group_s']:.3f} s, full mesh {sync['full_mesh_s']:.3f} s)")
    c.command(f"{{teardown,sync,{atoms(names[:4] + [fresh.full])},%TIMEOUT%}}", 600)
    return sync


def run_otp(args):
    """Runs the OTP pg yardstick; returns the figures (keys shared with the Cohort half).
    A phase left out by --phases reports None."""
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
        nodes = [driver] + others
        for n in nodes:
            n.full = f"{n.name}@{c.host}"
            wait_for(f"{n.name} is beam.smp", lambda: proc_comm(n.proc.pid) == "beam.smp", 30)
        names = [n.full for n in nodes]
        log(f"OTP {ready['otp_release']} (erts {ready['erts']}), nodes {names}")
        conn = c.command(f"{{connect,{atoms(names)},%TIMEOUT%}}", 60)
        log(f"connected, full mesh, pg scopes see each other ({conn['connect_ms']:.0f} ms)")

        ph = args.phases
        bcast = c.measure(otp_broadcast, c, names, args) if "a" in ph else None
        jv = c.measure(otp_join_visible, c, names, args) if "b" in ph else None
        mem = c.measure(otp_memory, c, names, args) if "d" in ph else None
        idle = {g: c.measure(otp_idle, c, names, [n.proc.pid for n in nodes], g, args)
                for g in (10, args.idle_groups)} if "e" in ph else None
        sync = c.measure(otp_sync, c, names, others[-1], args) if "c" in ph else None
        foreign = [r["foreign_cpu_cores"] for r in [bcast, jv, mem, sync] + list((idle or {}).values()) if r]

        def pick(d, *keys):
            for k in keys:
                if d is None:
                    return None
                d = d[k]
            return d

        return {
            "implementation": f"Erlang/OTP {ready['otp_release']} pg (erts {ready['erts']})",
            "broadcast_deliveries_per_s": pick(bcast, "median_deliveries_per_s"),
            "join_visible_ms": {"p50": pick(jv, "p50_ms"), "p99": pick(jv, "p99_ms")},
            "sync_100k_groups_s": pick(sync, "sync_s"),
            "memory_bytes_per_member": {"local": pick(mem, "local_bytes_per_member"),
                                        "remote": pick(mem, "remote_bytes_per_member")},
            "idle_cpu_percent": {"groups_10000": pick(idle, args.idle_groups, "mean_percent"),
                                 "groups_10": pick(idle, 10, "mean_percent")},
            "foreign_cpu_cores_max": max(foreign) if foreign else None,
            "details": {
                "nodes": names, "schedulers_per_node": ready["schedulers"], "erl_flags": args.erl_flags,
                "groups_for_sync_and_memory": args.groups, "groups_for_idle": args.idle_groups,
                "broadcast": bcast, "join_visible": jv, "sync": sync, "memory": mem,
                "idle": None if idle is None else {str(k): v for k, v in idle.items()},
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
    ap.add_argument("--phases", default="abcde",
                    help="which measurements to run, letters a-e (default all: abcde)")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run (under a minute)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--out", help="also write the JSON summary to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.members, args.broadcasts, args.repeats = 100, 200, 3
        args.join_samples, args.groups, args.idle_groups = 50, 5000, 1000
        args.idle_seconds, args.settle_seconds = 3, 0.5
    if not args.phases or set(args.phases) - set("abcde"):
        ap.error("--phases takes letters from abcde")
    for k in ("members", "broadcasts", "repeats", "join_samples", "groups", "idle_groups"):
        if getattr(args, k) < 1:
            ap.error(f"--{k.replace('_', '-')} must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C does, so every finally block stops what it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"pg_vs_otp: terminated"))
    LOG_QUIET[0] = args.quiet
    for tool in ("erl", "erlc", "epmd"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install -y erlang-base")
    t0 = time.monotonic()
    load_before = os.getloadavg()
    summary = {
        "benchmark": "process groups: Cohort vs Erlang/OTP pg",
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "python": platform.python_version(), "loadavg_before": load_before,
                    "cpu_pressure_before": cpu_pressure()},
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "sizes": {k: getattr(args, k) for k in ("members", "broadcasts", "repeats", "join_samples", "groups",
                                                  "idle_groups", "idle_seconds")},
    }
    if args.only == "otp":
        summary["otp"] = run_otp(args)
    summary["machine"]["loadavg_after"] = os.getloadavg()
    summary["machine"]["cpu_pressure_after"] = cpu_pressure()
    summary["wall_s"] = round(time.monotonic() - t0, 1)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
