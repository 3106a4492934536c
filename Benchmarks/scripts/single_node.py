#!/usr/bin/env python3
"""Single-node figures for cohortd: start to READY=1, idle resident memory and idle CPU.

Starts the real daemon N times under a NOTIFY_SOCKET this script listens on (as systemd would), and
once more for an idle window. Loopback only; every run is bounded and the daemon is killed at the end.

    python3 Benchmarks/scripts/single_node.py --binary .build/release/cohortd --runs 20 --idle 60
"""
import argparse, os, platform, signal, socket, statistics, subprocess, sys, tempfile, time

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15)

def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0

def start(binary, workdir, index, watchdog_usec=None):
    sock_path = os.path.join(workdir, f"notify-{index}.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(sock_path)
    data = os.path.join(workdir, f"data-{index}")
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, COHORT_ADMIN_ADDRESS=f"127.0.99.{index % 250 + 2}:7960",
               COHORT_DATA_DIR=data, COHORT_CLUSTER_NAME=f"bench-{index}")
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    t0 = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listener.settimeout(10)
    ready_at = None
    while ready_at is None:
        msg = listener.recv(4096).decode()
        if "READY=1" in msg.split("\n"):
            ready_at = time.monotonic()
    return proc, listener, ready_at - t0

def stop(proc, listener):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    listener.close()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/cohortd")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        times = []
        for i in range(args.runs):
            proc, listener, elapsed = start(args.binary, workdir, i)
            times.append(elapsed * 1000)
            stop(proc, listener)
        times.sort()
        proc, listener, _ = start(args.binary, workdir, 250, watchdog_usec=2_000_000)
        time.sleep(2)  # let start-up work settle before the idle window
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.idle)
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        rss = rss_bytes(proc.pid)
        stop(proc, listener)
    print(f"machine: {platform.node()} {os.cpu_count()} cores, {platform.platform()}")
    print(f"binary: {args.binary}")
    print(f"start to READY=1 over {args.runs} runs: p50 {statistics.median(times):.1f} ms, "
          f"min {times[0]:.1f} ms, max {times[-1]:.1f} ms")
    print(f"idle over {args.idle:.0f} s (watchdog 1 s pings): CPU {100 * (c1 - c0) / (t1 - t0):.3f}% of a core, "
          f"resident memory {rss / 1048576:.1f} MiB")

if __name__ == "__main__":
    sys.exit(main())
