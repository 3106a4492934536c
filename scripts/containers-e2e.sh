#!/usr/bin/env bash
# End-to-end check of the cohortd container image with podman: a 30-container cluster on a podman
# network of its own (run by hand, as root; about 4–6 minutes).
#
#   scripts/containers-e2e.sh [--binaries DIR] [--clients N] [--cap-add CAP]
#
#   --cap-add CAP  give every node container capability CAP (podman makes it ambient for the image's
#                  non-root user). cohortd needs none: this script found a bug that made it need
#                  NET_ADMIN (SO_DEBUG set for TCP_NODELAY), fixed since and tested by CapabilityDaemonTests.
#
# 1. builds the image (scripts/image.sh; --binaries DIR skips the Swift build);
# 2. start -> READY of a single-node container against the bare binary on loopback;
# 3. 3 server containers (bootstrap_expect 3) and N client containers (default 27) form one cluster:
#    every node sees all of them alive, the servers are the 3 voters, the clients say role client; a write
#    through a client's admin API commits and reads back from every server; HEALTHCHECK passes;
# 4. idle figures: cohortd RSS per container, idle leader CPU over 60 s;
# 5. `podman kill` of the leader's container: time to a new leader, a write succeeds;
# 6. rolling restart of the 3 servers (stop, start, wait for /readyz and a caught-up voter) while a
#    bounded writer writes distinct keys through client nodes: every acknowledged write reads back and
#    every failure falls inside a leadership change window; prints the longest failure window;
# 7. a server container removed and re-created on its volume: same name and data, time to READY and
#    to voter;
# 8. the loopback comparison: 3 bare servers, idle leader CPU over 60 s.
# Every container, volume and the network it creates carry the label io.cohort.e2e=<run> and are
# removed at the end, on failure and on Ctrl-C (trap).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
binaries="" clients=27 caps="" image=localhost/cohort:e2e
while [ $# -gt 0 ]; do
  case "$1" in
    --binaries) binaries=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --cap-add) caps="$caps $2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "containers-e2e.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done
# shellcheck source=lib/podman.sh
. "$repo/scripts/lib/podman.sh"
ensure_podman

if [ -n "$binaries" ]; then
  "$repo/scripts/image.sh" --tag "$image" --binaries "$binaries"
else
  "$repo/scripts/image.sh" --tag "$image"
  binaries=${COHORT_BUILD_SCRATCH:-$repo/.build-static}/release
fi

run="cohort-e2e-$$"
work=$(mktemp -d /tmp/cohort-containers-e2e.XXXXXX)
cleanup() {
  local ids
  ids=$(pm ps -aq --filter "label=io.cohort.e2e=$run" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -n "$ids" ] && pm rm -f -v -t 5 $ids >/dev/null 2>&1 || true
  ids=$(pm volume ls -q --filter "label=io.cohort.e2e=$run" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -n "$ids" ] && pm volume rm -f $ids >/dev/null 2>&1 || true
  pm network rm -f "$run" >/dev/null 2>&1 || true
  rm -rf "$work"
  echo "cleaned up: containers, volumes and network of $run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pm network create --label "io.cohort.e2e=$run" "$run" >/dev/null
E2E_CAPS=$caps E2E_RUN=$run E2E_NETWORK=$run E2E_IMAGE=$image E2E_CLIENTS=$clients E2E_BINARIES=$binaries E2E_WORK=$work \
E2E_PODMAN="podman --runtime $runc_path --cgroup-manager=cgroupfs" \
  python3 -u "$repo/scripts/lib/containers_e2e.py"
