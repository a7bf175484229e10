#!/bin/bash
# make demo: two secgw gateways in network namespaces, configured over
# NETCONF with the secgw CLI, bring up an IPsec tunnel (IKEv2 PSK,
# userspace ESP on TUN) and ping through it.
#
#   10.1.0.1/24 [secgw-a] 192.0.2.1 ---veth--- 192.0.2.2 [secgw-b] 10.2.0.1/24
#
# Everything lives in the two namespaces it creates; nothing is sent
# anywhere else. Needs root. BIN is where secgwd and secgw are (make demo
# builds them there).
set -euo pipefail
BIN=${BIN:-$(pwd)/bin}
WORK=$(mktemp -d /tmp/secgw-demo.XXXXXX)
A=secgw-demo-a
B=secgw-demo-b
pids=()

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del $A 2>/dev/null
	ip netns del $B 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces, TUN)"; exit 1; }
for b in secgwd secgw; do [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: run make demo"; exit 1; }; done

say "topology: namespaces $A and $B joined by a veth"
ip netns del $A 2>/dev/null || true
ip netns del $B 2>/dev/null || true
ip netns add $A
ip netns add $B
ip link add demo-a netns $A type veth peer name demo-b netns $B
ip -n $A addr add 192.0.2.1/24 dev demo-a
ip -n $B addr add 192.0.2.2/24 dev demo-b
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set demo-a up
ip -n $B link set demo-b up
# The protected networks: one host address of each, on loopback.
ip -n $A addr add 10.1.0.1/32 dev lo
ip -n $B addr add 10.2.0.1/32 dev lo

start() { # ns name
	mkdir -p "$WORK/$2"
	ip netns exec "$1" "$BIN/secgwd" -dir "$WORK/$2/data" -listen 127.0.0.1:830 -dataplane userspace \
		-no-syslog -log-level 0 2>"$WORK/$2/log" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q "secgwd running" "$WORK/$2/log" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "secgwd running" "$WORK/$2/log" || { echo "secgwd $2 did not start:"; cat "$WORK/$2/log"; exit 1; }
	sed -n 's/.*created user admin with password \([^ ]*\) .*/\1/p' "$WORK/$2/log" >"$WORK/$2/password"
}

cli() { # ns name args...
	local ns=$1 name=$2
	shift 2
	SECGW_PASSWORD=$(cat "$WORK/$name/password") ip netns exec "$ns" "$BIN/secgw" -host 127.0.0.1 -port 830 "$@"
}

say "starting secgwd in each namespace (NETCONF on 127.0.0.1:830 inside it)"
start $A a
start $B b

say "configuring gateway a over NETCONF (secgw CLI, configuration mode)"
cat >"$WORK/a.cli" <<'CFG'
edit running
/ vrf main ike vpn to-b local-address 192.0.2.1 remote-address 192.0.2.2 local-id a.demo remote-id b.demo
/ vrf main ike vpn to-b ike-policy pre-shared-key demo-secret-0123456789
/ vrf main ike vpn to-b security-policy a-to-b local-ts subnet 10.1.0.0/24
/ vrf main ike vpn to-b security-policy a-to-b remote-ts subnet 10.2.0.0/24
commit
CFG
cat "$WORK/a.cli"
cli $A a <"$WORK/a.cli"

say "configuring gateway b"
cat >"$WORK/b.cli" <<'CFG'
edit running
/ vrf main ike vpn from-a local-address 192.0.2.2 local-id b.demo remote-id a.demo
/ vrf main ike vpn from-a ike-policy pre-shared-key demo-secret-0123456789
/ vrf main ike vpn from-a security-policy b-to-a local-ts subnet 10.2.0.0/24
/ vrf main ike vpn from-a security-policy b-to-a remote-ts subnet 10.1.0.0/24
commit
CFG
cli $B b <"$WORK/b.cli"
cli $A a show config nodefault / vrf main ike

say "a: cmd ike initiate child-sa security-policy a-to-b"
cli $A a cmd ike initiate child-sa security-policy a-to-b

say "ping 10.1.0.1 -> 10.2.0.1 through the tunnel"
ip netns exec $A ping -c 3 -i 0.2 -W 2 -I 10.1.0.1 10.2.0.1

say "a: show ike ike-sa details"
cli $A a show ike ike-sa details
say "b: show ike ike-sa details"
cli $B b show ike ike-sa details

say "demo passed"
