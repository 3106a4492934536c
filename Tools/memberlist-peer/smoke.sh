#!/usr/bin/env bash
# Smoke test for Tools/memberlist-peer: three Go memberlist 0.2.2 nodes on loopback.
#
#   Tools/memberlist-peer/smoke.sh [plain] [key] [nocompress]      (default: all three)
#
# Per variant:
#  A. start go1-go3 on ${IP_PREFIX}.1-3:7946 (HTTP on port 7999 of each IP), wait until every peer sees
#     3 alive members, send a user message (POST /broadcast -> SendReliable) from go1 and wait until go2
#     and go3 count it; [key variant: a peer without the key must fail to join]; SIGKILL go3 and time
#     until go1 and go2 both report it "dead" (not "left"); SIGTERM go1 and go2 (must exit 0).
#  B. start go4-go6 on ${IP_PREFIX}.4-6, wait for 3 alive everywhere, POST /leave to go5 and wait until
#     go4 and go6 report it "left"; SIGTERM go6 and wait until go4 reports it "left"; SIGTERM go4.
# Every wait polls with a deadline; every process is cleaned up by PID.
#
# Environment: CONFIG=lan|local (default lan), IP_PREFIX (default 127.0.99), BIN (skip the build),
#              KEEP=1 keeps the log directory even on success.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFIG="${CONFIG:-lan}"
IP_PREFIX="${IP_PREFIX:-127.0.99}"
PORT=7946
HTTP_PORT=7999

case "$IP_PREFIX" in 127.*) ;; *) echo "IP_PREFIX must be in 127.0.0.0/8" >&2; exit 2 ;; esac
for tool in curl jq; do command -v "$tool" >/dev/null || { echo "smoke.sh needs $tool (apt-get install -y $tool)" >&2; exit 2; }; done

BIN="${BIN:-$("$here/build.sh")}"
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 2; }

variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(plain key nocompress)

logdir="$(mktemp -d "${TMPDIR:-/tmp}/memberlist-peer-smoke.XXXXXX")"
declare -a PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
}
trap 'cleanup' EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

fail() {
	echo "FAIL [$variant]: $*" >&2
	echo "logs: $logdir" >&2
	KEEP=1
	exit 1
}

# wait_until <seconds> <description> <command...>: polls every 50 ms until the command succeeds.
wait_until() {
	local secs=$1 what=$2
	shift 2
	local deadline=$(($(now_ns) + secs * 1000000000)) i
	for ((i = 0; i < secs * 40 + 1; i++)); do
		"$@" && return 0
		[ "$(now_ns)" -lt "$deadline" ] || break
		sleep 0.05
	done
	fail "timed out after ${secs}s waiting for: $what"
}

ip_of() { echo "$IP_PREFIX.$1"; }
http_of() { echo "http://$(ip_of "$1"):$HTTP_PORT"; }

# state_of <observer> <node-name>: prints the node's state in the observer's view ("absent" if unknown).
state_of() {
	curl -sf --max-time 1 "$(http_of "$1")/members" 2>/dev/null |
		jq -r --arg n "$2" '(map(select(.name == $n)) | .[0].state) // "absent"' 2>/dev/null || echo "unreachable"
}
alive_count() {
	curl -sf --max-time 1 "$(http_of "$1")/members" 2>/dev/null | jq '[.[] | select(.state == "alive")] | length' 2>/dev/null || echo 0
}
user_msgs() {
	curl -sf --max-time 1 "$(http_of "$1")/health" 2>/dev/null | jq '.user_msgs' 2>/dev/null || echo 0
}

sees_n_alive() { [ "$(alive_count "$1")" = "$2" ]; }
got_user_msg() { [ "$(user_msgs "$1")" -ge 1 ]; }
state_is() { [ "$(state_of "$1" "$2")" = "$3" ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# wait_exit <pid> <seconds>: waits (bounded) for a child we started; sets EXIT_RC to its exit code.
# Must run in the main shell (not in $(...)): only the parent can reap its child.
wait_exit() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 20; i++)); do
		gone "$pid" && break
		sleep 0.05
	done
	gone "$pid" || return 1
	EXIT_RC=0
	wait "$pid" || EXIT_RC=$?
}

start_peer() { # start_peer <i> <extra flags...>
	local i=$1
	shift
	local ip
	ip="$(ip_of "$i")"
	if ss -Hlnu "src $ip:$PORT" 2>/dev/null | grep -q . || ss -Hlnt "src $ip:$PORT" 2>/dev/null | grep -q .; then
		fail "$ip:$PORT is already in use (another test running? set IP_PREFIX)"
	fi
	"$BIN" -name "go$i" -bind "$ip" -port "$PORT" -http "$ip:$HTTP_PORT" -config "$CONFIG" -meta "peer-$i" "$@" \
		>"$logdir/$variant.go$i.out" 2>"$logdir/$variant.go$i.err" &
	PIDS[$i]=$!
}

declare -a summary=()

run_variant() {
	variant=$1
	local flags=()
	case "$variant" in
	plain) ;;
	key) flags=(-key "$(head -c 32 /dev/urandom | base64)") ;;
	nocompress) flags=(-compress=false) ;;
	*) echo "unknown variant $variant (plain|key|nocompress)" >&2; exit 2 ;;
	esac
	echo "== variant $variant (config $CONFIG)"

	# ---- Phase A: go1-go3, user message, SIGKILL go3 -> dead everywhere -------------------------
	local seed t resp i s
	seed="$(ip_of 1):$PORT"
	start_peer 1 "${flags[@]}"
	start_peer 2 "${flags[@]}" -join "$seed"
	start_peer 3 "${flags[@]}" -join "$seed"
	t=$(now_ns)
	for i in 1 2 3; do wait_until 30 "go$i sees 3 alive members" sees_n_alive "$i" 3; done
	echo "   converged: go1-go3 all see 3 alive members after $(ms_since "$t") ms"

	resp="$(curl -sf --max-time 5 -X POST "$(http_of 1)/broadcast?msg=smoke-$variant")" || fail "POST /broadcast failed"
	[ "$(jq '.sent | length' <<<"$resp")" = 2 ] || fail "broadcast response: $resp"
	for i in 2 3; do wait_until 10 "go$i counts a user message" got_user_msg "$i"; done
	echo "   user message (SendReliable) from go1 reached go2 and go3"

	if [ "$variant" = key ]; then
		# A peer without the key must not get in (memberlist's GossipVerifyIncoming is on by default).
		start_peer 7 -join "$seed" -join-timeout 1s
		wait_exit "${PIDS[7]}" 15 || fail "keyless go7 still running"
		[ "$EXIT_RC" != 0 ] || fail "keyless go7 joined an encrypted cluster"
		[ "$(state_of 1 go7)" = absent ] || fail "go1 lists keyless go7"
		echo "   keyless go7 was refused (exit $EXIT_RC), go1 does not list it"
	fi

	local t0
	t0=$(now_ns)
	{ kill -KILL "${PIDS[3]}" && wait "${PIDS[3]}"; } 2>/dev/null || true # (quiet: no "Killed" job notice)
	local -A suspect_ms=() dead_ms=()
	local deadline=$((t0 + 90 * 1000000000)) iter
	for ((iter = 0; iter < 3000; iter++)); do
		for i in 1 2; do
			[ -n "${dead_ms[$i]:-}" ] && continue
			s="$(state_of "$i" go3)"
			case "$s" in
			alive) ;;
			suspect) [ -n "${suspect_ms[$i]:-}" ] || suspect_ms[$i]=$(ms_since "$t0") ;;
			dead) dead_ms[$i]=$(ms_since "$t0") ;;
			*) fail "go$i reports go3 as '$s' after SIGKILL (expected suspect, then dead)" ;;
			esac
		done
		[ -n "${dead_ms[1]:-}" ] && [ -n "${dead_ms[2]:-}" ] && break
		[ "$(now_ns)" -lt "$deadline" ] || fail "go3 not dead everywhere within 90 s"
		sleep 0.02
	done
	[ -n "${dead_ms[1]:-}" ] && [ -n "${dead_ms[2]:-}" ] || fail "go3 not dead everywhere"
	local all=$((dead_ms[1] > dead_ms[2] ? dead_ms[1] : dead_ms[2]))
	echo "   SIGKILL go3 -> suspect: go1 ${suspect_ms[1]:-n/a} ms, go2 ${suspect_ms[2]:-n/a} ms;" \
		"dead: go1 ${dead_ms[1]} ms, go2 ${dead_ms[2]} ms"
	echo "   KILL->DEAD everywhere: ${all} ms"
	for i in 1 2; do
		grep -q '"event":"leave","node":"go3".*"state":"dead"' "$logdir/$variant.go$i.out" ||
			fail "go$i's event stream has no leave/dead line for go3"
	done

	for i in 1 2; do kill -TERM "${PIDS[$i]}"; done
	for i in 1 2; do
		wait_exit "${PIDS[$i]}" 15 || fail "go$i did not exit on SIGTERM"
		[ "$EXIT_RC" = 0 ] || fail "go$i exited with $EXIT_RC on SIGTERM"
	done
	echo "   SIGTERM go1, go2: both exited 0"

	# ---- Phase B: fresh go4-go6, graceful leaves -> "left" -----------------------------------------
	# A separate cluster on purpose: right after a death, memberlist 0.2.2 can spend all of a leave's
	# few retransmissions on the recently-dead node (it still gets gossip for GossipToTheDeadTime),
	# and the survivors then never hear the leave (see README).
	seed="$(ip_of 4):$PORT"
	start_peer 4 "${flags[@]}"
	start_peer 5 "${flags[@]}" -join "$seed"
	start_peer 6 "${flags[@]}" -join "$seed"
	for i in 4 5 6; do wait_until 30 "go$i sees 3 alive members" sees_n_alive "$i" 3; done

	# POST /leave answers only after Leave + propagate delay + Shutdown, so it runs in the background
	# while the survivors are polled.
	t=$(now_ns)
	curl -sf --max-time 15 -X POST "$(http_of 5)/leave" >"$logdir/$variant.leave.json" 2>&1 &
	PIDS[8]=$!
	for i in 4 6; do wait_until 15 "go$i reports go5 as left" state_is "$i" go5 left; done
	local leave_ms
	leave_ms=$(ms_since "$t")
	wait_exit "${PIDS[8]}" 20 || fail "POST /leave did not return"
	[ "$EXIT_RC" = 0 ] || fail "POST /leave failed (curl exit $EXIT_RC)"
	[ "$(jq -r '.left' "$logdir/$variant.leave.json")" = true ] || fail "leave response: $(cat "$logdir/$variant.leave.json")"
	wait_exit "${PIDS[5]}" 10 || fail "go5 did not exit after POST /leave"
	[ "$EXIT_RC" = 0 ] || fail "go5 exited with $EXIT_RC after POST /leave"
	echo "   POST /leave go5: go4 and go6 report go5 'left' after ${leave_ms} ms; go5 exited 0"

	kill -TERM "${PIDS[6]}"
	wait_until 15 "go4 reports go6 as left" state_is 4 go6 left
	wait_exit "${PIDS[6]}" 10 || fail "go6 did not exit on SIGTERM"
	[ "$EXIT_RC" = 0 ] || fail "go6 exited with $EXIT_RC on SIGTERM"
	for n in go5 go6; do
		grep -q '"event":"leave","node":"'$n'".*"state":"left"' "$logdir/$variant.go4.out" ||
			fail "go4's event stream has no leave/left line for $n"
	done
	echo "   SIGTERM go6: go4 reports go6 'left'; go6 exited 0"

	kill -TERM "${PIDS[4]}"
	wait_exit "${PIDS[4]}" 10 || fail "go4 did not exit on SIGTERM"
	[ "$EXIT_RC" = 0 ] || fail "go4 exited with $EXIT_RC on SIGTERM"
	PIDS=()
	summary+=("$variant: kill->dead everywhere ${all} ms (go1 ${dead_ms[1]}, go2 ${dead_ms[2]}); leave->left ${leave_ms} ms")
}

for v in "${variants[@]}"; do run_variant "$v"; done

echo "== PASS (config $CONFIG, binary $BIN)"
for line in "${summary[@]}"; do echo "   $line"; done
if [ "${KEEP:-0}" = 1 ]; then echo "logs: $logdir"; else rm -rf "$logdir"; fi
