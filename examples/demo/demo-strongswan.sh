#!/bin/bash
# make demo-strongswan: one secgw gateway and one strongSwan gateway in
# network namespaces. secgwd is configured over NETCONF with the secgw
# CLI, charon (kernel-libipsec, its own strongswan.conf, /run and vici
# socket) with swanctl. secgwd brings the IPsec tunnel up (IKEv2 PSK,
# userspace ESP on TUN), pings go through it both ways, then both sides
# show their SAs: `secgw show ike ike-sa details` and
# `swanctl --list-sas`.
#
#   10.1.0.1/24 [secgw] 192.0.2.1 ---veth--- 192.0.2.2 [charon] 10.2.0.1/24
#
# Everything lives in the two namespaces it creates; nothing is sent
# anywhere else. Needs root and strongSwan (test/install-strongswan.sh).
# BIN is where secgwd and secgw are (make demo-strongswan builds them
# there); KEEP=1 keeps the work directory (logs, configs).
set -euo pipefail
BIN=${BIN:-$(pwd)/bin}
WORK=$(mktemp -d /tmp/secgw-demo-ss.XXXXXX)
A=secgw-demo-sg
B=secgw-demo-ss
CHARON=/usr/lib/ipsec/charon
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "make demo-strongswan needs root (network namespaces, TUN, mounts)"; exit 1; }
for b in "$BIN/secgwd" "$BIN/secgw"; do [ -x "$b" ] || { echo "missing $b: run make demo-strongswan"; exit 1; }; done
for f in $CHARON /usr/sbin/swanctl /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so /dev/net/tun; do
	[ -e "$f" ] || { echo "missing $f: run test/install-strongswan.sh"; exit 1; }
done

say "topology: namespaces $A (secgw) and $B (strongSwan) joined by a veth"
topology demo-sg demo-ss

say "starting secgwd in $A (NETCONF on 127.0.0.1:830 inside it)"
start $A secgw

say "starting charon in $B (kernel-libipsec, private strongswan.conf, /run and vici socket)"
mkdir -p "$WORK/charon/run"
cat >"$WORK/charon/strongswan.conf" <<CONF
charon {
	load_modular = no
	load = random nonce drbg openssl aes sha1 sha2 hmac gcm gmp curve25519 kdf pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici counters
	filelog {
		demo {
			path = $WORK/charon/charon.log
			time_format = %T
			default = 1
		}
	}
	syslog {
		daemon {
			default = -1
		}
	}
	plugins {
		vici {
			socket = unix://$WORK/charon/charon.vici
		}
	}
}
CONF
# ip netns exec gives charon its own mount namespace: the bind mount on
# /run (its pid file) stays private to it.
STRONGSWAN_CONF=$WORK/charon/strongswan.conf ip netns exec $B \
	sh -c 'mount --bind "$1" /run && exec "$2"' sh "$WORK/charon/run" $CHARON >"$WORK/charon/out" 2>&1 &
pids+=($!)
swanctl() { command swanctl "$@" --uri "unix://$WORK/charon/charon.vici"; }
for _ in $(seq 100); do
	swanctl --stats >/dev/null 2>&1 && break
	sleep 0.1
done
swanctl --stats >/dev/null || { echo "charon did not start:"; cat "$WORK/charon/out" "$WORK/charon/charon.log"; exit 1; }

say "configuring secgw over NETCONF (secgw CLI, configuration mode)"
cat >"$WORK/secgw.cli" <<'CFG'
edit running
/ vrf main ike vpn to-strongswan local-address 192.0.2.1 remote-address 192.0.2.2 local-id secgw.demo remote-id strongswan.demo
/ vrf main ike vpn to-strongswan ike-policy pre-shared-key demo-secret-0123456789
/ vrf main ike vpn to-strongswan ike-policy ike-proposal 1 aead-alg aes256-gcm-128 prf-alg hmac-sha256 dh-group ecp256
/ vrf main ike vpn to-strongswan ipsec-policy esp-proposal 1 aead-alg aes256-gcm-128
/ vrf main ike vpn to-strongswan security-policy net local-ts subnet 10.1.0.0/24
/ vrf main ike vpn to-strongswan security-policy net remote-ts subnet 10.2.0.0/24
commit
CFG
cat "$WORK/secgw.cli"
cli $A secgw <"$WORK/secgw.cli"

say "configuring strongSwan (swanctl.conf)"
cat >"$WORK/charon/swanctl.conf" <<'CONF'
connections {
	secgw {
		version = 2
		local_addrs = 192.0.2.2
		remote_addrs = 192.0.2.1
		proposals = aes256gcm16-prfsha256-ecp256
		local {
			auth = psk
			id = strongswan.demo
		}
		remote {
			auth = psk
			id = secgw.demo
		}
		children {
			net {
				local_ts = 10.2.0.0/24
				remote_ts = 10.1.0.0/24
				esp_proposals = aes256gcm16
			}
		}
	}
}
secrets {
	ike-secgw {
		id-1 = strongswan.demo
		id-2 = secgw.demo
		secret = "demo-secret-0123456789"
	}
}
CONF
cat "$WORK/charon/swanctl.conf"
# swanctl also loads credentials from the directories next to the file:
# empty ones keep it quiet.
(cd "$WORK/charon" && mkdir -p x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12)
swanctl --load-all --file "$WORK/charon/swanctl.conf"

say "secgw: cmd ike initiate child-sa security-policy net"
cli $A secgw cmd ike initiate child-sa security-policy net

say "ping 10.1.0.1 -> 10.2.0.1 (secgw -> strongSwan) through the tunnel"
ip netns exec $A ping -c 3 -i 0.2 -W 2 -I 10.1.0.1 10.2.0.1
say "ping 10.2.0.1 -> 10.1.0.1 (strongSwan -> secgw) through the tunnel"
ip netns exec $B ping -c 3 -i 0.2 -W 2 -I 10.2.0.1 10.1.0.1

say "secgw: show ike ike-sa details"
cli $A secgw show ike ike-sa details
say "strongSwan: swanctl --list-sas"
swanctl --list-sas

say "demo passed"
