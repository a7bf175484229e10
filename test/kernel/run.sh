#!/bin/bash
# make test-kernel: proves the kernel dataplane (internal/dataplane/xfrm) on
# a real kernel with ESP. It boots Debian's stock kernel (linux-image, from
# apt, unpacked with dpkg-deb, not installed) in qemu with TCG, from an
# initramfs holding busybox-static, the ESP/XFRM modules, a static
# `go test -c` binary of ./test/kernel (tag vmtest) and static secgwd and
# secgw binaries (in /secgw-bin, for TestCrossVRFSecgwd), and reads the
# verdict line the guest prints (qemu exits 0 on a guest panic too).
# SECGW_KERNEL_RUN, a go test -run pattern, runs some tests only.
#
# Downloads are cached in $SECGW_CACHE (default ~/.cache/secgw), outside
# the repository, shared by concurrent runs: the kernel is unpacked under
# a lock, and each run keeps its own serial log (copied to
# last-run.log at the end). Anything missing is installed (root) or
# named; it never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."

start=$(date +%s)
cache=${SECGW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secgw}/kernel
mkdir -p "$cache"
say() { echo "test-kernel: [$(($(date +%s) - start)) s] $*" >&2; }
die() { echo "test-kernel: FAIL: $*" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return
	[ "$(id -u)" -eq 0 ] || die "apt lists are needed and this is not root"
	apt-get update -qq || die "apt-get update failed"
	apt_updated=1
}

# The three slow steps run side by side: installing qemu (apt), fetching
# and unpacking the kernel (apt-get download takes no dpkg lock), and
# building the test binary.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# apt lists: needed to name the kernel package and to download anything.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}' || true)
if [ -z "$kpkg" ]; then
	apt_update
	kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$kpkg" ] || die "cannot tell which linux-image package linux-image-amd64 depends on"
kver=${kpkg#linux-image-}
root=$cache/$kver

# 1. qemu.
install_qemu() {
	command -v qemu-system-x86_64 >/dev/null && return
	[ "$(id -u)" -eq 0 ] || die "qemu-system-x86_64 missing: apt-get install qemu-system-x86 (as root)"
	say "installing qemu-system-x86"
	apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null 2>&1 ||
		{ apt_update; apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null; } ||
		die "apt-get install qemu-system-x86 failed"
}

# 2. The kernel and busybox-static packages, downloaded (not installed).
fetch() { # package: its .deb in $cache
	local deb
	deb=$(ls "$cache/$1"_*.deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		say "downloading $1"
		(cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$1" >/dev/null 2>&1) ||
			{ apt_update; (cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$1" >/dev/null); } ||
			die "apt-get download $1 failed"
		deb=$(ls "$cache/$1"_*.deb | head -1)
	fi
	echo "$deb"
}
unpack_kernel() {
	local kdeb bdeb
	if [ -f "$root/.unpacked" ]; then
		# A cache unpacked before the VRF device test lacks vrf.ko: add
		# it (and its modules.dep line) without unpacking the rest again.
		ls "$root"/lib/modules/*/kernel/drivers/net/vrf.ko >/dev/null 2>&1 && return
		kdeb=$(fetch "$kpkg")
		dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$root" --wildcards './lib/modules/*/kernel/drivers/net/vrf.ko'
		"$root/bin/busybox" depmod -b "$root" "$kver"
		return
	fi
	kdeb=$(fetch "$kpkg")
	bdeb=$(fetch busybox-static)
	rm -rf "$root" && mkdir -p "$root"
	say "unpacking $(basename "$kdeb")"
	dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$root" --wildcards \
		'./boot/vmlinuz-*' './lib/modules/*/modules.*' './lib/modules/*/kernel/net/*' \
		'./lib/modules/*/kernel/crypto/*' './lib/modules/*/kernel/lib/*' \
		'./lib/modules/*/kernel/drivers/net/veth.ko' './lib/modules/*/kernel/drivers/net/vrf.ko'
	dpkg-deb --fsys-tarfile "$bdeb" | tar -x -C "$root" ./bin/busybox
	# The package has no modules.dep: busybox's depmod makes one.
	"$root/bin/busybox" depmod -b "$root" "$kver"
	touch "$root/.unpacked"
}

install_qemu >"$work/qemu.log" 2>&1 &
qemu_job=$!
# Runs share the cache: one unpacks at a time (flock), the others wait.
(flock 9 && unpack_kernel) 9>"$cache/.lock" >"$work/kernel.log" 2>&1 &
kernel_job=$!

# 3. The test binary and the secgwd and secgw binaries (TestCrossVRFSecgwd
# runs two secgwd processes configured with the CLI): static, so the
# initramfs needs no libc; stripped, to keep the initramfs small.
say "building the kernel test binary, secgwd and secgw"
CGO_ENABLED=0 go test -c -tags vmtest -o "$work/xfrm.test" ./test/kernel || die "go test -c ./test/kernel failed"
CGO_ENABLED=0 go build -ldflags='-s -w' -o "$work/bin/" ./cmd/secgwd ./cmd/secgw || die "go build ./cmd/secgwd ./cmd/secgw failed"
wait $qemu_job || { cat "$work/qemu.log"; die "qemu install failed"; }
wait $kernel_job || { cat "$work/kernel.log"; die "kernel download or unpack failed"; }
cat "$work/qemu.log" "$work/kernel.log"
busybox=$root/bin/busybox
mods=$root/lib/modules/$kver

# 4. The modules ESP needs, dependencies first (modules.dep lists each
# module's dependencies, transitively, the last to be loaded first).
# drbg+sha512: the kernel RNG (without it every SA add fails with ENOENT);
# ctr+ghash for GCM; authencesn for ESN with CBC+HMAC; vrf for the l3vrf
# (Linux VRF device) of inject-routes.
want="xfrm_user esp4 esp6 xfrm_interface veth vrf gcm ghash-generic ctr authenc authencesn
chacha20poly1305 chacha_generic poly1305_generic seqiv echainiv drbg sha512_generic"
order=$(awk -v want="$want" '
	function base(p) { sub(/.*\//, "", p); sub(/\.ko$/, "", p); gsub(/-/, "_", p); return p }
	{ m = $1; sub(/:$/, "", m); path[base(m)] = m; deps[base(m)] = ""
	  for (i = 2; i <= NF; i++) deps[base(m)] = deps[base(m)] " " $i }
	END {
		n = split(want, w, /[ \n]+/)
		for (i = 1; i <= n; i++) {
			if (w[i] == "") continue
			k = w[i]; gsub(/-/, "_", k)
			if (!(k in path)) { builtin[k] = 1; continue }
			c = split(deps[k], d, " ")
			for (j = c; j >= 1; j--) if (!(d[j] in seen)) { seen[d[j]] = 1; print d[j] }
			if (!(path[k] in seen)) { seen[path[k]] = 1; print path[k] }
		}
	}' "$mods/modules.dep")
for m in $want; do
	k=${m//-/_}
	grep -q "/${m}.ko:\|/${k}.ko:" "$mods/modules.dep" || grep -q "/${m}.ko$\|/${k}.ko$" "$mods/modules.builtin" ||
		die "kernel $kver has neither a module nor a built-in $m"
done

# 5. The initramfs: busybox as /bin/sh, the modules, the binary, /init.
ir=$work/root
mkdir -p "$ir"/{bin,proc,sys,dev,tmp,run,modules,secgw-bin}
cp "$busybox" "$ir/bin/busybox"
ln -s busybox "$ir/bin/sh"
i=0
for m in $order; do
	i=$((i + 1))
	cp "$mods/$m" "$ir/modules/$(printf %02d $i)-$(basename "$m")"
done
cp "$work/xfrm.test" "$ir/xfrm.test"
cp "$work/bin/secgwd" "$work/bin/secgw" "$ir/secgw-bin/"
# SECGW_KERNEL_RUN (a go test -run pattern) picks tests, when working on one.
echo "${SECGW_KERNEL_RUN:-.}" >"$ir/run-pattern"
cat >"$ir/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /modules/*.ko; do
	insmod "$m" || echo "SECGW-MODULE-FAILED $m"
done
echo "SECGW-TESTS-BEGIN $(uname -r)"
/xfrm.test -test.v -test.timeout 150s -test.run "$(cat /run-pattern)"
rc=$?
if [ $rc -eq 0 ]; then echo "SECGW-VERDICT: PASS"; else echo "SECGW-VERDICT: FAIL (exit $rc)"; fi
poweroff -f
EOF
chmod +x "$ir/init"
(cd "$ir" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$work/initramfs.gz")

# 6. Boot. TCG: this machine has no KVM; guest time runs slower than
# host time, hence the generous limit.
say "booting $kver in qemu (TCG), $(du -h "$work/initramfs.gz" | cut -f1) initramfs"
# The serial log is this run's own (runs may overlap); a copy is left as
# $cache/last-run.log.
log=$work/serial.log
trap 'cp "$log" "$cache/last-run.log.$$" 2>/dev/null && mv -f "$cache/last-run.log.$$" "$cache/last-run.log"; rm -rf "$work"' EXIT
timeout 300 qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 768M \
	-kernel "$root/boot/vmlinuz-$kver" -initrd "$work/initramfs.gz" \
	-append "console=ttyS0 panic=-1 oops=panic rdinit=/init quiet loglevel=3" \
	-serial "file:$log" -display none -nodefaults -no-reboot -monitor none ||
	say "qemu exited with $?"
tr -d '\r' <"$log" | grep -E '^( *--- (PASS|FAIL|SKIP)| +[a-z_]+\.go:[0-9]+|PASS$|FAIL$|panic:|SECGW-)' || true
if grep -q 'SECGW-MODULE-FAILED' "$log"; then
	die "a kernel module did not load (log: $cache/last-run.log)"
fi
if grep -q -- '--- SKIP' "$log"; then
	die "a kernel test skipped (log: $cache/last-run.log)"
fi
if ! grep -q '^SECGW-VERDICT: PASS' <(tr -d '\r' <"$log"); then
	die "no PASS verdict from the guest (log: $cache/last-run.log)"
fi
passed=$(grep -c -- '--- PASS' "$log" || true)
say "PASS: $passed tests on kernel $kver in $(($(date +%s) - start)) s"
