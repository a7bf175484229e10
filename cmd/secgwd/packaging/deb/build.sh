#!/bin/bash
# Builds the Debian package of secgw with dpkg-deb (no debhelper):
#   cmd/secgwd/packaging/deb/build.sh BINDIR VERSION OUTDIR
# BINDIR holds secgwd and secgw built for the package (make deb builds
# them with the version linked in). VERSION is git describe's; a Debian
# version must start with a digit: v1.2.3 gives 1.2.3, 1.2.3-4-gHASH
# 1.2.3~4~gHASH, an untagged HASH 0.0~gitHASH. Writes
# OUTDIR/secgw_DEBVERSION_ARCH.deb and prints its path.
set -euo pipefail
bindir=$1 version=${2#v} out=$3
case $version in
[0-9]*) ;;
*) version=0.0~git$version ;;
esac
version=${version//-/\~}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"

install -d -m 0755 "$stage/DEBIAN" "$stage/usr/sbin" "$stage/usr/bin" "$stage/lib/systemd/system" \
	"$stage/etc/default" "$stage/usr/share/doc/secgw" "$stage/usr/share/bash-completion/completions" \
	"$stage/usr/share/secgw/yang"
install -m 0755 "$bindir/secgwd" "$stage/usr/sbin/secgwd"
install -m 0755 "$bindir/secgw" "$stage/usr/bin/secgw"
sed 's|@SBINDIR@|/usr/sbin|' "$root/cmd/secgwd/packaging/secgwd.service" >"$stage/lib/systemd/system/secgwd.service"
chmod 0644 "$stage/lib/systemd/system/secgwd.service"
install -m 0644 "$root/cmd/secgwd/packaging/secgwd.default" "$stage/etc/default/secgwd"
"$bindir/secgw" -completion bash >"$stage/usr/share/bash-completion/completions/secgw"
install -m 0644 "$root/README.md" "$stage/usr/share/doc/secgw/README.md"
install -m 0644 "$root"/yang/*.yang "$stage/usr/share/secgw/yang/"
for s in postinst prerm postrm; do
	install -m 0755 "$here/$s" "$stage/DEBIAN/$s"
done
echo /etc/default/secgwd >"$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: secgw
Version: $version
Architecture: $arch
Maintainer: secgw maintainers <secgw@localhost>
Installed-Size: $size
Suggests: openssh-client
Section: net
Priority: optional
Homepage: file:///usr/share/doc/secgw/README.md
Description: IPsec security gateway managed over NETCONF
 secgwd is an IKEv2 responder and initiator with kernel XFRM and
 userspace ESP dataplanes, configured through YANG over NETCONF;
 secgw is its command-line interface.
CONTROL
mkdir -p "$out"
deb="$out/secgw_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
