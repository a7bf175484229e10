#!/bin/bash
# bench-esp.sh: `make bench-esp`. ESP throughput of secgw's
# userspace dataplane against strongSwan's kernel-libipsec, on the same
# topology: two network namespaces joined by a veth pair, one host address
# of each protected network on loopback, an IKEv2 tunnel (PSK, AES-GCM-128
# for ESP, ESP in UDP on both: kernel-libipsec and secgwd's userspace
# dataplane always encapsulate), and iperf3 TCP from one protected address
# to the other, through the tunnel.
#
#   10.1.0.1 [A] 192.0.2.1 ---veth--- 192.0.2.2 [B] 10.2.0.1
#
# Three runs, each on a fresh topology:
#   secgw  <-> secgw   secgwd (-dataplane userspace) on both ends
#   charon <-> charon  charon (kernel-libipsec) on both ends
#   secgw  <-> charon  mixed, for information (bounded by the slower end)
# It prints the throughputs and the ratio secgw/charon (target >= 5), then
# runs internal/esp's BenchmarkESPvsRawGCM (ESP seal+open of 1400-octet
# packets against raw crypto/cipher AES-GCM, target >= 0.7) and prints its
# ratio, and the userspace dataplane's BenchmarkInboundWorkers (inbound
# ESP of 8 SAs opened by two workers against the reader alone).
#
# Needs root (namespaces, TUN devices, mounts), strongSwan
# (test/install-strongswan.sh) and iperf3 (installed here if missing, as
# test/install-deps.sh does). Environment: DURATION (seconds of each
# iperf3 run, 10), STREAMS (parallel TCP streams, 1), OUT (work directory,
# /tmp/secgw-bench-esp), BENCHTIME (of the micro benchmark, 2s), STRICT=1
# (exit 1 when a target is missed).
set -euo pipefail

DURATION=${DURATION:-10}
STREAMS=${STREAMS:-1}
OUT=${OUT:-/tmp/secgw-bench-esp}
BENCHTIME=${BENCHTIME:-2s}
STRICT=${STRICT:-0}
PSK=bench-esp-secret-0123456789
CHARON=/usr/lib/ipsec/charon
root=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "bench-esp: $*" >&2; exit 1; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN devices, bind mounts)"
if ! command -v iperf3 >/dev/null; then
	echo "bench-esp: installing iperf3"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iperf3 >/dev/null ||
		die "cannot install iperf3 (apt-get install iperf3)"
fi
"$root/test/install-strongswan.sh" >/dev/null
for f in $CHARON /usr/sbin/swanctl /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so /dev/net/tun; do
	[ -e "$f" ] || die "missing $f (test/install-strongswan.sh)"
done

rm -rf "$OUT"
mkdir -p "$OUT/bin"
(cd "$root" && go build -o "$OUT/bin/" ./cmd/secgwd ./cmd/secgw)

A=secgw-besp-$$-a
B=secgw-besp-$$-b
pids=()
teardown() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
}
trap teardown EXIT

# topology creates both namespaces, the veth pair and the addresses.
topology() {
	teardown
	ip netns add $A
	ip netns add $B
	ip link add besp-a netns $A type veth peer name besp-b netns $B
	ip -n $A addr add 192.0.2.1/24 dev besp-a
	ip -n $B addr add 192.0.2.2/24 dev besp-b
	for ns in $A $B; do ip -n $ns link set lo up; done
	ip -n $A link set besp-a up
	ip -n $B link set besp-b up
	ip -n $A addr add 10.1.0.1/32 dev lo
	ip -n $B addr add 10.2.0.1/32 dev lo
}

# secgwd NS DIR: starts secgwd (userspace dataplane) in NS, NETCONF on
# 127.0.0.1:830 inside it; the admin password goes to DIR/password.
secgwd() {
	mkdir -p "$2"
	ip netns exec "$1" "$OUT/bin/secgwd" -dir "$2/data" -listen 127.0.0.1:830 -dataplane userspace \
		-no-syslog -log-level 0 2>"$2/log" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q "secgwd running" "$2/log" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "secgwd running" "$2/log" || { cat "$2/log"; die "secgwd in $1 did not start"; }
	sed -n 's/.*created user admin with password \([^ ]*\) .*/\1/p' "$2/log" >"$2/password"
}

# cli NS DIR ARGS...: the secgw CLI against the secgwd of NS.
cli() {
	local ns=$1 dir=$2
	shift 2
	SECGW_PASSWORD=$(cat "$dir/password") ip netns exec "$ns" "$OUT/bin/secgw" -host 127.0.0.1 -port 830 -history "" "$@"
}

# secgw_config NS DIR LOCAL REMOTE LNET RNET [initiator]: one VPN, one
# security policy "net", AES-GCM-128 for IKE and ESP.
secgw_config() {
	local p="/ vrf main ike vpn bench"
	local remote=""
	[ "${7:-}" = initiator ] && remote="remote-address $4"
	cli "$1" "$2" >/dev/null <<CFG
edit running
$p local-address $3 $remote local-id $3 remote-id $4
$p ike-policy pre-shared-key $PSK
$p ike-policy ike-proposal 1 aead-alg aes128-gcm-128 prf-alg hmac-sha256 dh-group ecp256
$p ipsec-policy esp-proposal 1 aead-alg aes128-gcm-128
$p security-policy net local-ts subnet $5
$p security-policy net remote-ts subnet $6
commit
CFG
}

# charon NS DIR: starts charon (kernel-libipsec) in NS with a private
# strongswan.conf, /run and vici socket in DIR, logging only errors.
charon() {
	mkdir -p "$2/run"
	(cd "$2" && mkdir -p x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12)
	cat >"$2/strongswan.conf" <<CONF
charon {
	load_modular = no
	load = random nonce drbg openssl aes sha1 sha2 hmac gcm gmp curve25519 kdf pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici counters
	filelog {
		bench {
			path = $2/charon.log
			default = 0
		}
	}
	syslog {
		daemon {
			default = -1
		}
	}
	plugins {
		vici {
			socket = unix://$2/charon.vici
		}
	}
}
CONF
	STRONGSWAN_CONF=$2/strongswan.conf ip netns exec "$1" \
		sh -c 'mount --bind "$1" /run && exec "$2"' sh "$2/run" $CHARON >"$2/out" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		swanctl --stats --uri "unix://$2/charon.vici" >/dev/null 2>&1 && return
		sleep 0.1
	done
	cat "$2/out"
	die "charon in $1 did not start"
}

# charon_config DIR LOCAL REMOTE LNET RNET: connection "bench", child
# "net", AES-GCM-128 for IKE and ESP.
charon_config() {
	cat >"$1/swanctl.conf" <<CONF
connections {
	bench {
		version = 2
		local_addrs = $2
		remote_addrs = $3
		proposals = aes128gcm16-prfsha256-ecp256
		local {
			auth = psk
			id = $2
		}
		remote {
			auth = psk
			id = $3
		}
		children {
			net {
				local_ts = $4
				remote_ts = $5
				esp_proposals = aes128gcm16
			}
		}
	}
}
secrets {
	ike-bench {
		id-1 = $2
		id-2 = $3
		secret = "$PSK"
	}
}
CONF
	swanctl --load-all --file "$1/swanctl.conf" --uri "unix://$1/charon.vici" >/dev/null
}

# iperf: TCP from 10.1.0.1 (A) to 10.2.0.1 (B) through the tunnel;
# prints the receiver's throughput in Mbit/s.
iperf() {
	local dir=$1
	# A ping first: the tunnel must carry traffic before it is measured.
	ip netns exec $A ping -q -c 2 -i 0.2 -W 2 -I 10.1.0.1 10.2.0.1 >"$dir/ping" ||
		{ cat "$dir/ping"; die "no traffic through the tunnel ($dir)"; }
	ip netns exec $B iperf3 -s -1 -B 10.2.0.1 >"$dir/iperf-server" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		ip netns exec $B ss -ltn | grep -q '10.2.0.1:5201' && break
		sleep 0.1
	done
	ip netns exec $A iperf3 -c 10.2.0.1 -B 10.1.0.1 -t "$DURATION" -P "$STREAMS" -f m >"$dir/iperf" 2>&1 ||
		{ cat "$dir/iperf"; die "iperf3 failed ($dir)"; }
	# The receiver's summary: the [SUM] line with several streams.
	awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i+1) == "Mbits/sec") v = $i } END { print v }' "$dir/iperf"
}

say "secgw <-> secgw: secgwd's userspace ESP on both ends"
topology
secgwd $A "$OUT/ss/a"
secgwd $B "$OUT/ss/b"
secgw_config $A "$OUT/ss/a" 192.0.2.1 192.0.2.2 10.1.0.0/24 10.2.0.0/24 initiator
secgw_config $B "$OUT/ss/b" 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24
cli $A "$OUT/ss/a" cmd ike initiate child-sa security-policy net
secgw=$(iperf "$OUT/ss")
cli $A "$OUT/ss/a" show ike ike-sa details | sed -n '/net:/,/out /p'
echo "secgw <-> secgw: $secgw Mbit/s"

say "charon <-> charon: kernel-libipsec on both ends"
topology
charon $A "$OUT/cc/a"
charon $B "$OUT/cc/b"
charon_config "$OUT/cc/a" 192.0.2.1 192.0.2.2 10.1.0.0/24 10.2.0.0/24
charon_config "$OUT/cc/b" 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24
swanctl --initiate --child net --uri "unix://$OUT/cc/a/charon.vici" --timeout 15 | tail -1
libipsec=$(iperf "$OUT/cc")
echo "charon <-> charon: $libipsec Mbit/s"

say "secgw <-> charon: mixed, for information"
topology
secgwd $A "$OUT/sc/a"
charon $B "$OUT/sc/b"
secgw_config $A "$OUT/sc/a" 192.0.2.1 192.0.2.2 10.1.0.0/24 10.2.0.0/24 initiator
charon_config "$OUT/sc/b" 192.0.2.2 192.0.2.1 10.2.0.0/24 10.1.0.0/24
cli $A "$OUT/sc/a" cmd ike initiate child-sa security-policy net | tail -1
mixed=$(iperf "$OUT/sc")
echo "secgw <-> charon: $mixed Mbit/s"
teardown

say "micro benchmark: internal/esp BenchmarkESPvsRawGCM (1400-octet packets, AES-128-GCM seal+open)"
(cd "$root" && go test -run '^$' -bench '^BenchmarkESPvsRawGCM$' -benchtime "$BENCHTIME" -count 1 ./internal/esp) |
	tee "$OUT/esp-bench"
ratio=$(awk '/BenchmarkESPvsRawGCM/ { for (i = 2; i <= NF; i++) if ($i == "esp/raw") print $(i-1) }' "$OUT/esp-bench")
best=$(awk '/BenchmarkESPvsRawGCM/ { for (i = 2; i <= NF; i++) if ($i == "esp/raw-best") print $(i-1) }' "$OUT/esp-bench")
[ -n "$ratio" ] || die "no esp/raw metric in the benchmark output"

say "micro benchmark: userspace BenchmarkInboundWorkers (8 SAs, opened by the reader or by two workers)"
(cd "$root" && go test -run '^$' -bench '^BenchmarkInboundWorkers$' -benchtime "$BENCHTIME" -count 1 ./internal/dataplane/userspace) |
	tee "$OUT/workers-bench"
spread=$(awk '/InboundWorkers\/workers=1/ { a = $3 } /InboundWorkers\/workers=2/ { b = $3 } END { if (a && b) printf "%.2f", a / b }' "$OUT/workers-bench")

x=$(awk -v a="$secgw" -v b="$libipsec" 'BEGIN { printf "%.2f", a / b }')
say "results (iperf3 TCP, ${DURATION} s, $STREAMS stream(s), AES-GCM-128, ESP in UDP; logs in $OUT)"
printf '  %-40s %10s Mbit/s\n' "secgw userspace ESP (secgw <-> secgw)" "$secgw"
printf '  %-40s %10s Mbit/s\n' "kernel-libipsec (charon <-> charon)" "$libipsec"
printf '  %-40s %10s Mbit/s\n' "mixed (secgw <-> charon)" "$mixed"
printf '  %-40s %10sx   (target >= 5)\n' "secgw / libipsec" "$x"
printf '  %-40s %10s    (best blocks %s; target >= 0.7)\n' "ESP / raw AES-GCM (micro benchmark)" "$ratio" "$best"
printf '  %-40s %10sx   (%s CPUs)\n' "inbound: 2 workers / reader (8 SAs)" "$spread" "$(nproc)"
met=$(awk -v x="$x" -v r="$ratio" 'BEGIN { print (x >= 5 && r >= 0.7) ? "yes" : "no" }')
echo "  targets met: $met"
[ "$STRICT" != 1 ] || [ "$met" = yes ]
