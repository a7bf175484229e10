#!/bin/bash
# bench-daemon.sh: `make bench-daemon`. Measures the concentrator scale
# figures through the real secgwd (IKE subsystem, userspace dataplane, in
# a network namespace) with a real NETCONF client (internal/ncclient):
# for running configurations of SIZES VPNs of the concentrator shape, the
# commit of one new VPN (edit-config + commit, median and p90 of COMMITS),
# the start from the stored configuration to serving NETCONF, and the
# resident memory once started; then prints each with its target and
# MET/NOT MET (test/benchdaemon describes them). The anchor of the same
# run is internal/datastore's BenchmarkCommitOneVPN* (the datastore alone,
# no subscribers), run first for the sizes it has (1k, 10k, 100k).
#
# Needs root (network namespaces, TUN). Environment: SIZES (VPNs,
# space-separated, "1000 10000 100000"; "1000 10000" is a quick run of
# about a minute), COMMITS (20), CHUNK (VPNs per edit-config while loading,
# 2000), STRICT=1 (exit 1 when a target is not met), CPUPROFILE=FILE (CPU
# profile of the restarted secgwd in FILE.n), HEAPPROFILE=FILE (its heap
# profile once started, after a GC, in FILE.n).
set -euo pipefail

SIZES=${SIZES:-1000 10000 100000}
COMMITS=${COMMITS:-20}
CHUNK=${CHUNK:-2000}
root=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "bench-daemon: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN)"
[ -e /dev/net/tun ] || die "missing /dev/net/tun"

# The anchor: the datastore's own commit of one VPN at the sizes it has.
benches=()
for n in $SIZES; do
	case $n in
	1000) benches+=(1k) ;;
	10000) benches+=(10k) ;;
	100000) benches+=(100k) ;;
	esac
done
anchor=
if [ ${#benches[@]} -gt 0 ]; then
	re=$(IFS='|'; echo "${benches[*]}")
	echo "bench-daemon: anchor, internal/datastore BenchmarkCommitOneVPN{$re} x$COMMITS" >&2
	out=$(cd "$root" && go test -run '^$' -bench "^BenchmarkCommitOneVPN($re)\$" -benchtime "${COMMITS}x" ./internal/datastore)
	echo "$out" >&2
	anchor=$(echo "$out" | awk '/^BenchmarkCommitOneVPN/ {
		name = $1; sub(/^BenchmarkCommitOneVPN/, "", name); sub(/-[0-9]+$/, "", name)
		n = name; sub(/k$/, "", n); printf "%d:%.3f ", n * 1000, $3 / 1e6 }')
fi

echo "bench-daemon: secgwd at $SIZES VPNs" >&2
cd "$root"
SECGW_BENCH_DAEMON=1 SIZES="$SIZES" COMMITS="$COMMITS" CHUNK="$CHUNK" ANCHOR="$anchor" STRICT="${STRICT:-0}" \
	go test -count=1 -timeout 0 -v -run '^TestBenchDaemon$' ./test/benchdaemon
