#!/bin/bash
# soak-ike.sh ("100k established SAs held with DPD running"):
# cmd/secgw-loadtest establishes N tunnels (PSK, ECP256, AES-GCM-256,
# PRF-SHA256, first child SA) against our engine as responder, on the
# topology of bench-ike.sh (two network namespaces, one veth pair), then
# holds them for HOLD while the responder runs DPD (dpd-delay DPD,
# probe-idle-tunnel) on every IKE SA and the generator answers the probes.
# Prints the responder's resident memory per SA and its CPU time for the
# setups and for the hold (what DPD on N SAs costs), and checks that every
# SA is still up at the end.
#
# Needs root. Environment: N (100000), DPD (30s), HOLD (120s, in seconds),
# CONC (256), SRCS (250), OUT (/tmp/secgw-soak-ike); RESP_FLAGS and
# GEN_FLAGS are added to the responder's and the generator's command lines,
# e.g. a flood of spoofed IKE_SA_INIT requests during the hold against the
# model's DoS defaults:
#   RESP_FLAGS="-cookie-threshold 10 -block-threshold 5"
#   GEN_FLAGS="-flood-rate 5000 -flood-src 10.97.2.1-10.97.2.250"
set -euo pipefail

N=${N:-100000}
DPD=${DPD:-30s}
HOLD=${HOLD:-120s}
case $HOLD in *[0-9]s) ;; *) echo "soak-ike: HOLD must be in seconds, e.g. 120s" >&2; exit 1 ;; esac
CONC=${CONC:-256}
SRCS=${SRCS:-250}
RESP_FLAGS=${RESP_FLAGS:-}
GEN_FLAGS=${GEN_FLAGS:-}
OUT=${OUT:-/tmp/secgw-soak-ike}
PSK=load-test-secret
RESP=10.97.0.2
GEN=10.97.0.1
INNER=10.200.0.0/14
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/test/lib-bench.sh"

die() { echo "soak-ike: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
[ "$SRCS" -ge 1 ] && [ "$SRCS" -le 250 ] || die "SRCS must be 1..250"
[ -x /usr/sbin/ip ] || die "missing /usr/sbin/ip (iproute2)"

rm -rf "$OUT"
mkdir -p "$OUT"
bin=$OUT/secgw-loadtest
(cd "$root" && go build -o "$bin" ./cmd/secgw-loadtest)

ns_g=secgw-soak-$$-g
ns_r=secgw-soak-$$-r
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$ns_g" 2>/dev/null || true
	ip netns del "$ns_r" 2>/dev/null || true
}
trap cleanup EXIT

two_namespaces "$ns_g" "$ns_r" $GEN $RESP 10.97.1 "$SRCS"
for i in $(seq 1 250); do echo "addr add 10.97.2.$i/16 dev veth-g"; done | ip -n "$ns_g" -batch - # for floods


# shellcheck disable=SC2086 # the FLAGS are split on purpose
ip netns exec "$ns_r" "$bin" responder -listen $RESP -psk $PSK -remote-ts $INNER -dpd-delay "$DPD" $RESP_FLAGS \
	>"$OUT/responder.txt" 2>"$OUT/responder.err" &
resp=$!
pids+=("$resp")
for _ in $(seq 100); do
	grep -q READY "$OUT/responder.txt" 2>/dev/null && break
	kill -0 "$resp" 2>/dev/null || die "responder exited: $(cat "$OUT/responder.err")"
	sleep 0.1
done
s0=$("$bin" stat "$resp")
echo "soak-ike: $N tunnels, then a hold of $HOLD with dpd-delay $DPD on the responder" >&2
ip netns exec "$ns_g" "$bin" -remote $RESP -src 10.97.1.1-10.97.1.$SRCS -n "$N" -c "$CONC" -psk $PSK \
	-inner $INNER -hold "$HOLD" -progress 10s $GEN_FLAGS >"$OUT/gen.txt" 2>"$OUT/gen.err" &
gen=$!
pids+=("$gen")
# The setups are over when the generator says "hold:" on stderr.
while kill -0 "$gen" 2>/dev/null && ! grep -q "^hold:" "$OUT/gen.err" 2>/dev/null; do
	sleep 1
done
s1=$("$bin" stat "$resp")
wait "$gen" || true
s2=$("$bin" stat "$resp")
kill -USR1 "$resp"
sleep 0.5
kill -USR2 "$resp" # after a garbage collection
sleep 1
kill -TERM "$resp"
wait "$resp" 2>/dev/null || true
cat "$OUT/gen.txt" >&2
est=$(grep '^RESPONDER' "$OUT/responder.txt" | head -1 | field established)
down=$(grep '^RESPONDER' "$OUT/responder.txt" | head -1 | field ike_down)
gc_rss=$(grep '^RESPONDER' "$OUT/responder.txt" | sed -n 2p | field rss_kb)
answered=$(sed -n 's/.*answered liveness \([0-9]*\).*/\1/p' "$OUT/gen.txt" | head -1)
awk -v n="$N" -v s0="$s0" -v s1="$s1" -v s2="$s2" -v est="${est:-0}" -v down="${down:-0}" -v gc="${gc_rss:-0}" \
	-v answered="${answered:-0}" -v hold="$HOLD" -v dpd="$DPD" '
function kv(s, k,   a, i, m, p) { m = split(s, a, " "); for (i = 1; i <= m; i++) { split(a[i], p, "="); if (p[1] == k) return p[2] } return 0 }
function div(a, b) { return b > 0 ? a / b : 0 }
BEGIN {
	setup_cpu = kv(s1, "cpu_s") - kv(s0, "cpu_s"); hold_cpu = kv(s2, "cpu_s") - kv(s1, "cpu_s")
	printf "\nsoak-ike: %d tunnels held %s with dpd-delay %s on the responder\n", n, hold, dpd
	printf "established at the end %d, IKE SAs down %d, DPD probes answered by the generator %d\n", est, down, answered
	printf "responder RSS: %.1f MB before, %.1f MB after the setups, %.1f MB after the hold, %.1f MB after a GC\n",
		kv(s0, "rss_kb") / 1024, kv(s1, "rss_kb") / 1024, kv(s2, "rss_kb") / 1024, gc / 1024
	printf "responder RSS per SA: %.2f KB after the hold, %.2f KB after a GC\n",
		div(kv(s2, "rss_kb") - kv(s0, "rss_kb"), est), div(gc - kv(s0, "rss_kb"), est)
	printf "responder CPU: %.1f s for the setups (%.3f ms per SA), %.1f s during the hold (%.1f%% of one core, %.2f us per DPD probe)\n",
		setup_cpu, div(setup_cpu * 1000, n), hold_cpu, div(hold_cpu * 100, hold + 0), div(hold_cpu * 1e6, answered)
	printf "SOAK n=%d established=%d down=%d probes=%d rss_kb_per_sa=%.2f rss_gc_kb_per_sa=%.2f setup_cpu_s=%.1f hold_cpu_s=%.1f\n",
		n, est, down, answered, div(kv(s2, "rss_kb") - kv(s0, "rss_kb"), est), div(gc - kv(s0, "rss_kb"), est), setup_cpu, hold_cpu
	if (est != n || down != 0) exit 1
}'
