#!/bin/bash
# Installs what secgw's tests need on Debian 12, only what is missing.
set -euo pipefail

need=()
command -v yanglint >/dev/null || need+=(libyang2-tools)
# make demo pings through the tunnel.
command -v ping >/dev/null || need+=(iputils-ping)
# test/gateway's TCP encapsulation test blocks UDP with nftables.
command -v nft >/dev/null || need+=(nftables)
# make bench-esp measures TCP through the tunnel with iperf3, test/ha keeps
# a TCP flow through a failover with it.
command -v iperf3 >/dev/null || need+=(iperf3)
# test/ha and make bench-ha run keepalived (the VRRP engine of the HA
# pair) in the node namespaces.
command -v keepalived >/dev/null || [ -x /usr/sbin/keepalived ] || need+=(keepalived)
# The NETCONF interop tests drive the server with Debian's ncclient, through
# /usr/bin/python3 (another python3 may come first on PATH).
/usr/bin/python3 -c 'import ncclient' 2>/dev/null || need+=(python3-ncclient)
# test/metrics scrapes secgwd with a real Prometheus and checks the
# exposition with promtool (both in Debian's prometheus package).
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
# test/e2e drives secgwd with yuma123's yangcli, which loads the modules
# through the yang-library and get-schema.
command -v yangcli >/dev/null || need+=(yangcli)
# test/e2e runs the playbooks of examples/ansible with Debian's Ansible
# (ansible-core and the ansible.netcommon collection).
if ! command -v ansible-playbook >/dev/null ||
	! [ -d /usr/lib/python3/dist-packages/ansible_collections/ansible/netcommon ]; then
	need+=(ansible)
fi
# test/access logs in with ssh-keygen keys through ssh, ssh-agent and ssh-add.
command -v ssh-keygen >/dev/null && command -v ssh-agent >/dev/null || need+=(openssh-client)
# test/access builds the Debian package (make deb) and installs it.
command -v dpkg-deb >/dev/null || need+=(dpkg)

# test/gateway's EAP road warriors authenticate against Debian's
# FreeRADIUS, which the tests start in a namespace with their own
# configuration (test/radiustest); the package's own service is not used.
[ -x /usr/sbin/freeradius ] || need+=(freeradius)

if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing ${need[*]}: run as root or apt-get install them" >&2
		exit 1
	fi
	echo "install-deps: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	# The freeradius postinst may have started the system daemon: the
	# tests run their own, and want ports 1812/1813 of the host free.
	if printf '%s\n' "${need[@]}" | grep -qx freeradius; then
		invoke-rc.d freeradius stop >/dev/null 2>&1 || true
		update-rc.d freeradius disable >/dev/null 2>&1 || true
	fi
fi
# strongSwan (charon, swanctl, kernel-libipsec) is the IKE interop peer.
"$(dirname "$0")/install-strongswan.sh"
# libreswan's pluto (unpacked, not installed) is the TCP encapsulation
# interop peer.
"$(dirname "$0")/install-libreswan.sh"
go mod download
