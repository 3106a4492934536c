#!/usr/bin/env bash
# End-to-end check of the Debian package on a clean Debian 12 under a real systemd, booted in a
# systemd-nspawn container (never on the host), as scripts/systemd-e2e.sh does.
#
#   scripts/deb-e2e.sh [--deb FILE]     (root; without --deb it runs scripts/package-deb.sh first)
#
# 1. `apt install ./cohort_*.deb` on a fresh copy of a debootstrapped Debian 12 (systemd, no network):
#    the user exists, the unit is known, nothing is started yet;
# 2. `systemctl enable --now cohortd` with the example config as shipped: active after READY=1, the
#    node ready, `cohort status` (when the package has the CLI) talks to it;
# 3. the conffile edited to turn clustering on: a single-node Raft group, `cohort kv put/get`;
# 4. `apt remove cohort`: the node is stopped, the binaries and unit gone, config and state kept;
# 5. `apt install` again: the kept state and enablement come back (the key written in 3 reads back);
# 6. `apt purge cohort`: the state and /etc/cohort are gone.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
pristine=${COHORT_DEB_PRISTINE:-/var/tmp/cohort-deb-root}
root=${COHORT_DEB_ROOT:-/var/tmp/cohort-deb-e2e-root}
deb=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb=$(realpath "$2"); shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "deb-e2e.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

# shellcheck source=lib/nspawn.sh
. "$repo/scripts/lib/nspawn.sh"
nspawn_tools

if [ -z "$deb" ]; then
  step "building the package"
  "$repo/scripts/package-deb.sh"
  deb=$(ls -t "$repo"/dist/cohort_*.deb | head -n1)
fi
[ -f "$deb" ] || fail "no package at $deb"

nspawn_debootstrap "$pristine"
step "a clean copy of it in $root"
rm -rf "$root"
cp -a "$pristine" "$root"
install -m 0644 "$deb" "$root/root/"
echo cohort-deb-e2e > "$root/etc/hostname"

nspawn_boot "$root" /tmp/cohort-deb-e2e-console.log
wait_for 60 "systemd up" bash -c "nsenter -t $init -a systemctl is-system-running 2>/dev/null | grep -qE 'running|degraded'"
active() { inside systemctl is-active cohortd 2>/dev/null || true; }
# req METHOD PATH [JSON]: an HTTP request to the node's admin port with bash alone (the container has no
# curl); prints the status code, a space, and the body.
req() {
  inside bash -c 'exec 3<>/dev/tcp/127.0.0.1/7960 || exit 1
    printf "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" "$0" "$1" "${#2}" "$2" >&3
    read -r _ code _ <&3; body=$(sed "1,/^\r\{0,1\}$/d" <&3); echo "$code $body"' "$1" "$2" "${3:-}"
}
running_cohortd() { inside bash -c 'for c in /proc/[0-9]*/comm; do [ "$(cat "$c" 2>/dev/null)" = cohortd ] && exit 0; done; exit 1'; }
name=$(basename "$deb")

step "1. apt install ./$name"
inside bash -c "cd /root && DEBIAN_FRONTEND=noninteractive apt install -y ./$name" 2>&1 | grep -vE '^(WARNING: apt does not|$)' | tail -n 6
inside dpkg -s cohort | grep -E '^(Status|Version|Depends):'
inside getent passwd cohort || fail "no cohort user"
[ "$(inside systemctl show cohortd -p LoadState --value)" = loaded ] || fail "the unit is not loaded"
echo "unit: $(inside systemctl show cohortd -p FragmentPath --value), enabled: $(inside systemctl is-enabled cohortd || true), active: $(active)"
[ "$(active)" = inactive ] || fail "the node started on install"
has_cli=no; inside test -x /usr/bin/cohort && has_cli=yes

step "2. systemctl enable --now cohortd (the example config as shipped)"
t0=$(date +%s.%N)
inside systemctl enable --now cohortd 2>&1 | tail -n 2 ||
  { inside journalctl -u cohortd --no-pager | tail -n 15; fail "systemctl enable --now cohortd failed"; }
wait_for 60 "cohortd active" bash -c "[ \"\$(nsenter -t $init -a systemctl is-active cohortd)\" = active ]"
printf 'active %.2f s after enable --now; StatusText=%s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$(inside systemctl show cohortd -p StatusText --value)"
reply=$(req GET /readyz); [ "${reply%% *}" = 200 ] || fail "/readyz is not 200: $reply"
if [ "$has_cli" = yes ]; then
  inside cohort status || fail "cohort status did not report a ready node"
else
  echo "(this package has no cohort CLI; /readyz: $(req GET /readyz | head -n1))"
fi

step "3. clustering on (the conffile edited): a single-node Raft group"
inside sed -i 's/^  enabled: false/  enabled: true/' /etc/cohort/cohortd.yaml
inside systemctl restart cohortd || { inside journalctl -u cohortd --no-pager | tail -n 15; fail "restart failed"; }
wait_for 60 "cohortd active again" bash -c "[ \"\$(nsenter -t $init -a systemctl is-active cohortd)\" = active ]"
if [ "$has_cli" = yes ]; then
  inside cohort raft
  inside cohort kv put deb/e2e survived
  [ "$(inside cohort kv get deb/e2e)" = survived ] || fail "kv get"
else
  reply=$(req PUT /v1/kv/deb/e2e '{"value":"survived"}'); echo "PUT /v1/kv/deb/e2e: $reply"
  [ "${reply%% *}" = 200 ] || fail "kv put"
fi
echo "state in /var/lib/cohort/_sys: $(inside ls /var/lib/cohort/_sys | tr '\n' ' ')"

step "4. apt remove cohort: stopped, binaries gone, config and state kept"
inside bash -c 'DEBIAN_FRONTEND=noninteractive apt remove -y cohort' 2>&1 | grep -vE '^(WARNING: apt does not|$)' | tail -n 3
[ "$(active)" != active ] || fail "still active after apt remove"
inside test ! -e /usr/bin/cohortd || fail "/usr/bin/cohortd still there"
running_cohortd && fail "a cohortd process is still running"
inside test -f /etc/cohort/cohortd.yaml || fail "the conffile went on remove"
inside test -d /var/lib/cohort/_sys || fail "the state went on remove"
echo "active: $(active); /etc/cohort/cohortd.yaml and /var/lib/cohort kept; dpkg: $(inside dpkg-query -W -f '${db:Status-Abbrev}' cohort)"

step "5. apt install again: the node comes back on its state"
inside bash -c "cd /root && DEBIAN_FRONTEND=noninteractive apt install -y ./$name" 2>&1 | grep -vE '^(WARNING: apt does not|$)' | tail -n 2
echo "enabled: $(inside systemctl is-enabled cohortd || true)"
inside systemctl start cohortd
wait_for 60 "cohortd active after reinstall" bash -c "[ \"\$(nsenter -t $init -a systemctl is-active cohortd)\" = active ]"
inside grep -q '^  enabled: true' /etc/cohort/cohortd.yaml || fail "the edited conffile was replaced"
reply=$(req GET /v1/kv/deb/e2e); echo "GET /v1/kv/deb/e2e: $reply"
[[ "$reply" == 200\ *'"value":"survived"'* ]] || fail "the key did not survive remove + install"
[ "$has_cli" = no ] || [ "$(inside cohort kv get deb/e2e)" = survived ] || fail "cohort kv get after reinstall"

step "6. apt purge cohort: state and configuration gone"
inside bash -c 'DEBIAN_FRONTEND=noninteractive apt purge -y cohort' 2>&1 | grep -vE '^(WARNING: apt does not|$)' | tail -n 3
[ "$(active)" != active ] || fail "still active after purge"
inside test ! -e /var/lib/cohort || fail "/var/lib/cohort kept on purge"
inside test ! -e /etc/cohort || fail "/etc/cohort kept on purge"
inside test ! -e /etc/systemd/system/multi-user.target.wants/cohortd.service || fail "enablement link kept on purge"
echo "purged: /var/lib/cohort, /etc/cohort and the enablement link are gone; the user stays: $(inside getent passwd cohort)"

printf '\nPASS: %s installs, runs, removes and purges under systemd %s\n' "$name" "$(inside systemctl --version | head -n1)"
