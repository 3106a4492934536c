# shellcheck shell=bash
# A real systemd for the end-to-end scripts (systemd-e2e.sh, deb-e2e.sh): a debootstrapped Debian 12 booted
# under systemd-nspawn — never on the host, whose PID 1 systemd must not be. The sourcing script defines
# step() and fail().

# Installs debootstrap and systemd-nspawn when missing.
nspawn_tools() {
  command -v debootstrap >/dev/null && command -v systemd-nspawn >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap systemd-container >/dev/null; }
}

# nspawn_debootstrap ROOT: a Debian bookworm with systemd in ROOT, unless one is there already.
nspawn_debootstrap() {
  [ -x "$1/usr/lib/systemd/systemd" ] && return 0
  step "debootstrapping Debian bookworm into $1"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libsystemd0 bookworm "$1" >/dev/null
}

# nspawn_boot ROOT CONSOLE_LOG: boots ROOT with a private network; sets $init to the container's PID 1, and
# kills the container when the script exits (killing PID 1 ends its whole PID namespace; killing only
# nspawn would leave it running).
nspawn_boot() {
  step "booting the container"
  systemd-nspawn -D "$1" --boot --register=no --keep-unit --private-network >"$2" 2>&1 &
  nspawn=$!
  init=""
  trap nspawn_cleanup EXIT
  # The child named systemd: nspawn may have a short-lived helper child first, and entering or killing that
  # instead of PID 1 left a container running (seen once).
  for _ in $(seq 100); do init=$(pgrep -P "$nspawn" -x systemd | head -n1 || true); [ -n "$init" ] && break; sleep 0.1; done
  [ -n "$init" ] || fail "container did not start"
}

nspawn_cleanup() {
  [ -n "$init" ] && kill -KILL "$init" 2>/dev/null || true
  kill -KILL "$nspawn" 2>/dev/null || true
  wait "$nspawn" 2>/dev/null || true
}

# inside COMMAND...: runs it in the container.
inside() { nsenter -t "$init" -a "$@"; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s until it succeeds, or fails the script.
wait_for() {
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out after ${limit}s waiting for $what"
}
