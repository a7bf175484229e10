#!/bin/bash
# Unpacks Debian's libreswan (4.10) for the TCP encapsulation interop test
# (test/gateway/libreswan_test.go): its package conflicts with
# strongSwan's, so it is not installed; its pluto runs from the unpacked
# tree in a namespace of its own. The libraries pluto links and certutil
# (for its NSS database) are installed if missing.
set -euo pipefail

dir=${SECGW_LIBRESWAN_DIR:-/root/.cache/secgw/libreswan}
if [ -x "$dir/root/usr/libexec/ipsec/pluto" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-libreswan: run as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends libldns3 libevent-pthreads-2.1-7 libnss3-tools >/dev/null
mkdir -p "$dir"
cd "$dir"
apt-get download libreswan
rm -rf root
dpkg-deb -x libreswan_*.deb root
echo "install-libreswan: pluto unpacked in $dir/root"
