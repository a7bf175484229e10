#!/bin/bash
# bench-ike.sh: `make bench-ike`. Establishes N tunnels (IKE_SA_INIT
# + IKE_AUTH with PSK + first child SA; ECP256, AES-GCM-256, PRF-HMAC-SHA256)
# with cmd/secgw-loadtest against three responders in turn, on the same
# topology (two network namespaces joined by a veth pair):
#   charon       strongSwan with kernel-libipsec: child SAs installed in
#                libipsec's userspace SAD;
#   secgwd       the daemon itself, configured over NETCONF with the
#                responder's VPN (secgw-loadtest secgwd-config), userspace
#                dataplane: child SAs (and their policies) installed;
#   engine-only  the IKE engine alone (secgw-loadtest responder), whose
#                dataplane discards child SAs: what the daemon costs over
#                the engine.
# Prints the setup rate, responder CPU and resident memory per SA of each,
# secgwd/charon (target >= 3: the same work on both sides) and
# secgwd/engine-only (target >= 0.7), and fails unless every responder
# established all N IKE SAs and (unless CHILDLESS) installed N child SAs,
# counted from its own state: swanctl --list-sas, secgwd's ike-sa list
# over NETCONF, the engine responder's counters.
#
# Needs root (namespaces, mounts) and strongSwan (test/install-strongswan.sh
# installs it). Environment: N (10000), CONC (tunnels in flight, 128), SRCS
# (source addresses, 250), OUT (results directory, /tmp/secgw-bench-ike),
# CHILDLESS=1 (IKE SAs without the first child SA, RFC 6023: compares the
# IKE machinery alone, without the child SA installs), ONLY (a subset of
# "charon secgwd engine", space-separated; the ratios need all three).
#
# PQ=1 (make bench-ike-pq) measures the cost of going post-quantum instead:
# in one run, on the same topology, the generator against secgwd and
# against the engine-only responder with X25519 alone and with X25519 +
# ML-KEM-768 (RFC 9370 ADDKE1 in one IKE_INTERMEDIATE exchange, RFC 9242),
# both sides requiring what the other offers (secgw-loadtest -group/-addke,
# secgwd-config and responder alike), each responder started afresh for
# each suite. It prints the setup rate of each, the ratio hybrid/classical
# of each responder (the cost of going post-quantum) and secgwd's RSS per
# established SA (RSS after minus before, over the SAs established) for
# both suites. charon 5.9.8 has no ML-KEM and is not part of this mode. The
# generator does not announce IKE fragmentation (RFC 7383), so the
# responders send their IKE_INTERMEDIATE responses whole (1,153 octets
# with ML-KEM-768: below the engine's 1,280-octet fragment size with the IP
# and UDP headers, and the veth's 1500-octet MTU): nothing is fragmented.
#
# CERT=1 (make bench-ike-cert) authenticates with certificates instead of
# the PSK, on every responder and the generator alike: ECDSA P-256
# certificates of one test root (secgw-loadtest pki), each side's issued
# by its own intermediate CA and sent with it (two CERT payloads), each
# side verifying the other's chain of two to the root; signatures with
# RFC 7427's method 14 (ECDSA with SHA-256). charon gets the files in
# its swanctl directories (pkcs8 added to its plugins), secgwd by the
# load-pki-file RPC, the engine-only responder from the files.
#
# HOLD=D (make bench-sa) measures secgwd holding N established SAs
# instead: the generator establishes N tunnels against secgwd alone, then
# holds them for D (secgw-loadtest -hold) while secgwd runs DPD on every
# IKE SA (dpd-delay DPD, 30s) and rekeys every child SA (rekey-time REKEY,
# 60s; keep REKEY below D so that each child rekeys at least once;
# life-time LIFE, REKEY plus half by default: the model's default of 10
# percent more is 6 minutes of room for a rekey at the default hour, but
# 6 s at 60 s, less than one retransmission schedule of a loaded
# machine), the generator answering the probes, the child
# rekeys and the deletes of the SAs they replaced, and rekeying every IKE
# SA itself (secgw-loadtest -ike-rekey IKE_REKEY, default 2/5 of D: each
# IKE SA rekeys twice; 0 turns it off) and deleting the IKE SA each rekey
# replaced. secgwd's RSS is sampled every 5 s. secgwd's SAs are counted
# at 90 % of the hold, while the generator still runs. It prints, each
# with its target and MET or NOT MET:
#   - lost SAs: the IKE SAs secgwd's peers no longer hold (established or
#     in a rekey, with a child SA: secgw-loadtest secgwd-count held=) and
#     those the generator gave up (its requests unanswered); target none;
#   - the RSS per SA after the setups and its peak during the hold (from
#     the first sample after the setups to the count, whose <get> of
#     every SA's state is not the hold, nor the teardown after it),
#     projected to 100k SAs: target <= 1 GB;
#   - RSS bounded: the RSS at 90 % of the hold against the one at half of
#     it (both with rekeys running): target at most 10 % more;
# and whether the generator kept up: its sweeper's largest delay (a
# second or more on a loaded 2-CPU machine means it fell behind; a loss
# is then reported as NOT MET but inconclusive: secgwd's requests may
# have gone unanswered for the generator's sake) and the requests of
# secgwd it answered from its cache (secgwd retransmitted them). It fails
# unless none was lost and every child rekeyed at least once. secgwd
# and the generator run at nice NICE (-5 by default in this mode: other
# work on the machine, builds and tests, gets less of the CPU than the
# run, whose answers are due within secgwd's retransmission times). INNER
# defaults to 10.200.0.0/14 here (room for 100k inner addresses).
# SECGWD_ENV is put in secgwd's environment, e.g. SECGWD_ENV="GOGC=50"
# (the Go collector's memory kept per live byte: RSS is about live heap x
# (1 + GOGC/100)).
#
# charon: kernel-libipsec with `policies = no` and `install_routes = no`:
# child SAs are installed into libipsec's userspace SAD (this kernel has
# XFRM but no ESP, and Debian ships no load-tester plugin with a fake kernel
# interface), no policies and no routes. secgwd installs, besides, the
# child's policies in its userspace dataplane.
# libipsec keeps its SAD in a linked list searched on every SPI allocation
# and SA add, so charon's cost per SA grows with the number of child SAs:
# CHILDLESS=1 shows charon without it.
# Scale knobs (strongswan.conf below): threads 16, ikesa_table_size 16384,
# ikesa_table_segments 64, init_limit_half_open 0 and init_limit_job_load 0
# (no limit), cookie_threshold and block_threshold 1000000 (never reached),
# logging off.
# secgwd and the engine, the same (global-options of the responder's
# configuration): threads 16, sa-table-size 16384, sa-table-segments 64,
# dos-protection cookie-threshold 0 and block-threshold 0 (off), the other
# limits 0 (off), log level warn. secgwd writes a CPU profile of its run
# (go tool pprof OUT/secgwd OUT/secgwd.cpu), and its heap and allocation
# profiles with the SAs up are fetched from its -pprof (OUT/secgwd.heap,
# OUT/secgwd.allocs).
set -euo pipefail

N=${N:-10000}
CONC=${CONC:-128}
SRCS=${SRCS:-250}
CHILDLESS=${CHILDLESS:-0}
CERT=${CERT:-0}
PQ=${PQ:-0}
HOLD=${HOLD:-}
SECGWD_ENV=${SECGWD_ENV:-}
DPD=${DPD:-30s}
REKEY=${REKEY:-60s}
LIFE=${LIFE:-}
ONLY=${ONLY:-charon secgwd engine}
[ "$PQ" = 1 ] && ONLY=${ONLY/charon/}
INNER=${INNER:-10.200.0.0/16}
hold=
# seconds D: the duration D (as 90s, 10m, 1h) in seconds.
seconds() {
	case $1 in
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}
# progress: the generator's progress interval (its "hold:" line says
# when the setups are over).
progress=0
if [ -n "$HOLD" ]; then
	ONLY=secgwd
	INNER=${INNER/%\/16//14}
	IKE_REKEY=${IKE_REKEY:-$(($(seconds "$HOLD") * 2 / 5))s}
	LIFE=${LIFE:-$(($(seconds "$REKEY") * 3 / 2))s}
	hold="-hold $HOLD -ike-rekey $IKE_REKEY"
	progress=24h
	NICE=${NICE:--5}
fi
NICE=${NICE:-0}
OUT=${OUT:-/tmp/secgw-bench-ike}
PSK=load-test-secret
RESP=10.98.0.2
GEN=10.98.0.1
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/test/lib-bench.sh"

die() { echo "bench-ike: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, bind mounts)"
[ "$SRCS" -ge 1 ] && [ "$SRCS" -le 250 ] || die "SRCS must be 1..250"
need=(/usr/sbin/ip /dev/net/tun)
case " $ONLY " in *" charon "*)
	"$root/test/install-strongswan.sh" >/dev/null
	need+=(/usr/lib/ipsec/charon /usr/sbin/swanctl /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so)
	;;
esac
for f in "${need[@]}"; do
	[ -e "$f" ] || die "missing $f (test/install-strongswan.sh)"
done

rm -rf "$OUT"
mkdir -p "$OUT/run"
bin=$OUT/secgw-loadtest
(cd "$root" && go build -o "$OUT/" ./cmd/secgw-loadtest ./cmd/secgwd)
# gen_auth and resp_auth: how the generator and our responders
# authenticate (CERT: the PKI of secgw-loadtest pki).
gen_auth="-psk $PSK"
resp_auth="-psk $PSK"
auth=PSK
charon_plugins=
if [ "$CERT" = 1 ]; then
	"$bin" pki -out "$OUT/pki" || die "secgw-loadtest pki failed"
	gen_auth="-cert $OUT/pki"
	resp_auth="-cert $OUT/pki"
	auth="ECDSA P-256 certificates (chains of 2 verified both sides)"
	charon_plugins=" pkcs8"
fi

ns_g=secgw-bench-$$-g
ns_r=secgw-bench-$$-r
pids=()
cleanup() {
	for f in "$OUT"/gen-*.pid; do [ -f "$f" ] && pids+=("$(cat "$f")"); done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$ns_g" 2>/dev/null || true
	ip netns del "$ns_r" 2>/dev/null || true
}
trap cleanup EXIT

# Topology: generator namespace with GEN and SRCS source addresses,
# responder namespace with RESP, one veth pair.
two_namespaces "$ns_g" "$ns_r" $GEN $RESP 10.98.1 "$SRCS"
srcs=10.98.1.1-10.98.1.$SRCS

childless=
what="$auth + ECP256/AES-GCM-256/PRF-SHA256 + first child SA (AES-GCM-256)"
if [ "$CHILDLESS" = 1 ]; then
	childless=-childless
	what="$auth + ECP256/AES-GCM-256/PRF-SHA256, childless (RFC 6023, no child SA)"
fi
# ke: the key exchange flags of the generator and of the responders
# (secgw-loadtest -group, -addke) for the run in progress.
ke="-group ecp256"

# stat PID prints "cpu_s=.. rss_kb=.." of a process.
stat() { "$bin" stat "$1"; }

# generate NAME runs the generator against RESP and keeps its report.
# Its pid goes to OUT/gen-NAME.pid for cleanup: in a hold run generate
# runs in a background subshell, whose kill does not reach it.
generate() {
	ip netns exec "$ns_g" nice -n "$NICE" "$bin" -remote $RESP -src "$srcs" -n "$N" -c "$CONC" \
		$gen_auth -inner $INNER -progress $progress $childless $ke $hold >"$OUT/gen-$1.txt" 2>&1 &
	echo $! >"$OUT/gen-$1.pid"
	wait $! || true
	cat "$OUT/gen-$1.txt" >&2
}

# runs NAME: whether ONLY includes the responder NAME.
runs() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
# counts NAME EST CHILDREN records what the responder NAME holds, from its
# own state, and what is missing.
fails=()
counts() {
	local want_child=$N
	[ "$CHILDLESS" = 1 ] && want_child=0
	echo "$1 est=${2:-0} child=${3:-0}" >>"$OUT/counts.txt"
	if [ -n "$HOLD" ]; then
		[ "${2:-0}" -eq "$N" ] || fails+=("$1's peers hold ${2:-0} IKE SAs of $N ($((N - ${2:-0})) lost)")
		# A child rekey in progress holds the old child SA and the new.
		[ "${3:-0}" -ge "$want_child" ] || fails+=("$1 holds ${3:-0} child SAs, want at least $want_child")
	else
		[ "${2:-0}" -eq "$N" ] || fails+=("$1 established ${2:-0} IKE SAs of $N")
		[ "${3:-0}" -eq "$want_child" ] || fails+=("$1 installed ${3:-0} child SAs, want $want_child")
	fi
}
: >"$OUT/counts.txt"

# ---- charon ----
if runs charon; then
	cat >"$OUT/strongswan.conf" <<EOF
charon {
	load_modular = no
	load = random nonce drbg openssl aes sha1 sha2 hmac gcm kdf pem pkcs1$charon_plugins x509 pubkey kernel-libipsec kernel-netlink socket-default vici
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
	local_auth="auth = psk
			id = gw.load.test"
	remote_auth="auth = psk"
	secrets="ike-load {
		secret = \"$PSK\"
	}"
	if [ "$CERT" = 1 ]; then
		# swanctl --load-all reads the credentials next to swanctl.conf.
		mkdir -p "$OUT/x509" "$OUT/x509ca" "$OUT/private"
		cp "$OUT/pki/gw-leaf.crt" "$OUT/x509/"
		cp "$OUT/pki/gw-inter.crt" "$OUT/pki/root.crt" "$OUT/x509ca/"
		cp "$OUT/pki/gw.key" "$OUT/private/"
		local_auth="auth = pubkey
			certs = gw-leaf.crt"
		remote_auth="auth = pubkey"
		secrets=
	fi
	cat >"$OUT/swanctl.conf" <<EOF
connections {
	load {
		version = 2
		local_addrs = $RESP
		proposals = aes256gcm16-prfsha256-ecp256
		unique = no
		local {
			$local_auth
		}
		remote {
			$remote_auth
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
	$secrets
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
	swanctl --list-sas --noblock --uri "$uri" >"$OUT/charon-sas.txt"
	counts charon "$(grep -c ', ESTABLISHED, ' "$OUT/charon-sas.txt" || true)" \
		"$(grep -c ', INSTALLED, ' "$OUT/charon-sas.txt" || true)"
	kill "$charon"
	wait "$charon" 2>/dev/null || true
fi

# ---- secgwd ----
# bench_secgwd NAME: secgwd started afresh, configured with the suite of
# $ke, against the generator; its CPU and RSS before and after in
# OUT/stat-NAME-0 and -1.
bench_secgwd() {
	local name=$1
	# netconf runs a NETCONF subcommand of secgw-loadtest against secgwd.
	netconf() {
		local cmd=$1
		shift
		SECGW_PASSWORD=$pw ip netns exec "$ns_r" "$bin" "$cmd" -netconf 127.0.0.1:830 "$@"
	}
	ip netns exec "$ns_r" nice -n "$NICE" env $SECGWD_ENV "$OUT/secgwd" -dir "$OUT/$name-data" -listen 127.0.0.1:830 -dataplane userspace \
		-no-syslog -log-level warn -cpuprofile "$OUT/$name.cpu" -pprof 127.0.0.1:6060 >"$OUT/$name.log" 2>&1 &
	local secgwd=$! # ip, nice and env exec: this is secgwd's pid
	pids+=("$secgwd")
	pw=
	for _ in $(seq 200); do
		pw=$(sed -n 's/.*created user admin with password \(\S*\) .*/\1/p' "$OUT/$name.log" 2>/dev/null || true)
		[ -n "$pw" ] && netconf secgwd-count >/dev/null 2>&1 && break
		kill -0 "$secgwd" 2>/dev/null || die "secgwd exited: $(cat "$OUT/$name.log")"
		sleep 0.1
	done
	local lifetimes=
	[ -n "$HOLD" ] && lifetimes="-dpd-delay $DPD -child-rekey-time $REKEY -child-life-time $LIFE"
	netconf secgwd-config -listen $RESP $resp_auth -remote-ts $INNER -threads 16 -sa-table-size 16384 \
		-sa-table-segments 64 -cookie-threshold 0 -block-threshold 0 $ke $lifetimes >"$OUT/$name-config.txt" 2>&1 ||
		die "configuring secgwd: $(cat "$OUT/$name-config.txt")"
	stat "$secgwd" >"$OUT/stat-$name-0"
	echo "bench-ike: secgwd responder (userspace dataplane), $N tunnels, $ke${HOLD:+, held $HOLD (DPD $DPD, child rekey $REKEY life $LIFE, IKE SA rekey by the generator $IKE_REKEY)}" >&2
	local sampler=
	if [ -n "$HOLD" ]; then
		# RSS every 5 s while the generator runs: the setups, then the hold.
		(while kill -0 "$secgwd" 2>/dev/null; do
			echo "$(date +%s) $(stat "$secgwd")"
			sleep 5
		done) >"$OUT/$name-rss.txt" 2>/dev/null &
		sampler=$!
		pids+=("$sampler")
	fi
	date +%s >"$OUT/$name-t0"
	if [ -n "$HOLD" ]; then
		# secgwd's SAs are counted at 90 % of the hold, while the
		# generator still answers: once it stops, the child SAs whose
		# rekey comes next expire and DPD gives its peers up.
		generate "$name" &
		local gen=$!
		pids+=("$gen")
		while kill -0 "$gen" 2>/dev/null && ! grep -q '^hold:' "$OUT/gen-$name.txt" 2>/dev/null; do
			sleep 1
		done
		date +%s >"$OUT/$name-t1"
		sleep "$(($(seconds "$HOLD") * 9 / 10))"
		# t2 ends the hold's RSS window before the count: the <get> of
		# every SA's state builds a reply as large as the SAs' records.
		date +%s >"$OUT/$name-t2"
		stat "$secgwd" >"$OUT/stat-$name-1"
		# The <get> of 100k SAs' state takes long on a loaded machine.
		netconf secgwd-count -timeout 10m >"$OUT/$name-count.txt" 2>&1 || die "counting the SAs of secgwd: $(cat "$OUT/$name-count.txt")"
		wait "$gen" || true
		[ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
	else
		generate "$name"
		sleep 1
		stat "$secgwd" >"$OUT/stat-$name-1"
		netconf secgwd-count >"$OUT/$name-count.txt" 2>&1 || die "counting the SAs of secgwd: $(cat "$OUT/$name-count.txt")"
	fi
	# Held SAs rekey: a child SA in the middle of its rekey (rekeying,
	# or replaced and waiting for its delete) counts in any state.
	local children=child_installed established=established
	[ -n "$HOLD" ] && children=child_sas established=held
	counts "$name" "$(field $established <"$OUT/$name-count.txt")" "$(field $children <"$OUT/$name-count.txt")"
	for p in heap allocs; do
		ip netns exec "$ns_r" curl -sf -o "$OUT/$name.$p" "http://127.0.0.1:6060/debug/pprof/$p" || true
	done
	kill -TERM "$secgwd"
	wait "$secgwd" 2>/dev/null || true
}

# ---- the engine alone ----
# bench_engine NAME: the engine-only responder started afresh with the
# suite of $ke, against the generator; stats as bench_secgwd, and its RSS
# after a forced garbage collection in OUT/stat-NAME-gc.
bench_engine() {
	local name=$1 rf=$OUT/responder${1#engine}
	ip netns exec "$ns_r" "$bin" responder -listen $RESP $resp_auth -remote-ts $INNER \
		-threads 16 -sa-table-size 16384 -sa-table-segments 64 -cookie-threshold 0 -block-threshold 0 $ke \
		-cpuprofile "$rf.cpu" -memprofile "$rf.mem" >"$rf.txt" 2>"$rf.err" &
	local ours=$!
	pids+=("$ours")
	for _ in $(seq 100); do
		grep -q READY "$rf.txt" 2>/dev/null && break
		kill -0 "$ours" 2>/dev/null || die "responder exited: $(cat "$rf.err")"
		sleep 0.1
	done
	stat "$ours" >"$OUT/stat-$name-0"
	echo "bench-ike: engine-only responder, $N tunnels, $ke" >&2
	generate "$name"
	sleep 1
	stat "$ours" >"$OUT/stat-$name-1"
	kill -USR1 "$ours"
	sleep 0.5
	kill -USR2 "$ours" # after a garbage collection
	sleep 1
	kill -TERM "$ours"
	wait "$ours" 2>/dev/null || true
	counts "$name" "$(grep '^RESPONDER' "$rf.txt" | head -1 | field established)" \
		"$(grep '^RESPONDER' "$rf.txt" | head -1 | field installs)"
	grep '^RESPONDER' "$rf.txt" | sed -n 2p >"$OUT/stat-$name-gc"
}

# st NAME WHEN: the stat line of NAME taken at WHEN (0, 1, gc).
st() { cat "$OUT/stat-$1-$2" 2>/dev/null || true; }

if [ "$PQ" = 1 ]; then
	for suite in "x25519:-group x25519" "hybrid:-group x25519 -addke mlkem768"; do
		ke=${suite#*:}
		if runs secgwd; then bench_secgwd "secgwd-${suite%%:*}"; fi
		if runs engine; then bench_engine "engine-${suite%%:*}"; fi
	done
else
	if runs secgwd; then bench_secgwd secgwd; fi
	if runs engine; then bench_engine engine; fi
	s0=$(st secgwd 0) s1=$(st secgwd 1) o0=$(st engine 0) o1=$(st engine 1)
	o_gc_rss=$(st engine gc | field rss_kb)
fi

# ---- report ----
# g NAME KEY: a field of the generator's report against NAME.
g() { if [ -f "$OUT/gen-$1.txt" ]; then field "$2" <"$OUT/gen-$1.txt"; fi; }
# c NAME KEY: est or child of NAME in counts.txt.
c() { grep "^$1 " "$OUT/counts.txt" | field "$2"; }
# r NAME: what the report needs of NAME, "|"-separated: setup rate,
# established IKE SAs, child SAs, latency p50/p99, the stat lines before,
# after and after a GC.
r() { echo "$(g "$1" rate)|$(c "$1" est)|$(c "$1" child)|$(g "$1" p50_ms)/$(g "$1" p99_ms)|$(st "$1" 0)|$(st "$1" 1)|$(st "$1" gc)"; }

if [ -n "$HOLD" ]; then
	gen=$OUT/gen-secgwd.txt
	soak=$(grep '^soak: held' "$gen" || true)
	held=$(echo "$soak" | sed -n 's/^soak: held \([0-9]*\) SAs.*/\1/p')
	rekeys=$(sed -n 's/^soak: child rekeys answered \([0-9]*\).*/\1/p' "$gen")
	cached=$(echo "$soak" | sed -n 's/.*cached \([0-9]*\).*/\1/p')
	ikerekeys=$(sed -n 's/^soak: IKE SA rekeys done \([0-9]*\).*/\1/p' "$gen")
	ikerefused=$(sed -n 's/^soak: IKE SA rekeys done [0-9]*, refused \([0-9]*\).*/\1/p' "$gen")
	lag=$(sed -n 's/^soak: generator sweep late ticks [0-9]*, max lag \([0-9]*\) ms.*/\1/p' "$gen")
	late=$(sed -n 's/^soak: generator sweep late ticks \([0-9]*\).*/\1/p' "$gen")
	dead=$(sed -n 's/.*SAs given up \([0-9]*\).*/\1/p' "$gen")
	[ "${held:-0}" -eq "$N" ] || fails+=("the generator holds ${held:-0} SAs of $N at the end")
	[ "${rekeys:-0}" -ge "$N" ] || fails+=("the generator answered ${rekeys:-0} child rekeys, fewer than N=$N (REKEY below HOLD?)")
	if [ "$(seconds "$IKE_REKEY")" -gt 0 ]; then
		[ "${ikerekeys:-0}" -ge "$N" ] || fails+=("the generator rekeyed ${ikerekeys:-0} IKE SAs, fewer than N=$N (IKE_REKEY below HOLD?)")
	fi
	awk -v n="$N" -v hold="$HOLD" -v dpd="$DPD" -v rekey="$REKEY" -v life="$LIFE" -v ikerekey="$IKE_REKEY" -v s0="$(st secgwd 0)" -v s1="$(st secgwd 1)" \
		-v t0="$(cat "$OUT/secgwd-t0")" -v t1="$(cat "$OUT/secgwd-t1")" -v t2="$(cat "$OUT/secgwd-t2")" -v rate="$(g secgwd rate)" \
		-v est="$(c secgwd est)" -v child="$(c secgwd child)" -v held="${held:-0}" -v rekeys="${rekeys:-0}" \
		-v ikerekeys="${ikerekeys:-0}" -v ikerefused="${ikerefused:-0}" -v cached="${cached:-0}" -v lag="${lag:-0}" -v late="${late:-0}" \
		-v dead="${dead:-0}" -v soak="$soak" -v rssf="$OUT/secgwd-rss.txt" '
function kv(s, k,   a, i, m, p) { m = split(s, a, " "); for (i = 1; i <= m; i++) { split(a[i], p, "="); if (p[1] == k) return p[2] } return 0 }
function div(a, b) { return b > 0 ? a / b : 0 }
BEGIN {
	# t1: the setups are over (the generator said "hold:"); t2: the count
	# at 90 % of the hold. The peak is over [t1, t2): neither the <get>
	# of the count nor the teardown after the generator stops (DPD gives
	# its peers up) is the hold.
	base = kv(s0, "rss_kb"); peak = 0; after = 0; mid = 0; half = t1 + (t2 - t1) * 5 / 9
	while ((getline line < rssf) > 0) {
		split(line, f, " "); r = kv(line, "rss_kb")
		if (f[1] >= t1 && f[1] < t2 && r > peak) peak = r
		if (after == 0 && f[1] >= t1) after = r
		if (mid == 0 && f[1] >= half) mid = r
	}
	end = kv(s1, "rss_kb")
	if (end > peak) peak = end
	per_after = div(after - base, n); per_peak = div(peak - base, n); per_end = div(end - base, n)
	proj = (base + per_peak * 100000) / 1024 / 1024
	lost_secgwd = n - est; if (lost_secgwd < 0) lost_secgwd = 0
	lost_gen = n - held; if (lost_gen < 0) lost_gen = 0
	behind = lag >= 1000
	printf "\nbench-sa: %d SAs through secgwd (userspace dataplane), held %s with DPD %s, child rekey-time %s (life-time %s), IKE SA rekeys by the generator every %s\n", n, hold, dpd, rekey, life, ikerekey
	printf "setups/s %.1f; at 90 %% of the hold secgwd'"'"'s peers hold %d IKE SAs (established or rekeying, with a child SA) and %d child SAs (installed or in a rekey); the generator holds %d at the end\n", rate, est, child, held
	printf "%s; child rekeys answered %d; IKE SA rekeys done %d (refused %d)\n", soak, rekeys, ikerekeys, ikerefused
	printf "generator: sweep max lag %d ms, late ticks %d, secgwd requests answered from its cache %d: %s\n", lag, late, cached,
		behind ? "FELL BEHIND (the machine is overloaded; losses may be the generator'"'"'s)" : "kept up"
	printf "secgwd RSS: before %.0f MB, after the setups %.0f MB, peak during the hold %.0f MB, at half the hold %.0f MB, at 90 %% of it %.0f MB\n", base / 1024, after / 1024, peak / 1024, mid / 1024, end / 1024
	printf "secgwd RSS per SA: after the setups %.2f KB, peak %.2f KB, at 90 %% of the hold %.2f KB\n", per_after, per_peak, per_end
	printf "SAs lost: secgwd %d, the generator gave up %d (%d unanswered)  target 0  %s\n", lost_secgwd, lost_gen, dead,
		lost_secgwd + lost_gen == 0 ? "MET" : (behind ? "NOT MET (inconclusive: the generator fell behind)" : "NOT MET")
	printf "secgwd RSS at 100k SAs (projected from the peak): %.2f GB  target <= 1 GB  %s\n", proj, proj <= 1 ? "MET" : "NOT MET"
	printf "secgwd RSS bounded (90 %% of the hold / half of it): %.2fx  target <= 1.10  %s\n", div(end, mid), (mid > 0 && end <= mid * 1.1) ? "MET" : "NOT MET"
	printf "BENCHSA n=%d hold=%s est=%d child=%d held=%d rekeys=%d ike_rekeys=%d lost_secgwd=%d lost_gen=%d gen_lag_ms=%d rss_before_kb=%d rss_after_setup_kb=%d rss_peak_kb=%d rss_mid_kb=%d rss_end_kb=%d rss_kb_per_sa=%.2f rss_peak_kb_per_sa=%.2f\n",
		n, hold, est, child, held, rekeys, ikerekeys, lost_secgwd, lost_gen, lag, base, after, peak, mid, end, per_after, per_peak
}'
elif [ "$PQ" = 1 ]; then
	what="PSK + AES-GCM-256/PRF-SHA256 + first child SA (AES-GCM-256)"
	[ "$CHILDLESS" = 1 ] && what="PSK + AES-GCM-256/PRF-SHA256, childless (RFC 6023, no child SA)"
	awk -v n="$N" -v what="$what" -v sx="$(r secgwd-x25519)" -v sh="$(r secgwd-hybrid)" \
		-v ex="$(r engine-x25519)" -v eh="$(r engine-hybrid)" '
function kv(s, k,   a, i, m, p) { m = split(s, a, " "); for (i = 1; i <= m; i++) { split(a[i], p, "="); if (p[1] == k) return p[2] } return 0 }
function div(a, b) { return b > 0 ? a / b : 0 }
function load(k, s,   f) {
	split(s, f, "|"); rate[k] = f[1] + 0; est[k] = f[2] + 0; child[k] = f[3] + 0; lat[k] = f[4]
	cpu[k] = div((kv(f[6], "cpu_s") - kv(f[5], "cpu_s")) * 1000, est[k])
	rss[k] = div(kv(f[6], "rss_kb") - kv(f[5], "rss_kb"), est[k])
	rssgc[k] = f[7] == "" ? "" : sprintf("%.2f", div(kv(f[7], "rss_kb") - kv(f[5], "rss_kb"), est[k]))
}
function ratio(a, b) { return a > 0 && b > 0 ? sprintf("%.2fx", a / b) : "n/a (not run)" }
BEGIN {
	load("sx", sx); load("sh", sh); load("ex", ex); load("eh", eh)
	printf "\nbench-ike PQ: %d tunnels per run, %s\n", n, what
	printf "classical: X25519; hybrid: X25519 + ML-KEM-768 (RFC 9370 ADDKE1, one IKE_INTERMEDIATE exchange)\n"
	printf "charon 5.9.8: not run (it has no ML-KEM)\n"
	printf "%-34s %14s %14s %14s %14s\n", "", "secgwd x25519", "secgwd hybrid", "engine x25519", "engine hybrid"
	printf "%-34s %14.1f %14.1f %14.1f %14.1f\n", "setups/s", rate["sx"], rate["sh"], rate["ex"], rate["eh"]
	printf "%-34s %14d %14d %14d %14d\n", "established IKE SAs (responder)", est["sx"], est["sh"], est["ex"], est["eh"]
	printf "%-34s %14d %14d %14d %14d\n", "child SAs installed (responder)", child["sx"], child["sh"], child["ex"], child["eh"]
	printf "%-34s %14s %14s %14s %14s\n", "setup latency p50/p99 ms", lat["sx"], lat["sh"], lat["ex"], lat["eh"]
	printf "%-34s %14.3f %14.3f %14.3f %14.3f\n", "responder CPU ms per SA", cpu["sx"], cpu["sh"], cpu["ex"], cpu["eh"]
	printf "%-34s %14.2f %14.2f %14.2f %14.2f\n", "responder RSS KB per SA", rss["sx"], rss["sh"], rss["ex"], rss["eh"]
	printf "%-34s %14s %14s %14s %14s\n", "  after a forced GC", "", "", rssgc["ex"], rssgc["eh"]
	printf "cost of going post-quantum (setup rate hybrid/classical): secgwd %s, engine-only %s\n", ratio(rate["sh"], rate["sx"]), ratio(rate["eh"], rate["ex"])
	printf "responder CPU per SA hybrid/classical: secgwd %s, engine-only %s (the generator shares the machine: the rates include its own ML-KEM work)\n", ratio(cpu["sh"], cpu["sx"]), ratio(cpu["eh"], cpu["ex"])
	printf "secgwd RSS per established SA: x25519 %.2f KB, x25519+mlkem768 %.2f KB\n", rss["sx"], rss["sh"]
	printf "BENCHPQ n=%d secgwd_x25519_rate=%.1f secgwd_hybrid_rate=%.1f secgwd_hybrid_classical=%.3f engine_x25519_rate=%.1f engine_hybrid_rate=%.1f engine_hybrid_classical=%.3f secgwd_x25519_rss_kb=%.2f secgwd_hybrid_rss_kb=%.2f secgwd_x25519_cpu_ms=%.3f secgwd_hybrid_cpu_ms=%.3f\n",
		n, rate["sx"], rate["sh"], div(rate["sh"], rate["sx"]), rate["ex"], rate["eh"], div(rate["eh"], rate["ex"]), rss["sx"], rss["sh"], cpu["sx"], cpu["sh"]
}'
else
awk -v n="$N" -v what="$what" -v childless="$CHILDLESS" \
	-v crate="$(g charon rate)" -v srate="$(g secgwd rate)" -v orate="$(g engine rate)" \
	-v ce="$(c charon est)" -v se="$(c secgwd est)" -v oe="$(c engine est)" \
	-v cc="$(c charon child)" -v sc="$(c secgwd child)" -v oc="$(c engine child)" \
	-v c0="${c0:-}" -v c1="${c1:-}" -v s0="${s0:-}" -v s1="${s1:-}" -v o0="${o0:-}" -v o1="${o1:-}" -v ogc="${o_gc_rss:-0}" \
	-v cl="$(g charon p50_ms)/$(g charon p99_ms)" -v sl="$(g secgwd p50_ms)/$(g secgwd p99_ms)" \
	-v ol="$(g engine p50_ms)/$(g engine p99_ms)" \
	-v cgc="$(g charon gen_cpu_s)" -v sgc="$(g secgwd gen_cpu_s)" -v ogcpu="$(g engine gen_cpu_s)" '
function kv(s, k,   a, i, m, p) { m = split(s, a, " "); for (i = 1; i <= m; i++) { split(a[i], p, "="); if (p[1] == k) return p[2] } return 0 }
function div(a, b) { return b > 0 ? a / b : 0 }
function met(ok, a, b) { return a > 0 && b > 0 ? (ok ? "MET" : "NOT MET") : "n/a (not run)" }
BEGIN {
	ccpu = div((kv(c1, "cpu_s") - kv(c0, "cpu_s")) * 1000, ce); scpu = div((kv(s1, "cpu_s") - kv(s0, "cpu_s")) * 1000, se)
	ocpu = div((kv(o1, "cpu_s") - kv(o0, "cpu_s")) * 1000, oe)
	crss = div(kv(c1, "rss_kb") - kv(c0, "rss_kb"), ce); srss = div(kv(s1, "rss_kb") - kv(s0, "rss_kb"), se)
	orss = div(kv(o1, "rss_kb") - kv(o0, "rss_kb"), oe); orssgc = div(ogc - kv(o0, "rss_kb"), oe)
	printf "\nbench-ike: %d tunnels, %s\n", n, what
	printf "%-34s %14s %14s %14s\n", "", "charon 5.9.8", "secgwd", "engine-only"
	printf "%-34s %14.1f %14.1f %14.1f\n", "setups/s", crate, srate, orate
	printf "%-34s %14d %14d %14d\n", "established IKE SAs (responder)", ce, se, oe
	printf "%-34s %14d %14d %14d\n", "child SAs installed (responder)", cc, sc, oc
	printf "%-34s %14s %14s %14s\n", "setup latency p50/p99 ms", cl, sl, ol
	printf "%-34s %14.3f %14.3f %14.3f\n", "responder CPU ms per SA", ccpu, scpu, ocpu
	printf "%-34s %14.2f %14.2f %14.2f\n", "responder RSS KB per SA", crss, srss, orss
	printf "%-34s %14s %14s %14.2f\n", "  after a forced GC", "", "", orssgc
	printf "%-34s %14.3f %14.3f %14.3f\n", "generator CPU ms per tunnel", div(cgc * 1000, n), div(sgc * 1000, n), div(ogcpu * 1000, n)
	printf "secgwd/charon setup rate:      %6.2fx  target >= 3    %s\n", div(srate, crate), met(div(srate, crate) >= 3, srate, crate)
	printf "secgwd/engine-only setup rate: %6.2fx  target >= 0.7  %s\n", div(srate, orate), met(div(srate, orate) >= 0.7, srate, orate)
	printf "engine-only/charon setup rate: %6.2fx  (the engine alone, child SAs discarded)\n", div(orate, crate)
	printf "BENCH n=%d childless=%s charon_rate=%.1f secgwd_rate=%.1f engine_rate=%.1f secgwd_charon=%.2f secgwd_engine=%.2f charon_cpu_ms=%.3f secgwd_cpu_ms=%.3f engine_cpu_ms=%.3f charon_rss_kb=%.2f secgwd_rss_kb=%.2f engine_rss_kb=%.2f\n",
		n, childless, crate, srate, orate, div(srate, crate), div(srate, orate), ccpu, scpu, ocpu, crss, srss, orss
}'
fi
sfx=
[ "$PQ" = 1 ] && sfx=-hybrid
echo "bench-ike: reports, logs and profiles (go tool pprof $OUT/secgwd $OUT/secgwd$sfx.cpu; go tool pprof $bin $OUT/responder$sfx.cpu) are in $OUT"
if [ ${#fails[@]} -gt 0 ]; then
	printf 'bench-ike: FAILED: %s\n' "${fails[@]}" >&2
	exit 1
fi
