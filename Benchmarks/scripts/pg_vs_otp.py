#!/usr/bin/env python3
"""Process groups: Cohort against Erlang/OTP `pg`, both on 5 nodes on this machine's loopback, in one run:
the Cohort half first, then the OTP half (never both at once). Every wait bounded, every process this script
starts is stopped by its PID (also on failure); nothing else is touched.

Cohort half: 5 GroupBenchNode processes (Benchmarks/Benchmarks/GroupBenchNode: one Cohort node embedded in
a Swift server, its default pg scope driven by one command per line on stdin), each with gossip and the
mesh on its own loopback address (<--cohort-net>.<10 * phase + node>), Raft role client, its own data
directory; a fresh cluster for each measurement. Measured:
  a. broadcast deliveries/s: M members spread over the 5 nodes in one group (`sinks`); node 1 runs
     `broadcast g <count>`; time from the command until every sink counted every message (each node's
     `delivered` polled every --poll-ms); median of 3 runs;
  b. join -> visible on all 5 nodes: a scope monitor on every node (`watch`) prints each join with its
     time; rotating over the nodes, `joinone <fresh group>`; the latency is the last of the 4 other
     nodes' event times less the time taken just before the join (p50/p99 ms);
  c. sync: nodes 1-4 hold N groups (one member process per group), then node 5's process starts; the
     time from its start until its group count reaches N (`groupcount`, the pg_groups gauge, polled; so it
     includes process start and gossip join, which the OTP side does not: there the node runs already
     and the clock starts at connect);
  d. memory per member at N groups: RssAnon of the member node (node 2) and a remote node (node 3) after
     malloc_trim(0), before and after the N member processes join one group each; the processes are
     spawned first (`spawn`) and measured on their own, so their cost is not in the figure;
  e. idle CPU of each node with 10 groups and with 10,000 groups (utime+stime, and schedstat).

OTP half: 5 distributed Erlang nodes (-sname, a fresh cookie, -noshell, default pg scope through
`-kernel start_pg true`, distribution listening on 127.0.0.1 only) run pg_otp.erl, compiled here
with erlc into a temporary directory. Node 1 is the driver: this script writes one Erlang term per
line to its standard input and reads one `RESULT <json>` line back. Measured:
  a. broadcast deliveries/s: M members spread over the 5 nodes in one group; node 1 broadcasts the
     OTP way (pg:get_members/2 then `!` to each pid, per broadcast); median of 3 runs;
  b. join -> visible on all 5 nodes (pg:monitor/2 on the 4 other nodes; p50/p99 ms);
  c. sync time of a fresh node connecting to a scope of N groups (default 100,000);
  d. memory per member at N groups (local node and a remote node's view; erlang:memory(total));
  e. idle CPU of each beam process with 10,000 groups and with 10 groups.

Each measurement also reports foreign_cpu_cores: the CPU the rest of the machine used meanwhile
(/proc/stat less this script's process tree). A figure taken while it is well above 0 was taken next
to other work; run again on a quiet machine.

    apt-get install -y erlang-base
    (cd Benchmarks && swift build -c release --product GroupBenchNode --scratch-path .build-release-pg)
    python3 Benchmarks/scripts/pg_vs_otp.py                  # full run, both halves (about 6 minutes; 2+ of
                                                             # them are the Cohort memory fill, see results/pg.md)
    python3 Benchmarks/scripts/pg_vs_otp.py --quick          # smoke run (about a minute)
    python3 Benchmarks/scripts/pg_vs_otp.py --only cohort --cohort-node /path/to/GroupBenchNode
    python3 Benchmarks/scripts/pg_vs_otp.py --out results.json
    python3 Benchmarks/scripts/pg_vs_otp.py --phases ab      # only some measurements

Standard output: a Markdown table of both halves side by side, then every figure as JSON.
"""
import argparse, json, math, os, platform, queue, secrets, shutil, signal, socket, statistics, subprocess, sys
import tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
ERL_SOURCE = os.path.join(HERE, "pg_otp.erl")
NODES = 5


def log(msg):
    if not LOG_QUIET[0]:
        print(f"[pg_vs_otp {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def stop_processes(nodes, ask, timeout_s):
    """Stops every node's process (`n.proc`): `ask(n)` asks it to exit, then SIGTERM, then SIGKILL, each step
    with a deadline, all nodes at once; then closes their pipes."""
    live = [n for n in nodes if n.proc.poll() is None]
    for n in live:
        try:
            ask(n)
        except (OSError, ValueError):
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
            except (OSError, ValueError):
                pass



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


def measured(our_cpu_seconds, fn, *a):
    """Runs one measurement; adds how much CPU the rest of the machine used meanwhile (in cores), to tell
    a clean figure from one taken next to other work. our_cpu_seconds() is the CPU of this script and
    everything it started."""
    b0, o0, w0 = machine_busy_seconds(), our_cpu_seconds(), time.monotonic()
    res = fn(*a)
    b1, o1, w1 = machine_busy_seconds(), our_cpu_seconds(), time.monotonic()
    res["foreign_cpu_cores"] = round(max(0.0, (b1[0] - b0[0]) - (o1 - o0)) / (w1 - w0), 3)
    res["irq_softirq_cores"] = round((b1[1] - b0[1]) / (w1 - w0), 3)
    res["phase_wall_s"] = round(w1 - w0, 2)
    # clock ticks (1/100 s) make this coarse for a short phase: note it only for longer ones
    if res["foreign_cpu_cores"] > 0.1 and w1 - w0 >= 5:
        log(f"   note: other processes used {res['foreign_cpu_cores']} cores during this measurement")
    return res


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
        def ask(n):
            n.proc.stdin.close()
        stop_processes(nodes, ask, timeout_s)

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
        return measured(self.our_cpu_seconds, fn, *a)

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


def pick(d, *keys):
    """d[k1][k2]..., or None when d (or a level of it) is missing."""
    for k in keys:
        if d is None:
            return None
        d = d[k]
    return d


def headline(implementation, bcast, jv, sync, mem, idle, args):
    """The figures both halves report, from their measurements (None where a phase did not run)."""
    foreign = [r["foreign_cpu_cores"] for r in [bcast, jv, mem, sync] + list((idle or {}).values()) if r]
    return {
        "implementation": implementation,
        "broadcast_deliveries_per_s": pick(bcast, "median_deliveries_per_s"),
        "join_visible_ms": {"p50": pick(jv, "p50_ms"), "p99": pick(jv, "p99_ms")},
        "sync_100k_groups_s": pick(sync, "sync_s"),
        "memory_bytes_per_member": {"local": pick(mem, "local_bytes_per_member"),
                                    "remote": pick(mem, "remote_bytes_per_member")},
        "idle_cpu_percent": {"groups_10000": pick(idle, args.idle_groups, "mean_percent"),
                             "groups_10": pick(idle, 10, "mean_percent")},
        "foreign_cpu_cores_max": max(foreign) if foreign else None,
    }


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

        return headline(f"Erlang/OTP {ready['otp_release']} pg (erts {ready['erts']})",
                        bcast, jv, sync, mem, idle, args) | {
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


# ----------------------------------------------------------------------------------------- Cohort half

DEFAULT_COHORT_NODE = os.path.join(os.path.dirname(HERE), ".build-release-pg", "release", "GroupBenchNode")
# Phases get their own fresh cluster, on their own loopback addresses: <net>.<10 * block + node>.
COHORT_BLOCKS = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
GOSSIP_PORT, MESH_PORT = 7946, 7950


class CohortNode:
    """One GroupBenchNode OS process: one Cohort node, driven one command per line on stdin."""

    def __init__(self, index, name, addr, proc, logfile):
        self.index, self.name, self.addr, self.proc, self.logfile = index, name, addr, proc, logfile
        self.replies = queue.Queue()
        self.events = {}                 # group -> unix µs of the first `event` line for it (watch)
        self.cond = threading.Condition()
        self.closed = False
        self.started = time.monotonic()


class CohortCluster:
    """Up to 5 GroupBenchNode processes of one phase: node i on <net>.<10*block+i>, node 1 the join
    address, every node in its own data directory under the run's temporary directory."""

    def __init__(self, args, workdir, block, tag):
        self.args, self.workdir, self.block, self.tag = args, workdir, block, tag
        self.nodes = []                  # every node ever started (all stopped in close())

    def addr(self, i):
        return f"{self.args.cohort_net}.{10 * self.block + i}"

    @staticmethod
    def ports_free(addr):
        """Whether gossip (TCP+UDP) and mesh (TCP) ports can be bound on addr: nobody else uses it."""
        for kind, port in ((socket.SOCK_STREAM, GOSSIP_PORT), (socket.SOCK_DGRAM, GOSSIP_PORT),
                           (socket.SOCK_STREAM, MESH_PORT)):
            s = socket.socket(socket.AF_INET, kind)
            try:
                if kind == socket.SOCK_STREAM:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((addr, port))
            except OSError:
                return False
            finally:
                s.close()
        return True

    def start_node(self, i):
        addr, name = self.addr(i), f"{self.tag}n{i}"
        if not self.ports_free(addr):
            raise RuntimeError(f"{addr}:{GOSSIP_PORT}/{MESH_PORT} is in use (another run?); pick --cohort-net")
        data = os.path.join(self.workdir, f"{self.tag}-d{i}")
        os.makedirs(data)
        config = os.path.join(self.workdir, f"{self.tag}-n{i}.yaml")
        with open(config, "w") as f:
            f.write(f"""cluster:
  enabled: true
  name: {name}
  membership:
    bind_addr: {addr}
    join_addrs: "{self.addr(1)}:{GOSSIP_PORT}"
  internode:
    bind_addr: {addr}
  raft:
    role: client
    data_dir: {data}
admin:
  address: ""
""")
        logfile = os.path.join(self.workdir, f"{self.tag}-n{i}.log")
        logf = open(logfile, "w")
        env = {k: v for k, v in os.environ.items() if not k.startswith("COHORT_")}
        proc = subprocess.Popen([self.args.cohort_node, config], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=logf, text=True, bufsize=1, env=env, preexec_fn=die_with_parent,
                                start_new_session=True)
        logf.close()
        node = CohortNode(i, name, addr, proc, logfile)
        self.nodes.append(node)
        threading.Thread(target=self._reader, args=(node,), daemon=True).start()
        return node

    @staticmethod
    def _reader(node):
        try:
            for line in node.proc.stdout:
                line = line.rstrip("\n")
                if line.startswith("event "):
                    parts = line.split(" ")
                    with node.cond:
                        node.events.setdefault(parts[1], int(parts[2]))
                        node.cond.notify_all()
                else:
                    node.replies.put(line)
        except (ValueError, OSError):
            pass
        finally:
            node.replies.put(None)
            with node.cond:
                node.closed = True
                node.cond.notify_all()

    # --- protocol
    @staticmethod
    def send(node, line):
        node.proc.stdin.write(line + "\n")
        node.proc.stdin.flush()

    @staticmethod
    def reply(node, timeout_s, what):
        """The next reply line (event lines go elsewhere): its words after `ok`; raises on `err`."""
        try:
            line = node.replies.get(timeout=max(0.001, timeout_s))
        except queue.Empty:
            raise TimeoutError(f"{node.name}: no reply within {timeout_s:.0f}s to {what}")
        if line is None:
            node.replies.put(None)
            raise RuntimeError(f"{node.name} exited (waiting for {what}); log {node.logfile}: "
                               f"{open(node.logfile).read()[-800:]}")
        if line == "ok" or line.startswith("ok "):
            return line.split()[1:]
        raise RuntimeError(f"{node.name}: {what} -> {line}")

    def cmd(self, node, line, timeout_s=60):
        self.send(node, line)
        return self.reply(node, timeout_s, line)

    def cmd_all(self, nodes, lines, timeout_s=60):
        """Sends each node its command (all at once, so they run in parallel), then collects the replies."""
        for n, line in zip(nodes, lines):
            self.send(n, line)
        deadline = time.monotonic() + timeout_s
        return [self.reply(n, deadline - time.monotonic(), line) for n, line in zip(nodes, lines)]

    def count_all(self, nodes, line, timeout_s=60):
        return [int(r[0]) for r in self.cmd_all(nodes, [line] * len(nodes), timeout_s)]

    def wait_peers(self, nodes, expected, timeout_s=60):
        wait_for(f"gossip: {expected} peers on every node",
                 lambda: all(c == expected for c in self.count_all(nodes, "peers")), timeout_s, 0.05)

    def wait_groups(self, nodes, expected, timeout_s, poll_s=0.1):
        """Polls the cheap `groupcount` (the pg_groups gauge) until every node shows `expected`, then
        confirms with `groups` (whichGroups(), which sorts every group name: too dear to poll at 100,000)."""
        wait_for(f"{expected} groups on every node",
                 lambda: all(c == expected for c in self.count_all(nodes, "groupcount", timeout_s)), timeout_s, poll_s)
        confirmed = self.count_all(nodes, "groups", timeout_s)
        if any(c != expected for c in confirmed):
            raise RuntimeError(f"pg_groups showed {expected} groups everywhere but whichGroups() has {confirmed}")

    @staticmethod
    def wait_quiet(nodes, timeout_s=300, window_s=2.0, max_percent=5.0):
        """Waits (bounded) until no node used more than max_percent of a core over the last window_s
        (the groups' traffic after a fill has died down); returns the seconds it took."""
        t0 = time.monotonic()
        history = []
        while True:
            now = time.monotonic()
            history.append((now, [cpu_seconds(n.proc.pid) for n in nodes]))
            old = [h for h in history if h[0] <= now - window_s]
            if old:
                t_old, c_old = old[-1]
                if all((b - a) / (now - t_old) * 100 <= max_percent for a, b in zip(c_old, history[-1][1])):
                    return round(now - t0, 2)
            if now - t0 > timeout_s:
                raise TimeoutError(f"the nodes were still busy after {timeout_s}s")
            time.sleep(0.25)

    def wait_event(self, node, group, deadline):
        with node.cond:
            while group not in node.events:
                left = deadline - time.monotonic()
                if node.closed or left <= 0:
                    raise TimeoutError(f"{node.name}: no event for {group}" + (" (node exited)" if node.closed else ""))
                node.cond.wait(left)
            return node.events.pop(group)

    # --- lifecycle
    def stop_nodes(self, nodes, timeout_s=10):
        """`quit` (the node answers and exits), then SIGTERM, then SIGKILL, each with a deadline, all at once."""
        stop_processes(nodes, lambda n: self.send(n, "quit"), timeout_s)

    def close(self):
        self.stop_nodes(self.nodes)

    def our_cpu_seconds(self):
        t = os.times()
        total = t.user + t.system + t.children_user + t.children_system
        for n in self.nodes:
            if n.proc.returncode is None:
                try:
                    total += cpu_seconds(n.proc.pid)
                except OSError:
                    pass
        return total

    def start(self, count, expected_peers=None):
        """Starts nodes 1..count at once; waits until gossip shows each of them the others."""
        nodes = [self.start_node(i) for i in range(1, count + 1)]
        self.wait_peers(nodes, count - 1 if expected_peers is None else expected_peers, 60)
        return nodes

    def probe(self, nodes, timeout_s=30):
        """Each node joins one process to a probe group; every node must see them all (the groups'
        handshake between every pair is done)."""
        self.cmd_all(nodes, [f"joinone probe{n.index}" for n in nodes])
        self.wait_groups(nodes, len(nodes), timeout_s, 0.02)


def memory_status(pid):
    """VmRSS, RssAnon, RssFile of /proc/<pid>/status, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) * 1024
    return out


def cohort_snapshot(c, node, settle_timeout_s=20):
    """Memory of a node once it is quiet: waits (bounded) until RssAnon moved by less than 64 KiB over
    1 s, reads /proc, then has the node malloc_trim(0) and report glibc's heap, and reads /proc again."""
    pid, history, settled = node.proc.pid, [], False
    deadline = time.monotonic() + settle_timeout_s
    while time.monotonic() < deadline:
        history.append((time.monotonic(), memory_status(pid)["RssAnon"]))
        recent = [v for t, v in history if t >= history[-1][0] - 1.0]
        if history[-1][0] - history[0][0] >= 1.0 and max(recent) - min(recent) < 64 * 1024:
            settled = True
            break
        time.sleep(0.2)
    raw = memory_status(pid)
    in_use, free, mmapped = (int(x) for x in c.cmd(node, "heap", 60))
    trimmed = memory_status(pid)
    return {"raw": raw, "trimmed": trimmed, "heap_in_use": in_use, "heap_free": free, "heap_mmapped": mmapped,
            "settled": settled}


def spread(total, parts):
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


def cohort_broadcast(c, args):
    log(f"a. broadcast: {args.members} members x {args.broadcasts} broadcasts x {args.repeats} runs")
    nodes = c.start(NODES)
    c.probe(nodes)
    shares = spread(args.members, NODES)
    runs = []
    for r in range(1, args.repeats + 1):
        group = f"bcast{r}"
        c.cmd_all([n for n, k in zip(nodes, shares) if k], [f"sinks {group} {k}" for k in shares if k])
        wait_for(f"{group}: {args.members} members on every node",
                 lambda: all(x == args.members for x in c.count_all(nodes, f"members {group}")), 60, 0.02)
        base = c.count_all(nodes, "delivered")
        expected = [b + k * args.broadcasts for b, k in zip(base, shares)]
        total = args.members * args.broadcasts
        cpu0 = [cpu_seconds(n.proc.pid) for n in nodes]
        t0 = time.monotonic()
        c.send(nodes[0], f"broadcast {group} {args.broadcasts}")
        deadline = t0 + args.broadcast_timeout
        bcast, t_bcast, done_at, last, polls = None, None, {}, list(base), 0
        while len(done_at) < NODES:
            if bcast is None and not nodes[0].replies.empty():
                bcast, t_bcast = c.reply(nodes[0], 1, "broadcast"), time.monotonic()
            polled = [k for k in range(NODES) if k not in done_at and (k > 0 or bcast is not None)]
            for k in polled:
                c.send(nodes[k], "delivered")
            for k in polled:
                last[k] = int(c.reply(nodes[k], max(1.0, deadline - time.monotonic()), "delivered")[0])
                if last[k] >= expected[k]:
                    done_at[k] = time.monotonic()
            polls += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"broadcast run {r}: {sum(last) - sum(base)} of {total} deliveries after "
                                   f"{args.broadcast_timeout}s (per node {[l - b for l, b in zip(last, base)]})")
            if len(done_at) < NODES:
                time.sleep(args.poll_ms / 1000)
        t_end = max(done_at.values())
        cpu1 = [cpu_seconds(n.proc.pid) for n in nodes]
        # anything delivered twice shows up as more than expected (looked at once more, a moment later)
        final = c.count_all(nodes, "delivered")
        elapsed = t_end - t0
        run = {"run": r, "elapsed_s": round(elapsed, 4), "deliveries": total,
               "deliveries_per_s": total / elapsed,
               "broadcast_call_s": int(bcast[0]) / 1e9, "recipients_of_last": int(bcast[1]),
               "reply_after_s": round(t_bcast - t0, 4),
               "node_done_s": [round(done_at[k] - t0, 4) for k in range(NODES)],
               "extra_deliveries": sum(final) - sum(expected), "polls": polls,
               "node_cpu_s": [round(b - a, 3) for a, b in zip(cpu0, cpu1)]}
        runs.append(run)
        log(f"   run {r}: {run['deliveries_per_s']:,.0f} deliveries/s in {elapsed:.3f} s (broadcast call "
            f"{run['broadcast_call_s']:.3f} s, nodes done at {run['node_done_s']}, node CPU {run['node_cpu_s']} s)")
        if run["extra_deliveries"] or run["recipients_of_last"] != args.members:
            log(f"   WARNING: {run['extra_deliveries']} deliveries beyond those expected; broadcast reached "
                f"{run['recipients_of_last']} of {args.members}")
    rates = sorted(r["deliveries_per_s"] for r in runs)
    return {"median_deliveries_per_s": nearest_rank(rates, 50), "runs": runs, "members": args.members, "broadcasts": args.broadcasts,
            "members_per_node": shares, "poll_ms": args.poll_ms}


def nearest_rank(sorted_values, p):
    n = len(sorted_values)
    return sorted_values[max(1, min(n, math.ceil(p * n / 100))) - 1]


def cohort_join_visible(c, args):
    log(f"b. join -> visible on all nodes: {args.join_samples} samples")
    nodes = c.start(NODES)
    c.probe(nodes)
    c.cmd_all(nodes, ["watch"] * NODES)
    lat, local = [], []
    try:
        for i in range(args.join_samples):
            k = i % NODES
            group = f"jv{i}"
            t_join = int(c.cmd(nodes[k], f"joinone {group}")[0])
            deadline = time.monotonic() + 30
            seen = [c.wait_event(n, group, deadline) for n in nodes if n is not nodes[k]]
            local.append(c.wait_event(nodes[k], group, deadline) - t_join)
            lat.append(max(seen) - t_join)
    finally:
        for n in nodes:
            if n.proc.poll() is None:
                try:
                    c.cmd(n, "unwatch", 10)
                except (RuntimeError, TimeoutError, OSError) as e:
                    log(f"   unwatch on {n.name}: {e}")
    # every sample's group (and the probes) on every node
    c.wait_groups(nodes, args.join_samples + NODES, 30, 0.05)
    s = sorted(lat)
    res = {"samples": len(s), "p50_ms": nearest_rank(s, 50) / 1000, "p99_ms": nearest_rank(s, 99) / 1000,
           "max_ms": s[-1] / 1000, "min_ms": s[0] / 1000,
           "local_event_p50_ms": nearest_rank(sorted(local), 50) / 1000}
    log(f"   p50 {res['p50_ms']:.3f} ms, p99 {res['p99_ms']:.3f} ms (max {res['max_ms']:.3f} ms)")
    return res


def cohort_sync(c, args):
    log(f"c. sync: {args.groups} groups on nodes 1-4, then node 5 starts")
    nodes = c.start(NODES - 1)
    shares = spread(args.groups, NODES - 1)
    t0 = time.monotonic()
    c.cmd_all(nodes, [f"fill sync{k}_ {n} {n}" for k, n in enumerate(shares)], 900)
    t_joined = time.monotonic()
    c.wait_groups(nodes, args.groups, 900, 0.2)
    t_visible = time.monotonic()
    setup = {"groups": args.groups, "processes": args.groups, "joined_s": round(t_joined - t0, 3),
             "visible_s": round(t_visible - t0, 3), "then_quiet_after_s": c.wait_quiet(nodes)}
    calls = []
    for _ in range(3):
        t = time.monotonic()
        c.cmd(nodes[0], "groups", 60)
        calls.append(time.monotonic() - t)
    setup["groups_call_s"] = round(statistics.median(calls), 4)
    log(f"   setup: joined in {setup['joined_s']} s, visible everywhere at {setup['visible_s']} s; one `groups` "
        f"call at {args.groups} groups takes {setup['groups_call_s'] * 1000:.1f} ms (the poll uses `groupcount`)")
    t_start = time.monotonic()
    fresh = c.start_node(NODES)
    deadline = t_start + args.sync_timeout
    t_up = t_mesh = t_first = t_reached = None
    polls, count, steps = 0, 0, []
    while t_reached is None:
        left = max(1.0, deadline - time.monotonic())
        if t_mesh is None:
            peers = int(c.cmd(fresh, "peers", left)[0])
            now = time.monotonic()
            t_up = t_up or now
            if peers >= NODES - 1:
                t_mesh = now
        count = int(c.cmd(fresh, "groupcount", left)[0])
        now = time.monotonic()
        t_up = t_up or now
        polls += 1
        if not steps or steps[-1][1] != count:
            steps.append((round(now - t_start, 3), count))
        if count > 0 and t_first is None:
            t_first = now
        if count >= args.groups:
            t_reached = now
            break
        if now > deadline:
            raise TimeoutError(f"sync: node 5 saw {count} of {args.groups} groups after {args.sync_timeout}s")
        time.sleep(0.01)
    cpu = cpu_seconds(fresh.proc.pid)
    confirmed = int(c.cmd(fresh, "groups", 60)[0])
    if confirmed != args.groups:
        raise RuntimeError(f"sync: pg_groups showed {count} but whichGroups() has {confirmed}")
    res = {"groups": args.groups, "sync_s": t_reached - t_start,
           "first_reply_s": t_up - t_start, "gossip_peers_s": None if t_mesh is None else t_mesh - t_start,
           "first_group_s": t_first - t_start,
           "sync_after_gossip_peers_s": None if t_mesh is None else t_reached - t_mesh,
           "reached_groups": count, "polls": polls, "count_steps": steps[:200],
           "pgstats": {n.name: c.cmd(n, "pgstats") for n in nodes + [fresh]}, "fresh_node_cpu_s": round(cpu, 3), "setup": setup}
    log(f"   {res['sync_s']:.3f} s from process start to {args.groups} groups (first reply "
        f"{res['first_reply_s']:.3f} s, gossip shows the 4 peers at {(res['gossip_peers_s'] or 0):.3f} s, first "
        f"group {res['first_group_s']:.3f} s; node 5 used {cpu:.2f} s of CPU)")
    return res


def cohort_memory(c, args):
    # node 2 holds the members, node 3 is the remote view (as on the OTP side)
    log(f"d. memory at {args.groups} groups x 1 member")
    nodes = c.start(NODES)
    local, remote = nodes[1], nodes[2]
    l0, r0 = cohort_snapshot(c, local), cohort_snapshot(c, remote)
    c.cmd(local, f"spawn {args.groups}", 600)
    l1, r1 = cohort_snapshot(c, local), cohort_snapshot(c, remote)
    t_fill = time.monotonic()
    c.cmd(local, f"fillpool mem {args.groups}", 900)
    t_joined = time.monotonic()
    c.wait_groups(nodes, args.groups, 900, 0.2)
    t_visible = time.monotonic()
    quiet_s = c.wait_quiet(nodes)
    fill = {"joined_s": round(t_joined - t_fill, 2), "visible_s": round(t_visible - t_fill, 2),
            "then_quiet_after_s": quiet_s, "node_cpu_s": [round(cpu_seconds(n.proc.pid), 2) for n in nodes],
            "pgstats": {n.name: c.cmd(n, "pgstats") for n in nodes}}
    log(f"   {args.groups} joins on node 2 took {fill['joined_s']} s, visible everywhere at {fill['visible_s']} s, "
        f"quiet {quiet_s} s later; node CPU so far {fill['node_cpu_s']} s")
    l2, r2 = cohort_snapshot(c, local), cohort_snapshot(c, remote)
    g = args.groups
    # not an OTP figure: one more join on the member node, now that every node holds its 100,000 groups
    others = [n for n in nodes if n is not local]
    c.cmd_all(others, ["watch"] * len(others))
    late = []
    try:
        for i in range(args.late_joins):
            t_join = int(c.cmd(local, f"joinone late{i}")[0])
            deadline = time.monotonic() + 60
            late.append(max(c.wait_event(n, f"late{i}", deadline) for n in others) - t_join)
    finally:
        c.cmd_all(others, ["unwatch"] * len(others))

    def per(a, b, *keys):
        for k in keys:
            a, b = a[k], b[k]
        return (b - a) / g

    res = {"groups": g, "fill": fill,
           "local_bytes_per_member": per(l1, l2, "trimmed", "RssAnon"),
           "remote_bytes_per_member": per(r1, r2, "trimmed", "RssAnon"),
           "local_rss_bytes_per_member": per(l1, l2, "raw", "VmRSS"),
           "remote_rss_bytes_per_member": per(r1, r2, "raw", "VmRSS"),
           "local_rss_anon_untrimmed_bytes_per_member": per(l1, l2, "raw", "RssAnon"),
           "remote_rss_anon_untrimmed_bytes_per_member": per(r1, r2, "raw", "RssAnon"),
           "local_heap_in_use_bytes_per_member": per(l1, l2, "heap_in_use"),
           "remote_heap_in_use_bytes_per_member": per(r1, r2, "heap_in_use"),
           "member_process_bytes_each": per(l0, l1, "trimmed", "RssAnon"),
           "member_process_heap_bytes_each": per(l0, l1, "heap_in_use"),
           "join_visible_at_groups_ms": None if not late else
           {"samples": len(late), "p50": nearest_rank(sorted(late), 50) / 1000, "max": max(late) / 1000},
           "local": {"s0_nothing": l0, "s1_spawned": l1, "s2_joined": l2},
           "remote": {"s0_nothing": r0, "s1_spawned": r1, "s2_joined": r2}}
    log(f"   local {res['local_bytes_per_member']:.0f} B/member (heap in use {res['local_heap_in_use_bytes_per_member']:.0f}), "
        f"remote {res['remote_bytes_per_member']:.0f} B/member (heap {res['remote_heap_in_use_bytes_per_member']:.0f}); "
        f"an idle member process {res['member_process_bytes_each']:.0f} B")
    if late:
        log(f"   then a join on the member node is visible on all others after p50 "
            f"{res['join_visible_at_groups_ms']['p50']:.1f} ms (max {res['join_visible_at_groups_ms']['max']:.1f} ms)")
    return res


def cohort_idle(c, nodes, groups, have, args):
    """Brings the cluster to `groups` groups (one member process each, spread over the nodes), then
    measures each node's CPU over the same window as the OTP half."""
    add = spread(groups - have, NODES)
    c.cmd_all([n for n, k in zip(nodes, add) if k], [f"fill idle{groups}n{n.index}_ {k} {k}"
                                                      for n, k in zip(nodes, add) if k], 600)
    c.wait_groups(nodes, groups, 600, 0.1)
    quiet_s = c.wait_quiet(nodes)
    pids = [n.proc.pid for n in nodes]
    time.sleep(args.settle_seconds)        # let the joins' after-effects pass (fixed, bounded)
    c0, n0, w0 = [cpu_seconds(p) for p in pids], [run_ns(p) for p in pids], time.monotonic()
    time.sleep(args.idle_seconds)          # the measurement window itself
    c1, n1, w1 = [cpu_seconds(p) for p in pids], [run_ns(p) for p in pids], time.monotonic()
    per_node = [round((b - a) / (w1 - w0) * 100, 3) for a, b in zip(c0, c1)]
    fine = [None if a is None or b is None else round((b - a) / 1e9 / (w1 - w0) * 100, 4) for a, b in zip(n0, n1)]
    res = {"groups": groups, "per_node_percent": per_node, "mean_percent": round(statistics.mean(per_node), 3),
           "window_s": round(w1 - w0, 2), "quiet_after_s": quiet_s,
           "tick_resolution_percent": round(100 / os.sysconf("SC_CLK_TCK") / (w1 - w0), 3),
           "per_node_percent_schedstat": fine,
           "mean_percent_schedstat": None if None in fine else round(statistics.mean(fine), 4)}
    log(f"e. idle {groups} groups: mean {res['mean_percent']}% of a core per node {per_node} "
        f"(schedstat {fine})")
    return res


def run_cohort(args):
    """Runs the Cohort half: five GroupBenchNode processes (one Cohort node each, gossip + mesh on their own
    loopback address, Raft role client) per phase, a fresh cluster for each phase. Returns the same keys
    as run_otp. A phase left out by --phases reports None."""
    if not os.access(args.cohort_node, os.X_OK):
        raise RuntimeError(f"{args.cohort_node} not found: cd Benchmarks && swift build -c release "
                           f"--product GroupBenchNode --scratch-path .build-release-pg (or pass --cohort-node)")
    workdir = tempfile.mkdtemp(prefix="pg-cohort-")
    t_start = time.monotonic()
    results = {}
    try:
        def phase(letter, fn, whole=True):
            """fn on a fresh cluster of its own, stopped afterwards; `whole`: measured as one phase."""
            if letter not in args.phases:
                return None
            c = CohortCluster(args, workdir, COHORT_BLOCKS[letter], f"p{letter}")
            try:
                return measured(c.our_cpu_seconds, fn, c, args) if whole else fn(c, args)
            finally:
                c.close()

        bcast = phase("a", cohort_broadcast)
        jv = phase("b", cohort_join_visible)
        mem = phase("d", cohort_memory)

        def idle_both(c, args):
            nodes = c.start(NODES)
            few = measured(c.our_cpu_seconds, cohort_idle, c, nodes, 10, 0, args)
            many = measured(c.our_cpu_seconds, cohort_idle, c, nodes, args.idle_groups, 10, args)
            return {10: few, args.idle_groups: many}

        idle = phase("e", idle_both, whole=False)
        sync = phase("c", cohort_sync)

        return headline(f"Cohort process groups ({os.path.basename(args.cohort_node)}, one node per process)",
                        bcast, jv, sync, mem, idle, args) | {
            "details": {
                "binary": args.cohort_node, "groups_for_sync_and_memory": args.groups,
                "groups_for_idle": args.idle_groups,
                "broadcast": bcast, "join_visible": jv, "sync": sync, "memory": mem,
                "idle": None if idle is None else {str(k): v for k, v in idle.items()},
                "wall_s": round(time.monotonic() - t_start, 1),
            },
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ----------------------------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["cohort", "otp", "both"], default="both",
                    help="which half to run (default both: Cohort first, then OTP, never at the same time)")
    ap.add_argument("--cohort-node", default=DEFAULT_COHORT_NODE,
                    help="the GroupBenchNode binary (default Benchmarks/.build-release-pg/release/GroupBenchNode)")
    ap.add_argument("--cohort-net", default="127.0.89",
                    help="first three octets of the Cohort nodes' loopback addresses (x.y.z.11-55)")
    ap.add_argument("--poll-ms", type=float, default=5, help="Cohort: poll interval of the delivery counters (a)")
    ap.add_argument("--broadcast-timeout", type=float, default=300, help="Cohort: deadline of one broadcast run (a)")
    ap.add_argument("--sync-timeout", type=float, default=900, help="Cohort: deadline of the sync (c)")
    ap.add_argument("--late-joins", type=int, default=20,
                    help="Cohort: joins timed on the member node once it holds --groups groups (d; 0: none)")
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
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run (about a minute for both)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--out", help="also write the JSON summary to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.members, args.broadcasts, args.repeats = 100, 200, 3
        args.join_samples, args.groups, args.idle_groups = 50, 5000, 1000
        args.idle_seconds, args.settle_seconds = 3, 0.5
    if args.idle_groups <= 10:
        ap.error("--idle-groups must be more than 10 (the other idle figure is at 10 groups)")
    if not args.phases or set(args.phases) - set("abcde"):
        ap.error("--phases takes letters from abcde")
    for k in ("members", "broadcasts", "repeats", "join_samples", "groups", "idle_groups"):
        if getattr(args, k) < 1:
            ap.error(f"--{k.replace('_', '-')} must be at least 1")
    return args


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float) and abs(v) < 10:
        return f"{v:.3g}{unit}"
    return f"{v:,.0f}{unit}"


def table(summary):
    """Markdown table of the headline figures, side by side, with Cohort / OTP."""
    co, otp = summary.get("cohort") or {}, summary.get("otp") or {}
    sizes = summary["sizes"]
    g, ig = sizes["groups"], sizes["idle_groups"]
    rows = [("broadcast deliveries/s (higher is better)", ("broadcast_deliveries_per_s",), ""),
            ("join → visible on all nodes, p50", ("join_visible_ms", "p50"), " ms"),
            ("join → visible on all nodes, p99", ("join_visible_ms", "p99"), " ms"),
            (f"sync of a new node, {g:,} groups", ("sync_100k_groups_s",), " s"),
            (f"memory per member at {g:,} groups, member's node", ("memory_bytes_per_member", "local"), " B"),
            (f"memory per member at {g:,} groups, remote node", ("memory_bytes_per_member", "remote"), " B"),
            ("idle CPU per node, 10 groups", ("idle_cpu_percent", "groups_10"), " %"),
            (f"idle CPU per node, {ig:,} groups", ("idle_cpu_percent", "groups_10000"), " %"),
            ("idle CPU per node, 10 groups (schedstat)", ("details", "idle", "10", "mean_percent_schedstat"), " %"),
            (f"idle CPU per node, {ig:,} groups (schedstat)", ("details", "idle", str(ig), "mean_percent_schedstat"),
             " %"),
            ("foreign CPU during a phase, max (noise)", ("foreign_cpu_cores_max",), " cores")]

    def get(d, keys):
        for k in keys:
            d = d.get(k) if isinstance(d, dict) else None
        return d

    lines = ["| measurement | Cohort | OTP pg | Cohort / OTP |", "|---|---|---|---|"]
    for label, keys, unit in rows:
        a, b = get(co, keys), get(otp, keys)
        ratio = f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b \
            and "noise" not in label else "—"
        lines.append(f"| {label} | {fmt(a, unit)} | {fmt(b, unit)} | {ratio} |")
    return "\n".join(lines)


def foreign_processes():
    """Processes of the kinds this benchmark starts (cohortd, GroupBenchNode, beam) that are not ours."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            comm = proc_comm(pid)
            if comm and (comm.startswith("beam") or comm in ("cohortd", "GroupBenchNode")):
                found.append(f"{pid} {comm}")
    return found


def main(argv=None):
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C does, so every finally block stops what it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"pg_vs_otp: terminated"))
    LOG_QUIET[0] = args.quiet
    if args.only in ("otp", "both"):
        for tool in ("erl", "erlc", "epmd"):
            if shutil.which(tool) is None:
                sys.exit(f"{tool} not found: apt-get install -y erlang-base")
    if args.only in ("cohort", "both") and not os.access(args.cohort_node, os.X_OK):
        sys.exit(f"{args.cohort_node} not found: cd Benchmarks && swift build -c release --product GroupBenchNode "
                 f"--scratch-path .build-release-pg (or pass --cohort-node)")
    others = foreign_processes()
    if others:
        log(f"note: processes of the same kinds already run (not ours, left alone): {others}")
    t0 = time.monotonic()
    load_before = os.getloadavg()
    summary = {
        "benchmark": "process groups: Cohort vs Erlang/OTP pg",
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "python": platform.python_version(), "loadavg_before": load_before,
                    "cpu_pressure_before": cpu_pressure(), "same_kind_processes_before": others},
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "sizes": {k: getattr(args, k) for k in ("members", "broadcasts", "repeats", "join_samples", "groups",
                                                  "idle_groups", "idle_seconds")},
    }
    # one half after the other, never both at once
    if args.only in ("cohort", "both"):
        summary["cohort"] = run_cohort(args)
    if args.only in ("otp", "both"):
        summary["otp"] = run_otp(args)
    summary["machine"]["loadavg_after"] = os.getloadavg()
    summary["machine"]["cpu_pressure_after"] = cpu_pressure()
    summary["wall_s"] = round(time.monotonic() - t0, 1)
    text = json.dumps(summary, indent=2)
    print(table(summary))
    print()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
