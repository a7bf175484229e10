#!/bin/bash
# bench-vip.sh: `make bench-vip`. N road warriors (secgw-loadtest -vip:
# IKE_SA_INIT + IKE_AUTH with CFG_REQUEST(INTERNAL_IP4_ADDRESS) + first
# child SA, TSi 0.0.0.0/0; ECP256, AES-GCM-256, PRF-HMAC-SHA256, PSK)
# against secgwd (userspace dataplane, configured over NETCONF with one
# VPN whose vip-pool is one ike pool of POOL), on two network namespaces
# joined by a veth pair. Then secgwd is stopped (SIGTERM) and started
# again on the same data directory, and the same N identities connect
# again. It prints the setup rate of both runs and the restart time, and
# fails unless every tunnel of both runs got a virtual IP, all N distinct
# (no address given twice), and each identity got in the second run the
# address it had in the first (the leases survived the restart: the
# pool's first addresses would otherwise go to whoever comes first).
#
# Needs root (namespaces). Environment: N (10000), CONC (tunnels in
# flight, 128), SRCS (source addresses, 250), POOL (10.100.0.0/16), OUT
# (results directory, /tmp/secgw-bench-vip).
set -euo pipefail

N=${N:-10000}
CONC=${CONC:-128}
SRCS=${SRCS:-250}
POOL=${POOL:-10.100.0.0/16}
OUT=${OUT:-/tmp/secgw-bench-vip}
PSK=load-test-secret
RESP=10.98.0.2
GEN=10.98.0.1
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/test/lib-bench.sh"

die() { echo "bench-vip: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
for f in /usr/sbin/ip /dev/net/tun; do [ -e "$f" ] || die "missing $f"; done

rm -rf "$OUT"
mkdir -p "$OUT"
bin=$OUT/secgw-loadtest
(cd "$root" && go build -o "$OUT/" ./cmd/secgw-loadtest ./cmd/secgwd)

ns_g=secgw-pools-vip-$$-g
ns_r=secgw-pools-vip-$$-r
secgwd=
cleanup() {
	[ -n "$secgwd" ] && kill "$secgwd" 2>/dev/null && wait "$secgwd" 2>/dev/null
	ip netns del "$ns_g" 2>/dev/null || true
	ip netns del "$ns_r" 2>/dev/null || true
}
trap cleanup EXIT

two_namespaces "$ns_g" "$ns_r" $GEN $RESP 10.98.1 "$SRCS"


# start_secgwd starts secgwd on $OUT/data and waits until NETCONF answers.
pw=
start_secgwd() {
	ip netns exec "$ns_r" "$OUT/secgwd" -dir "$OUT/data" -listen 127.0.0.1:830 -dataplane userspace \
		-no-syslog -log-level warn >>"$OUT/secgwd.log" 2>&1 &
	secgwd=$!
	for _ in $(seq 600); do
		[ -n "$pw" ] || pw=$(sed -n 's/.*created user admin with password \(\S*\) .*/\1/p' "$OUT/secgwd.log")
		[ -n "$pw" ] && SECGW_PASSWORD=$pw ip netns exec "$ns_r" "$bin" secgwd-count -netconf 127.0.0.1:830 >/dev/null 2>&1 && return 0
		kill -0 "$secgwd" 2>/dev/null || die "secgwd exited: $(tail -20 "$OUT/secgwd.log")"
		sleep 0.1
	done
	die "secgwd did not answer NETCONF"
}

generate() {
	ip netns exec "$ns_g" "$bin" -remote $RESP -src "10.98.1.1-10.98.1.$SRCS" -n "$N" -c "$CONC" \
		-psk $PSK -vip -vip-out "$OUT/vips-$1.txt" -progress 0 >"$OUT/gen-$1.txt" 2>&1 || true
	cat "$OUT/gen-$1.txt" >&2
}

start_secgwd
SECGW_PASSWORD=$pw ip netns exec "$ns_r" "$bin" secgwd-config -netconf 127.0.0.1:830 -listen $RESP -psk $PSK \
	-pool "$POOL" -threads 16 -sa-table-size 16384 -sa-table-segments 64 -cookie-threshold 0 -block-threshold 0 \
	>"$OUT/config.txt" 2>&1 || die "configuring secgwd: $(cat "$OUT/config.txt")"
echo "bench-vip: $N road warriors asking for a virtual IP of $POOL, secgwd (userspace dataplane)" >&2
generate first

t0=$(date +%s.%N)
kill "$secgwd"
wait "$secgwd" 2>/dev/null || true
start_secgwd
t1=$(date +%s.%N)
echo "bench-vip: secgwd restarted; the same $N identities again" >&2
generate second

fails=()
for run in first second; do
	got=$(field got <"$OUT/gen-$run.txt")
	distinct=$(field distinct <"$OUT/gen-$run.txt")
	[ "${got:-0}" -eq "$N" ] || fails+=("$run run: ${got:-0} of $N tunnels got a virtual IP")
	[ "${distinct:-0}" -eq "$N" ] || fails+=("$run run: ${distinct:-0} distinct virtual IPs of $N")
done
same=$(sort "$OUT/vips-first.txt" | comm -12 - <(sort "$OUT/vips-second.txt") | wc -l)
[ "$same" -eq "$N" ] || fails+=("only $same of $N identities got the same address after the restart")
leases=$(wc -c <"$OUT/data/pools/leases")

printf '\nbench-vip: %d road warriors, one pool (%s), secgwd with the userspace dataplane\n' "$N" "$POOL"
printf 'first run:  setups/s %s, virtual IPs %s (distinct %s)\n' "$(field rate <"$OUT/gen-first.txt")" \
	"$(field got <"$OUT/gen-first.txt")" "$(field distinct <"$OUT/gen-first.txt")"
printf 'restart:    %.2f s (SIGTERM to NETCONF answering again, leases read back)\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
printf 'second run: setups/s %s, virtual IPs %s (distinct %s), the same address as before for %d of %d identities\n' \
	"$(field rate <"$OUT/gen-second.txt")" "$(field got <"$OUT/gen-second.txt")" "$(field distinct <"$OUT/gen-second.txt")" "$same" "$N"
printf 'lease file: %s octets\n' "$leases"
if [ ${#fails[@]} -gt 0 ]; then
	printf 'bench-vip: FAIL: %s\n' "${fails[@]}" >&2
	exit 1
fi
echo "bench-vip: PASS"
