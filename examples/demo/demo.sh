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
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces, TUN)"; exit 1; }
for b in secgwd secgw; do [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: run make demo"; exit 1; }; done

say "topology: namespaces $A and $B joined by a veth"
topology demo-a demo-b

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
