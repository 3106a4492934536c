#!/usr/bin/env bash
# End-to-end check of deploy/systemd under a real systemd, booted in a systemd-nspawn container
# (never on the host: systemd must not be PID 1 of this machine's root filesystem).
#
# What it shows, with the unit and example config exactly as shipped (plus a test drop-in that
# shortens WatchdogSec and names a failpoint file):
#   1. the unit starts, reaches "active" only after READY=1, and its STATUS= line says the node is ready;
#   2. the node logs to the journal with structured fields;
#   3. while a liveness check fails, the watchdog pings stop and systemd kills and restarts the node;
#   4. once the check passes again, the node stays up;
#   5. `systemctl stop` ends it cleanly (STOPPING=1, exit 0).
#
# Usage: scripts/systemd-e2e.sh   (root; needs debootstrap and systemd-container from apt)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${COHORT_E2E_ROOT:-/var/tmp/cohort-e2e-root}
scratch=${COHORT_E2E_SCRATCH:-$repo/.build-static}

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

# shellcheck source=lib/nspawn.sh
. "$repo/scripts/lib/nspawn.sh"
nspawn_tools

step "building a static release cohortd"
(cd "$repo" && swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product cohortd 2>&1 | tail -n 2)
binary="$scratch/release/cohortd"

nspawn_debootstrap "$root"

step "installing the unit, the sysusers file and the example config as shipped"
install -m 0755 "$binary" "$root/usr/local/bin/cohortd"
install -D -m 0644 "$repo/deploy/systemd/cohortd.service" "$root/etc/systemd/system/cohortd.service"
install -D -m 0644 "$repo/deploy/systemd/cohort.sysusers.conf" "$root/usr/lib/sysusers.d/cohort.conf"
install -D -m 0644 "$repo/deploy/systemd/cohortd.yaml" "$root/etc/cohort/cohortd.yaml"
mkdir -p "$root/etc/systemd/system/cohortd.service.d" "$root/etc/systemd/system/multi-user.target.wants"
cat > "$root/etc/systemd/system/cohortd.service.d/e2e.conf" <<'DROPIN'
[Service]
WatchdogSec=4s
Environment=COHORT_FAILPOINT_LIVEZ_FILE=/etc/cohort/livez-fail
DROPIN
ln -sf /etc/systemd/system/cohortd.service "$root/etc/systemd/system/multi-user.target.wants/cohortd.service"
rm -f "$root/etc/cohort/livez-fail"
echo cohort-e2e > "$root/etc/hostname"

nspawn_boot "$root" /tmp/cohort-e2e-console.log
prop() { inside systemctl show cohortd -p "$1" --value; }

step "1. the unit becomes active after READY=1"
wait_for 60 "cohortd active" bash -c "[ \"\$(nsenter -t $init -a systemctl is-active cohortd)\" = active ]"
echo "ActiveState=$(prop ActiveState) SubState=$(prop SubState) User=$(prop User) StatusText=$(prop StatusText)"
[[ "$(prop StatusText)" == ready:* ]] || fail "STATUS= does not say ready"
inside test -f /var/lib/cohort/_sys/incarnation || fail "no state in the unit's StateDirectory"
restarts_before=$(prop NRestarts)

step "2. structured journal fields"
journal=$(inside journalctl -b -u cohortd -o verbose --no-pager)
grep -E '^\s+(SYSLOG_IDENTIFIER|PRIORITY|COHORT_LOGGER|INCARNATION|CODE_FILE)=' <<<"$journal" | sort -u | head -n 8
grep -q 'COHORT_LOGGER=cohortd' <<<"$journal" || fail "no structured fields in the journal"

step "3. a failing liveness check stops the watchdog; systemd restarts the node"
inside touch /etc/cohort/livez-fail
wait_for 30 "a watchdog restart" bash -c "[ \"\$(nsenter -t $init -a systemctl show cohortd -p NRestarts --value)\" -gt $restarts_before ]"
inside journalctl -b -u cohortd --no-pager | grep -iE 'watchdog' | tail -n 3 || true
echo "NRestarts=$(prop NRestarts)"

step "4. with the check passing again the node stays up"
inside rm -f /etc/cohort/livez-fail
wait_for 60 "cohortd active again" bash -c "[ \"\$(nsenter -t $init -a systemctl is-active cohortd)\" = active ]"
settled=$(prop NRestarts)
sleep 10  # longer than two watchdog periods: a node that failed to ping would be restarted within this
[ "$(prop NRestarts)" = "$settled" ] || fail "restarted although healthy"
echo "stable: NRestarts=$settled after 10 s"

step "5. systemctl stop ends it cleanly"
inside systemctl stop cohortd
echo "ActiveState=$(prop ActiveState) Result=$(prop Result) ExecMainStatus=$(prop ExecMainStatus)"
[ "$(prop Result)" = success ] || fail "stop did not succeed"
inside journalctl -b -u cohortd --no-pager | tail -n 4

printf '\nPASS: the shipped unit and config work under systemd %s\n' "$(inside systemctl --version | head -n1)"
