#!/usr/bin/env python3
"""The scale simulation at N = 100, 1,000 and 5,000: real gossip cores for every node, real Raft cores for the
≤ 9 Raft members, one simulated network and clock (Tools/ScaleSimulation, CohortTestKit's SimulatedNetwork).

    python3 Benchmarks/scripts/scale_simulation.py              # builds the release command, runs, plots
    SCALE_SIZES=100,1000 python3 Benchmarks/scripts/scale_simulation.py

Environment:
  SCALE_SIZES      comma-separated sizes (default 100,1000,5000)
  SCALE_SEED       the seed of every run (default 1)
  SCALE_TIMEOUT    real seconds one size may run (default 3600): then it stops where it is and reports what it
                   measured so far ("stoppedEarly"); 10 minutes later it is killed and recorded as unfinished
  SCALE_SCRATCH    the release build's scratch path (default /tmp/build-scale-release)
  SCALE_BINARY     an already built ScaleSimulation (skips the build)
  SCALE_OUT        where the JSON and the plots go (default Benchmarks/results)

For each size it runs `ScaleSimulation --size N --seed S` (one process per size, one at a time), which prints
one JSON object (see Tools/ScaleSimulation/ScaleResult.swift): convergence after a mass start, the Raft
leader's and the nodes' messages per second in an idle window, one rumor's dissemination, and the detection
of 1 % of the nodes crashing at once, each beside its model; the command's wall time and peak RSS are in it.
Writes SCALE_OUT/scale.json and the plots SCALE_OUT/scale-{convergence,detection,leader,dissemination}.png
(matplotlib; without it the JSON is still written; runs stopped early are left out of the plots). Sizes not run
keep their earlier entry in scale.json. The process is killed by PID on timeout.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build():
    binary = os.environ.get("SCALE_BINARY")
    if binary:
        return binary
    scratch = os.environ.get("SCALE_SCRATCH", "/tmp/build-scale-release")
    subprocess.run(
        ["swift", "build", "-c", "release", "--product", "ScaleSimulation", "--scratch-path", scratch],
        cwd=ROOT, check=True,
    )
    return os.path.join(scratch, "release", "ScaleSimulation")


def run(binary, size, seed, timeout):
    started = time.monotonic()
    process = subprocess.Popen(
        [binary, "--size", str(size), "--seed", str(seed), "--wall-limit", str(int(timeout))],
        stdout=subprocess.PIPE, stderr=None, text=True,
    )
    try:
        # Past --wall-limit the command stops at its next check and reports what it measured; the margin is
        # for that last step.
        out, _ = process.communicate(timeout=timeout + 600)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        return {"size": size, "seed": seed, "unfinished": True, "wallSeconds": time.monotonic() - started}
    if process.returncode != 0:
        return {"size": size, "seed": seed, "failed": process.returncode, "wallSeconds": time.monotonic() - started}
    return json.loads(out)


def plots(results, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plots (pip install matplotlib)", file=sys.stderr)
        return
    done = [r for r in results if "convergence" in r and not r.get("stoppedEarly")]
    if not done:
        return
    sizes = [r["size"] for r in done]
    dense = [10 ** (x / 20) for x in range(int(20 * math.log10(min(sizes))), int(20 * math.log10(max(sizes))) + 1)]

    def figure(name, title, ylabel):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.set_xscale("log")
        ax.set_xlabel("nodes (N)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        return fig, ax

    def save(fig, ax, name):
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)

    # Convergence after a mass start and the drain of the broadcast queues.
    fig, ax = figure("convergence", "Mass start (all N start within 1 s, join through 3 seeds)", "simulated seconds")
    pts = [(r["size"], r["convergence"]["convergedAtSeconds"]) for r in done if r["convergence"].get("convergedAtSeconds")]
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label="every node sees N alive")
    pts = [(r["size"], r["convergence"]["quietAtSeconds"]) for r in done if r["convergence"].get("quietAtSeconds")]
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "s--", label="broadcast queues drained")
    # Model of the drain: every node sends each of N alives retransmitLimit times, gossipNodes datagrams of
    # ~25 alives per 200 ms round (memberlist LAN: 3 × 5/s × ~25 = 375 messages/s).
    limit = lambda n: 4 * math.ceil(math.log10(n + 1))
    ax.plot(dense, [n * limit(n) / 375 for n in dense], ":", color="gray", label="model drain: N × 4⌈log10(N+1)⌉ ÷ 375/s")
    ax.set_yscale("log")
    save(fig, ax, "scale-convergence.png")

    # Detection of 1 % crashing at once.
    fig, ax = figure("detection", "1 % of the nodes crash at once: dead at every survivor", "seconds from the crash")
    det = [r for r in done if r.get("detection") and r["detection"].get("lastSeconds") is not None]
    if det:
        ax.plot([r["size"] for r in det], [r["detection"]["lastSeconds"] for r in det], "o-", label="last survivor, last crashed node")
        ax.plot([r["size"] for r in det], [r["detection"]["medianSeconds"] for r in det], "^-", label="median crashed node")
        ax.plot([r["size"] for r in det], [r["detection"]["firstSeconds"] for r in det], "v-", label="first declaration")
    smin = lambda n: 4 * max(1.0, math.log10(n))
    ax.plot(dense, [2 + smin(n) for n in dense], "--", color="black", label="model: 2 probe intervals + 4·log10(N) s")
    ax.fill_between(dense, [smin(n) for n in dense], [2 + 6 * smin(n) for n in dense], color="gray", alpha=0.15,
                    label="suspicion min … 2 + max (6 × min)")
    save(fig, ax, "scale-detection.png")

    # The leader's messages per second, and a node's.
    fig, ax = figure("leader", "Idle window after convergence: messages per second", "messages (packets) per second")
    idle = [r for r in done if r.get("idle")]
    if idle:
        xs = [r["size"] for r in idle]
        ax.plot(xs, [r["idle"]["leaderRaftMessagesPerSecond"] for r in idle], "o-", label="Raft leader: Raft messages")
        ax.plot(xs, [r["idle"]["leaderGossipPacketsPerSecond"] for r in idle], "s-", label="Raft leader: gossip packets")
        ax.plot(xs, [r["idle"]["nodeGossipPacketsPerSecondMean"] for r in idle], "^-", label="mean node: gossip packets")
        ax.plot(xs, [r["idle"]["modelRaftLeaderMessagesPerSecond"] for r in idle], ":", color="C0", label="model Raft: 4×2/s + 4×0.5/s")
        ax.plot(xs, [r["idle"]["modelNodeGossipPacketsPerSecond"] for r in idle], ":", color="C2", label="model gossip: 2/probe + 2/push-pull")
    ax.set_ylim(bottom=0)
    save(fig, ax, "scale-leader.png")

    # Dissemination of one rumor.
    fig, ax = figure("dissemination", "One rumor (new metadata of a client node)", "gossip rounds (200 ms)")
    dis = [r for r in done if r.get("dissemination") and r["dissemination"].get("gossipRounds") is not None]
    if dis:
        ax.plot([r["size"] for r in dis], [r["dissemination"]["gossipRounds"] for r in dis], "o-", label="time to reach all ÷ 200 ms")
        ax.plot([r["size"] for r in dis], [r["dissemination"]["maxHops"] for r in dis], "s-", label="longest path (hops)")
        ax.plot([r["size"] for r in dis], [r["dissemination"]["meanHops"] for r in dis], "^-", label="mean hops")
    ax.plot(dense, [math.log(n) / math.log(4) + math.log(n) / 3 for n in dense], "--", color="black",
            label="model: log₄N + ln N ÷ 3 (push, fan-out 3)")
    ax.plot(dense, [math.ceil(math.log2(n)) for n in dense], ":", color="gray", label="⌈log₂ N⌉")
    ax.set_ylim(bottom=0)
    save(fig, ax, "scale-dissemination.png")


def main():
    sizes = [int(s) for s in os.environ.get("SCALE_SIZES", "100,1000,5000").split(",") if s.strip()]
    seed = int(os.environ.get("SCALE_SEED", "1"))
    timeout = float(os.environ.get("SCALE_TIMEOUT", "3600"))
    out = os.environ.get("SCALE_OUT", os.path.join(ROOT, "Benchmarks", "results"))
    binary = build()
    path = os.path.join(out, "scale.json")
    # Sizes not run this time keep their earlier results (so 5,000 can run alone, later).
    results = []
    if os.path.exists(path):
        with open(path) as f:
            results = [r for r in json.load(f) if r.get("size") not in sizes]
    for size in sizes:
        print(f"N={size} …", file=sys.stderr, flush=True)
        load = os.getloadavg()
        result = run(binary, size, seed, timeout)
        result["loadBefore"] = [round(x, 2) for x in load]
        result["loadAfter"] = [round(x, 2) for x in os.getloadavg()]
        results.append(result)
        results.sort(key=lambda r: r["size"])
        with open(path, "w") as f:  # after every size, so a killed sweep keeps what it did
            json.dump(results, f, indent=2, sort_keys=True)
    plots(results, out)
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
