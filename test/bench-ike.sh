#!/bin/bash
# bench-ike.sh: `make bench-ike`. Establishes N tunnels (IKE_SA_INIT
# + IKE_AUTH with PSK + first child SA; ECP256, AES-GCM-256, PRF-HMAC-SHA256)
# with cmd/secgw-loadtest, first against strongSwan charon, then against our
# engine (secgw-loadtest responder), on the same topology: two network
# namespaces joined by a veth pair. Prints both setup rates, responder CPU
# per SA, resident memory per established SA and the ratios ours/charon.
#
# Needs root (namespaces, mounts) and strongSwan (test/install-strongswan.sh
# installs it). Environment: N (10000), CONC (tunnels in flight, 128), SRCS
# (source addresses, 250), OUT (results directory, /tmp/secgw-bench-ike),
# CHILDLESS=1 (IKE SAs without the first child SA, RFC 6023: compares the
# IKE machinery alone, without charon's child SA install).
#
# charon: kernel-libipsec with `policies = no` and `install_routes = no`:
# child SAs are installed into libipsec's userspace SAD (this kernel has
# XFRM but no ESP, and Debian ships no load-tester plugin with a fake kernel
# interface), no policies and no routes; our responder discards child SAs.
# libipsec keeps its SAD in a linked list searched on every SPI allocation
# and SA add, so charon's cost per SA grows with the number of child SAs:
# CHILDLESS=1 shows charon without it.
# Scale knobs (strongswan.conf below): threads 16, ikesa_table_size 16384,
# ikesa_table_segments 64, init_limit_half_open 0 and init_limit_job_load 0
# (no limit), cookie_threshold and block_threshold 1000000 (never reached),
# logging off.
# Ours, the same (global-options of the responder's configuration):
# threads 16, sa-table-size 16384, sa-table-segments 64, dos-protection
# cookie-threshold 0 and block-threshold 0 (off), the other limits 0 (off),
# log level warn.
set -euo pipefail

N=${N:-10000}
CONC=${CONC:-128}
SRCS=${SRCS:-250}
CHILDLESS=${CHILDLESS:-0}
OUT=${OUT:-/tmp/secgw-bench-ike}
PSK=load-test-secret
RESP=10.98.0.2
GEN=10.98.0.1
INNER=10.200.0.0/16
root=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "bench-ike: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, bind mounts)"
[ "$SRCS" -ge 1 ] && [ "$SRCS" -le 250 ] || die "SRCS must be 1..250"
"$root/test/install-strongswan.sh" >/dev/null
for f in /usr/lib/ipsec/charon /usr/sbin/swanctl /usr/sbin/ip \
	/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so /dev/net/tun; do
	[ -e "$f" ] || die "missing $f (test/install-strongswan.sh)"
done

rm -rf "$OUT"
mkdir -p "$OUT/run"
bin=$OUT/secgw-loadtest
(cd "$root" && go build -o "$bin" ./cmd/secgw-loadtest)

ns_g=secgw-bench-$$-g
ns_r=secgw-bench-$$-r
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$ns_g" 2>/dev/null || true
	ip netns del "$ns_r" 2>/dev/null || true
}
trap cleanup EXIT

# Topology: generator namespace with GEN and SRCS source addresses,
# responder namespace with RESP, one veth pair.
ip netns add "$ns_g"
ip netns add "$ns_r"
ip link add veth-g netns "$ns_g" type veth peer name veth-r netns "$ns_r"
ip -n "$ns_g" link set lo up
ip -n "$ns_r" link set lo up
ip -n "$ns_g" addr add $GEN/16 dev veth-g
ip -n "$ns_r" addr add $RESP/16 dev veth-r
for i in $(seq 1 "$SRCS"); do echo "addr add 10.98.1.$i/16 dev veth-g"; done | ip -n "$ns_g" -batch -
ip -n "$ns_g" link set veth-g up
ip -n "$ns_r" link set veth-r up
srcs=10.98.1.1-10.98.1.$SRCS

childless=
what="PSK + ECP256/AES-GCM-256/PRF-SHA256 + first child SA (AES-GCM-256)"
if [ "$CHILDLESS" = 1 ]; then
	childless=-childless
	what="PSK + ECP256/AES-GCM-256/PRF-SHA256, childless (RFC 6023, no child SA)"
fi

# stat PID prints "cpu_s=.. rss_kb=.." of a process.
stat() { "$bin" stat "$1"; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" | head -1; }

# generate NAME runs the generator against RESP and keeps its report.
generate() {
	ip netns exec "$ns_g" "$bin" -remote $RESP -src "$srcs" -n "$N" -c "$CONC" \
		-psk $PSK -inner $INNER -progress 0 $childless >"$OUT/gen-$1.txt" 2>&1 || true
	cat "$OUT/gen-$1.txt" >&2
}

# ---- charon ----
cat >"$OUT/strongswan.conf" <<EOF
charon {
	load_modular = no
	load = random nonce drbg openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici
	threads = 16
	ikesa_table_size = 16384
	ikesa_table_segments = 64
	init_limit_half_open = 0
	init_limit_job_load = 0
	cookie_threshold = 1000000
	block_threshold = 1000000
	install_routes = no
	install_virtual_ip = no
	filelog {
		bench {
			path = $OUT/charon.log
			default = -1
		}
	}
	syslog {
		daemon {
			default = -1
		}
	}
	plugins {
		vici {
			socket = unix://$OUT/charon.vici
		}
	}
}
EOF
cat >"$OUT/swanctl.conf" <<EOF
connections {
	load {
		version = 2
		local_addrs = $RESP
		proposals = aes256gcm16-prfsha256-ecp256
		unique = no
		local {
			auth = psk
			id = gw.load.test
		}
		remote {
			auth = psk
		}
		children {
			net {
				local_ts = 0.0.0.0/0
				remote_ts = $INNER
				esp_proposals = aes256gcm16
				policies = no
				start_action = none
			}
		}
	}
}
secrets {
	ike-load {
		secret = "$PSK"
	}
}
EOF
uri=unix://$OUT/charon.vici
STRONGSWAN_CONF=$OUT/strongswan.conf ip netns exec "$ns_r" sh -c 'mount --bind "$1" /run && exec "$2"' \
	sh "$OUT/run" /usr/lib/ipsec/charon >"$OUT/charon.out" 2>&1 &
charon=$! # ip and sh exec: this is charon's pid
pids+=("$charon")
for _ in $(seq 100); do
	swanctl --stats --uri "$uri" >/dev/null 2>&1 && break
	kill -0 "$charon" 2>/dev/null || die "charon exited: $(cat "$OUT/charon.out")"
	sleep 0.1
done
swanctl --load-all --file "$OUT/swanctl.conf" --uri "$uri" >"$OUT/swanctl-load.txt" 2>&1 ||
	die "swanctl --load-all failed: $(cat "$OUT/swanctl-load.txt")"
c0=$(stat "$charon")
echo "bench-ike: charon responder, $N tunnels" >&2
generate charon
sleep 1
c1=$(stat "$charon")
c_sas=$(swanctl --stats --uri "$uri" | sed -n 's/.*IKE_SAs: \([0-9]*\) total, \([0-9]*\) half-open.*/\1 \2/p')
c_est=$(( ${c_sas% *} - ${c_sas#* } ))
kill "$charon"
wait "$charon" 2>/dev/null || true

# ---- our engine ----
ip netns exec "$ns_r" "$bin" responder -listen $RESP -psk $PSK -remote-ts $INNER \
	-threads 16 -sa-table-size 16384 -sa-table-segments 64 -cookie-threshold 0 -block-threshold 0 \
	-cpuprofile "$OUT/responder.cpu" -memprofile "$OUT/responder.mem" >"$OUT/responder.txt" 2>"$OUT/responder.err" &
ours=$!
pids+=("$ours")
for _ in $(seq 100); do
	grep -q READY "$OUT/responder.txt" 2>/dev/null && break
	kill -0 "$ours" 2>/dev/null || die "responder exited: $(cat "$OUT/responder.err")"
	sleep 0.1
done
o0=$(stat "$ours")
echo "bench-ike: secgw engine responder, $N tunnels" >&2
generate ours
sleep 1
o1=$(stat "$ours")
kill -USR1 "$ours"
sleep 0.5
kill -USR2 "$ours" # after a garbage collection
sleep 1
kill -TERM "$ours"
wait "$ours" 2>/dev/null || true
o_est=$(grep '^RESPONDER' "$OUT/responder.txt" | head -1 | field established)
o_gc_rss=$(grep '^RESPONDER' "$OUT/responder.txt" | sed -n 2p | field rss_kb)

# ---- report ----
cg=$(field rate <"$OUT/gen-charon.txt")
og=$(field rate <"$OUT/gen-ours.txt")
awk -v n="$N" -v what="$what" -v childless="$CHILDLESS" -v crate="${cg:-0}" -v orate="${og:-0}" -v ce="$c_est" -v oe="${o_est:-0}" \
	-v c0="$c0" -v c1="$c1" -v o0="$o0" -v o1="$o1" -v ogc="${o_gc_rss:-0}" \
	-v cl="$(field p50_ms <"$OUT/gen-charon.txt")/$(field p99_ms <"$OUT/gen-charon.txt")" \
	-v ol="$(field p50_ms <"$OUT/gen-ours.txt")/$(field p99_ms <"$OUT/gen-ours.txt")" \
	-v cgc="$(field gen_cpu_s <"$OUT/gen-charon.txt")" -v ogcpu="$(field gen_cpu_s <"$OUT/gen-ours.txt")" '
function kv(s, k,   a, i, n, p) { n = split(s, a, " "); for (i = 1; i <= n; i++) { split(a[i], p, "="); if (p[1] == k) return p[2] } return 0 }
function div(a, b) { return b > 0 ? a / b : 0 }
BEGIN {
	ccpu = div((kv(c1, "cpu_s") - kv(c0, "cpu_s")) * 1000, ce); ocpu = div((kv(o1, "cpu_s") - kv(o0, "cpu_s")) * 1000, oe)
	crss = div(kv(c1, "rss_kb") - kv(c0, "rss_kb"), ce);    orss = div(kv(o1, "rss_kb") - kv(o0, "rss_kb"), oe)
	orssgc = div(ogc - kv(o0, "rss_kb"), oe)
	printf "\nbench-ike: %d tunnels, %s\n", n, what
	printf "%-34s %14s %14s %12s\n", "", "charon 5.9.8", "secgw engine", "ours/charon"
	printf "%-34s %14.1f %14.1f %11.2fx\n", "setups/s", crate, orate, div(orate, crate)
	printf "%-34s %14d %14d\n", "established IKE SAs (responder)", ce, oe
	printf "%-34s %14s %14s\n", "setup latency p50/p99 ms", cl, ol
	printf "%-34s %14.3f %14.3f %11.2fx\n", "responder CPU ms per SA", ccpu, ocpu, div(ocpu, ccpu)
	printf "%-34s %14.2f %14.2f %11.2fx\n", "responder RSS KB per SA", crss, orss, div(orss, crss)
	printf "%-34s %14s %14.2f\n", "  ours after a forced GC", "", orssgc
	printf "%-34s %14.3f %14.3f\n", "generator CPU ms per tunnel", div(cgc * 1000, n), div(ogcpu * 1000, n)
	printf "targets: rate >= 3x charon: %s (%.2fx); RSS <= 4 KB per SA: %s (%.2f KB)\n",
		(div(orate, crate) >= 3 ? "met" : "NOT met"), div(orate, crate), (orss <= 4 ? "met" : "NOT met"), orss
	printf "BENCH n=%d childless=%s charon_rate=%.1f ours_rate=%.1f ratio=%.2f charon_cpu_ms=%.3f ours_cpu_ms=%.3f charon_rss_kb=%.2f ours_rss_kb=%.2f ours_rss_gc_kb=%.2f\n",
		n, childless, crate, orate, div(orate, crate), ccpu, ocpu, crss, orss, orssgc
}'
echo "bench-ike: reports, logs and the responder's profiles (go tool pprof $bin $OUT/responder.cpu) are in $OUT"
