#!/usr/bin/env python3
"""What an idle `cohortd`'s memory is made of, per role, with real daemons (issue 18).

    swift build -c release --static-swift-stdlib --product cohortd --scratch-path /tmp/build-rel
    python3 Benchmarks/scripts/memory_breakdown.py --cohortd /tmp/build-rel/release/cohortd
    python3 Benchmarks/scripts/memory_breakdown.py --cohortd … --nodes 0 --sections   # single node only
    python3 Benchmarks/scripts/memory_breakdown.py --pids 1234 5678 --sections         # running processes

Starts one unclustered node (as Benchmarks/scripts/single_node.py does: configuration from the environment
only, NOTIFY_SOCKET set) and, unless --nodes 0, a cluster of N nodes (default 5) through the Cluster of
idle_wakeups.py (scripts/cluster.sh on CLUSTER_NET, default 127.0.8; max_voters 3, max_standbys 1: a leader,
2 followers, a standby and a client), waits for the Raft configuration, lets every node settle (default 20 s),
then reads /proc/<pid>/smaps of every node and prints:

  - per role, the median node's Rss, Pss and Anonymous (smaps_rollup) with the min–max over the role's nodes;
  - per role, the median node's mappings (file or [heap]/[anon], permissions) by Rss, with Pss and Anonymous;
  - with --sections, for the executable's own mappings: the resident pages per ELF section and per origin
    (Swift module from the mangled symbol, ICU, BoringSSL, the Swift runtime, libdispatch, …), read from
    /proc/<pid>/pagemap (root: present bit 63, file-page bit 61, so COW'd pages count as anonymous) against
    the binary's section headers (readelf) and symbol table (nm).

Page-cache caveat: a file-backed page is counted once it is mapped, and the kernel maps the neighbours of a
faulting page when they are already cached (fault-around, 64 KiB), so a binary that was just built or copied
(every page cached) shows more resident text than one read from disk page by page. Pss divides the pages
shared between the nodes on one machine; Anonymous is what each node costs on its own.

Bounded: every process is stopped (SIGTERM, then SIGKILL by PID) and its directory removed in `finally`.
Python standard library plus binutils (readelf, nm) for --sections. Other load on the machine does not change
these figures much (memory, not time), but say what ran beside it.
"""

import argparse
import bisect
import collections
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import idle_wakeups  # noqa: E402  (its Cluster starts, reads the roles of and stops a cluster.sh cluster)

PAGE = os.sysconf("SC_PAGE_SIZE")
SYMBOLLED = (".text", ".rodata", ".data", ".data.rel.ro", ".bss", ".tdata", ".tbss", ".init_array", ".fini_array")
ROLES = ("single", "leader", "follower", "standby", "client")
SMAPS_KEYS = ("Rss", "Pss", "Anonymous", "Private_Dirty", "Shared_Clean", "Private_Clean")


def log(message):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


# ---- /proc parsing -------------------------------------------------------------------------------------------

def rollup(pid):
    """{Rss, Pss, Anonymous, …} in KiB from /proc/<pid>/smaps_rollup; {} when the process is gone."""
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in SMAPS_KEYS:
                    out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


def mappings(pid):
    """[(start, end, perms, offset, name, {Rss, Pss, …} KiB)] from /proc/<pid>/smaps."""
    maps = []
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                parts = line.split()
                if parts and re.match(r"^[0-9a-f]+-[0-9a-f]+$", parts[0]):
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    name = parts[5] if len(parts) > 5 else "[anon]"
                    maps.append((start, end, parts[1], int(parts[2], 16), name, collections.Counter()))
                elif parts and parts[0].endswith(":") and parts[0][:-1] in SMAPS_KEYS and maps:
                    maps[-1][5][parts[0][:-1]] += int(parts[1])
    except OSError:
        pass
    return maps


def by_mapping(maps):
    """{(name, perms): Counter} summed over the mappings of one file and permission."""
    out = collections.defaultdict(collections.Counter)
    for _start, _end, perms, _offset, name, counts in maps:
        out[(name, perms)].update(counts)
    return out


def resident_pages(pid, start, end):
    """{page address: anonymous?} for the present pages of [start, end), from /proc/<pid>/pagemap (root)."""
    out = {}
    with open("/proc/%d/pagemap" % pid, "rb") as f:
        f.seek(start // PAGE * 8)
        data = f.read((end - start) // PAGE * 8)
    for i in range(len(data) // 8):
        entry = int.from_bytes(data[i * 8:i * 8 + 8], "little")
        if entry >> 63 & 1:
            out[start + i * PAGE] = not (entry >> 61 & 1)
    return out


# ---- the executable: sections and symbols ----------------------------------------------------------------

def elf_sections(binary):
    """[(name, address, size)] of the allocated sections, from readelf -SW."""
    out = []
    text = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*)", line)
        if m and "A" in m.group(4):
            out.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16)))
    return sorted(out, key=lambda s: s[1])


def origin(symbol):
    """Where a symbol of the static binary comes from, roughly: a Swift module, ICU, BoringSSL, …"""
    m = re.match(r"^\$s(\d+)", symbol)
    if m:
        n = int(m.group(1))
        name = symbol[2 + len(m.group(1)):2 + len(m.group(1)) + n]
        return "swift " + name
    if symbol.startswith(("$sS", "$ss", "$sy", "_swift_stdlib", "swift_", "_swift_")):
        return "swift Swift (stdlib, runtime)"
    if symbol.startswith("$s"):
        return "swift Swift (stdlib, runtime)"
    if "icu_" in symbol or re.search(r"_7[0-9]$", symbol) or symbol.startswith("icudt"):
        return "ICU (_FoundationICU)"
    if "BoringSSL" in symbol:
        return "BoringSSL (swift-crypto)"
    if symbol.startswith(("_ZN5swift", "_ZL", "_ZN12_GLOBAL__N", "_ZNK5swift")):
        return "C++ (Swift runtime, ICU statics, …)"
    if symbol.startswith(("_dispatch", "dispatch_", "_os_", "_dispatch")):
        return "libdispatch"
    if symbol.startswith(("__CF", "_CF", "CF", "__kCF", "kCF")):
        return "CoreFoundation"
    return "C other"


def symbols(binary):
    """Sorted [(address, origin)] of the binary's defined symbols, from nm."""
    out = []
    text = subprocess.run(["nm", "--defined-only", "-n", binary], capture_output=True, text=True,
                          check=True).stdout
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] not in "aAUwvN":
            out.append((int(parts[0], 16), origin(parts[2])))
    out.sort()
    return out


class Executable:
    def __init__(self, path):
        self.path = path
        self.sections = elf_sections(path)
        self.symbols = symbols(path)
        self.symbol_addresses = [a for a, _ in self.symbols]

    def attribute(self, pid, maps):
        """{("section", name) | ("origin", name): [resident KiB, anonymous KiB]} of the executable's pages."""
        mine = [m for m in maps if m[4] == self.path or os.path.realpath(m[4]) == os.path.realpath(self.path)]
        base = min(start - offset for start, _e, _p, offset, _n, _c in mine) if mine else 0
        out = collections.defaultdict(lambda: [0.0, 0.0])
        for start, end, _perms, _offset, _name, _counts in mine:
            for page, anonymous in resident_pages(pid, start, end).items():
                address = page - base
                for name, begin, size in self.sections:
                    lo, hi = max(address, begin), min(address + PAGE, begin + size)
                    if hi > lo:
                        out[("section", name)][0] += (hi - lo) / 1024
                        out[("section", name)][1] += (hi - lo) / 1024 if anonymous else 0
                # Split the page over the symbols that cover it (a symbol runs to the next one's address);
                # the sections without symbols (relocations, dynamic symbols, unwind tables) by name.
                unnamed = [n for n, begin, size in self.sections if n not in SYMBOLLED
                           and begin <= address < begin + size]
                if unnamed:
                    out[("origin", "(%s)" % unnamed[0])][0] += PAGE / 1024
                    out[("origin", "(%s)" % unnamed[0])][1] += PAGE / 1024 if anonymous else 0
                    continue
                cursor = address
                while cursor < address + PAGE:
                    i = bisect.bisect_right(self.symbol_addresses, cursor)
                    hi = min(self.symbol_addresses[i] if i < len(self.symbols) else address + PAGE, address + PAGE)
                    key = ("origin", self.symbols[i - 1][1] if i > 0 else "?")
                    out[key][0] += (hi - cursor) / 1024
                    out[key][1] += (hi - cursor) / 1024 if anonymous else 0
                    cursor = hi
        return out


# ---- processes -----------------------------------------------------------------------------------------------

class SingleNode:
    """One unclustered node, configured from the environment only (as single_node.py starts it)."""

    def __init__(self, binary, address):
        self.dir = tempfile.mkdtemp(prefix="memory-breakdown-single-")
        self.sock = os.path.join(self.dir, "notify.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.listener.bind(self.sock)
        env = dict(os.environ, NOTIFY_SOCKET=self.sock, COHORT_ADMIN_ADDRESS=address,
                   COHORT_DATA_DIR=os.path.join(self.dir, "data"), COHORT_CLUSTER_NAME="memory-breakdown",
                   WATCHDOG_USEC="2000000")
        self.proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def wait_ready(self, timeout):
        self.listener.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "READY=1" in self.listener.recv(4096).decode().split("\n"):
                return
        raise RuntimeError("the single node did not send READY=1 within %g s" % timeout)

    def stop(self):
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        except ProcessLookupError:
            pass
        self.listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def mib(kib):
    return kib / 1024.0


def report(pids_by_role, executable, top, json_out):
    data = {}
    for role in ROLES:
        pids = pids_by_role.get(role, [])
        rolls = {pid: rollup(pid) for pid in pids}
        rolls = {pid: r for pid, r in rolls.items() if r}
        if not rolls:
            continue
        median_pid = sorted(rolls, key=lambda p: rolls[p]["Rss"])[len(rolls) // 2]
        data[role] = {"pids": pids, "rollup": rolls, "median_pid": median_pid}
    print("\n| role | nodes | RSS MiB (median; min–max) | PSS MiB (median; min–max) | anonymous MiB (median; min–max) |")
    print("|---|---|---|---|---|")
    for role, d in data.items():
        cells = []
        for key in ("Rss", "Pss", "Anonymous"):
            values = [mib(r[key]) for r in d["rollup"].values()]
            cells.append("%.1f; %.1f–%.1f" % (statistics.median(values), min(values), max(values)))
        print("| %s | %d | %s |" % (role, len(d["rollup"]), " | ".join(cells)))

    for role, d in data.items():
        pid = d["median_pid"]
        maps = mappings(pid)
        grouped = by_mapping(maps)
        print("\n%s (pid %d, the role's median node): mappings by Rss, KiB" % (role, pid))
        print("| mapping | perms | Rss | Pss | Anonymous |")
        print("|---|---|---|---|---|")
        rest = collections.Counter()
        for i, ((name, perms), c) in enumerate(sorted(grouped.items(), key=lambda kv: -kv[1]["Rss"])):
            if i < top:
                print("| %s | %s | %d | %d | %d |" % (name, perms, c["Rss"], c["Pss"], c["Anonymous"]))
            else:
                rest.update(c)
        if rest:
            print("| (the other %d) | | %d | %d | %d |" % (len(grouped) - top, rest["Rss"], rest["Pss"],
                                                           rest["Anonymous"]))
        d["mappings"] = {"%s %s" % k: dict(v) for k, v in grouped.items()}
        if executable:
            try:
                parts = executable.attribute(pid, maps)
            except OSError as error:
                print("(no pagemap: %s)" % error)
                continue
            for kind in ("section", "origin"):
                rows = sorted(((k[1], v) for k, v in parts.items() if k[0] == kind), key=lambda kv: -kv[1][0])
                print("\n%s: the executable's resident pages by %s, KiB (anonymous = copied on write)" % (role, kind))
                print("| %s | resident | anonymous |" % kind)
                print("|---|---|---|")
                for name, (res, anon) in rows:
                    if res >= 16:
                        print("| %s | %.0f | %.0f |" % (name, res, anon))
                d[kind] = {name: v for name, v in rows}
    if json_out:
        print("\nJSON: " + json.dumps(data, default=str))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohortd", help="release cohortd binary")
    parser.add_argument("--pids", type=int, nargs="*", help="measure these running processes instead")
    parser.add_argument("--nodes", type=int, default=5, help="cluster size N; 0: the single node only (default 5)")
    parser.add_argument("--voters", type=int, default=3, help="cluster.raft.max_voters (default 3)")
    parser.add_argument("--standbys", type=int, default=1, help="cluster.raft.max_standbys (default 1)")
    parser.add_argument("--net", default="127.0.8", help="CLUSTER_NET (default 127.0.8)")
    parser.add_argument("--single-address", default="127.0.98.2:7960", help="the single node's admin address")
    parser.add_argument("--no-single", action="store_true", help="do not start the single node")
    parser.add_argument("--settle", type=float, default=20.0, help="idle time before reading, s (default 20)")
    parser.add_argument("--ready-timeout", type=int, default=120)
    parser.add_argument("--converge-timeout", type=float, default=120.0)
    parser.add_argument("--top", type=int, default=8, help="mappings listed per role (default 8)")
    parser.add_argument("--sections", action="store_true", help="the executable's pages by section and origin")
    parser.add_argument("--json", action="store_true", help="also print the raw numbers as JSON")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, idle_wakeups._on_signal)
    signal.signal(signal.SIGINT, idle_wakeups._on_signal)

    if args.pids:
        exe = None
        if args.sections:
            exe = Executable(os.path.realpath("/proc/%d/exe" % args.pids[0]))
        report({"single": args.pids}, exe, args.top, args.json)
        return
    if not args.cohortd or not os.access(args.cohortd, os.X_OK):
        sys.exit("no cohortd at %s" % args.cohortd)
    binary = os.path.abspath(args.cohortd)
    exe = Executable(binary) if args.sections else None

    single, cluster = None, None
    pids_by_role = collections.defaultdict(list)
    try:
        if not args.no_single:
            log("starting the single node on %s" % args.single_address)
            single = SingleNode(binary, args.single_address)
            single.wait_ready(30)
            pids_by_role["single"].append(single.proc.pid)
        if args.nodes > 0:
            cluster = idle_wakeups.Cluster(argparse.Namespace(
                cohortd=binary, nodes=args.nodes, net=args.net, ready_timeout=args.ready_timeout,
                voters=args.voters, standbys=args.standbys))
            log("starting %d nodes on %s.x (max_voters %d, max_standbys %d)" % (
                args.nodes, args.net, args.voters, args.standbys))
            cluster.up()
            roles = cluster.wait_for_roles(args.converge_timeout)
            for i, role in sorted(roles.items()):
                pids_by_role[role].append(cluster.pids[i])
            log("converged: %s" % ", ".join("n%d %s" % (i, r) for i, r in sorted(roles.items())))
        log("settling %g s" % args.settle)
        time.sleep(args.settle)
        print("binary: %s (%.1f MiB on disk); load %s; nproc %d" % (
            binary, os.path.getsize(binary) / 2**20, idle_wakeups.load_average(), os.cpu_count() or 1))
        report(pids_by_role, exe, args.top, args.json)
    except (KeyboardInterrupt, idle_wakeups.Interrupted, RuntimeError) as stop:
        log("stopped: %s" % stop)
        sys.exit(1)
    finally:
        if single:
            single.stop()
        if cluster:
            cluster.down()


if __name__ == "__main__":
    main()
