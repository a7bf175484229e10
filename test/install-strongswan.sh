#!/bin/bash
# Installs what the strongSwan interop tests (test/strongswan) need on
# Debian 12, only what is missing: Debian's charon and swanctl with the
# plugins of the tests' load list (see ../shared/NOTES.md), and iproute2.
#
# The strongswan-charon postinst would start a system charon: a
# /usr/sbin/policy-rc.d that exits 101 forbids it during the install; it is
# removed afterwards and a policy-rc.d that was there before is restored.
set -euo pipefail

# package:file pairs; a package is needed when its file is missing.
checks=(
	"strongswan-charon:/usr/lib/ipsec/charon"
	"strongswan-swanctl:/usr/sbin/swanctl"
	"strongswan-libcharon:/usr/lib/ipsec/libcharon.so.0"
	"libstrongswan:/usr/lib/ipsec/libstrongswan.so.0"
	# openssl, gcm, curve25519, kdf, pem, pkcs1, x509, pubkey, gmp...
	"libstrongswan-standard-plugins:/usr/lib/ipsec/plugins/libstrongswan-openssl.so"
	# curve25519, gcm, drbg
	"libstrongswan-extra-plugins:/usr/lib/ipsec/plugins/libstrongswan-curve25519.so"
	# kernel-libipsec, counters
	"libcharon-extra-plugins:/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so"
	# eap-mschapv2 (EAP road warriors against FreeRADIUS, test/gateway)
	"libcharon-extauth-plugins:/usr/lib/ipsec/plugins/libstrongswan-eap-mschapv2.so"
	"iproute2:/usr/sbin/ip"
)

need=()
for c in "${checks[@]}"; do
	pkg=${c%%:*} file=${c#*:}
	[ -e "$file" ] || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
	echo "install-strongswan: nothing to install"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-strongswan: missing ${need[*]}: run as root or apt-get install them" >&2
	exit 1
fi

prc=/usr/sbin/policy-rc.d
saved=$prc.install-strongswan
# Put ours in place for the install, keeping any existing one (e.g.
# Docker's) aside and restoring it afterwards, whatever happens.
restore() {
	rm -f "$prc"
	if [ -e "$saved" ]; then mv "$saved" "$prc"; fi
}
if [ -e "$prc" ]; then mv "$prc" "$saved"; fi
trap restore EXIT
printf '#!/bin/sh\n# install-strongswan: start no service during the install\nexit 101\n' >"$prc"
chmod 755 "$prc"

echo "install-strongswan: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
restore
trap - EXIT

echo "install-strongswan: done"
