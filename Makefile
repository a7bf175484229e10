# secgw — build, generate, lint, test.
GO        ?= go
YANGLINT  ?= yanglint
PKGS      := ./...
YANG_SRC  := yang/secgw-vrf.yang yang/secgw-ike.yang yang/secgw-ha.yang yang/secgw-config.yang yang/secgw-kpi.yang yang/secgw-aaa.yang yang/ietf-netconf-acm.yang
YANG_ALL  := yang/ietf-inet-types.yang yang/ietf-yang-types.yang yang/secgw-types.yang $(YANG_SRC)
# -ignore_unsupported: ygot cannot generate notifications (sa-event) and
# fails on them without it.
GENIGNORE ?= -ignore_unsupported
GENFILE   ?= generated/secgw.go
GENFLAGS  := $(GENIGNORE) -path=yang -generate_fakeroot -fakeroot_name=device -generate_getters \
	-generate_append -generate_delete -generate_leaf_getters -generate_simple_unions \
	-generate_populate_defaults -package_name=generated

.PHONY: binaries install deb all build generate check-generated lint yanglint test unit test-kernel bench bench-ike bench-ike-cert bench-ike-pq bench-sa bench-vip bench-esp bench-daemon deps demo demo-strongswan soak

all: build

# The version linked into secgwd and secgw (-version): git describe, else
# devel. The Debian version is made from it by cmd/secgwd/packaging/deb/build.sh.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS     := -s -w -X secgw/internal/version.Version=$(VERSION)
PREFIX      ?= /usr/local
DESTDIR     ?=
SYSCONFDIR  ?= /etc
BINDIR      ?= bin
DEB_OUT     ?= dist

# The two programs, static (CGO_ENABLED=0: the package runs on any
# Debian of the architecture), with the version linked in.
binaries:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINDIR)/ ./cmd/secgwd ./cmd/secgw

# install copies the programs, the systemd unit (its paths under PREFIX),
# the default options (SYSCONFDIR/default/secgwd), the bash completion and the YANG modules under
# DESTDIR/PREFIX. The data directory is secgwd's to create (mode 0700).
install: binaries
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/secgw/yang \
		$(DESTDIR)$(PREFIX)/share/doc/secgw $(DESTDIR)$(SYSCONFDIR)/default
	install -m 0755 $(BINDIR)/secgwd $(DESTDIR)$(PREFIX)/sbin/secgwd
	install -m 0755 $(BINDIR)/secgw $(DESTDIR)$(PREFIX)/bin/secgw
	sed -e 's|@SBINDIR@|$(PREFIX)/sbin|' -e 's|file:///usr/share/doc/secgw|file://$(PREFIX)/share/doc/secgw|' -e 's|/etc/default/secgwd|$(SYSCONFDIR)/default/secgwd|' cmd/secgwd/packaging/secgwd.service >$(DESTDIR)$(PREFIX)/lib/systemd/system/secgwd.service
	install -m 0644 cmd/secgwd/packaging/secgwd.default $(DESTDIR)$(SYSCONFDIR)/default/secgwd
	$(BINDIR)/secgw -completion bash >$(DESTDIR)$(PREFIX)/share/bash-completion/completions/secgw
	install -m 0644 yang/*.yang $(DESTDIR)$(PREFIX)/share/secgw/yang/
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/secgw/README.md

# deb builds DEB_OUT/secgw_DEBVERSION_ARCH.deb with dpkg-deb: secgwd in
# /usr/sbin, secgw in /usr/bin, the systemd unit, /etc/default/secgwd (a
# conffile), the bash completion, the YANG modules; postinst creates
# /var/lib/secgw (0700) and enables the unit; purge removes the data.
deb: binaries
	@command -v dpkg-deb >/dev/null || { echo "dpkg-deb missing: apt-get install dpkg"; exit 1; }
	./cmd/secgwd/packaging/deb/build.sh $(BINDIR) '$(VERSION)' $(DEB_OUT)

build:
	$(GO) build $(PKGS)

# generated/ is ygot's output for yang/, and each *_string.go stringer's
# for an enum (the //go:generate lines): never edit them by hand.
generate:
	$(GO) tool generator $(GENFLAGS) -output_file=generated/secgw.go $(YANG_SRC)
	gofmt -w generated/secgw.go
	$(GO) generate $(PKGS)

# Regenerates into a temporary directory and fails when generated/ or a
# stringer file under STRINGROOT is stale or cannot be generated. The
# gzipped schema blob ygot embeds (ySchema) differs from run to run for the
# same modules, so the comparison leaves it out; everything else must match
# byte for byte.
STRINGROOT ?= .
check-generated:
	@./yang/check-generated.sh "$(GO)" "$(GENFLAGS)" "$(YANG_SRC)" $(GENFILE) $(STRINGROOT)

# yanglint prints warnings on stderr and still exits 0: any output fails lint.
yanglint:
	@command -v $(YANGLINT) >/dev/null || { echo "yanglint missing: apt-get install libyang2-tools"; exit 1; }
	@out=$$($(YANGLINT) -D -p yang $(YANG_ALL) 2>&1); rc=$$?; \
	if [ $$rc -ne 0 ] || [ -n "$$out" ]; then echo "$$out"; echo "yanglint: failed"; exit 1; fi; \
	echo "yanglint: $(words $(YANG_ALL)) modules, 0 errors, 0 warnings"

lint: yanglint
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags vmtest ./test/kernel

# deps installs what the tests need on a fresh Debian 12 (idempotent).
deps:
	./test/install-deps.sh

unit:
	$(GO) test -count=1 $(PKGS)

# test-kernel proves the kernel dataplane on a kernel with ESP: it boots
# Debian's stock kernel in qemu (TCG) from an initramfs with a static test
# binary of ./test/kernel, which programs SAs and policies through
# internal/dataplane/xfrm in two network namespaces and pings through them
# (each suite, ESN with a 4096 window, UDP encapsulation, an XFRM
# interface, an HA takeover by IKE engines with shifted sequence numbers),
# and with static secgwd and secgw binaries runs README's cross-vrf SVTI
# walkthrough between two secgwd processes (-dataplane kernel).
# Root; installs qemu-system-x86 if missing; downloads are
# cached in ~/.cache/secgw. It fails, never skips. SECGW_KERNEL_RUN (a
# go test -run pattern) runs some tests only.
test-kernel:
	./test/kernel/run.sh

test: deps check-generated lint unit test-kernel

# soak is the long form of test/soak: the random walk of
# test/soak (two secgwd and a charon in network namespaces) for
# SOAK_DURATION (default 30m), seed SOAK_SEED (default: from the clock,
# printed). Root; `go test ./...` runs its short form (400 steps of
# seed 1, so that make test is repeatable). A failure prints the seed to
# rerun it with.
SOAK_DURATION ?= 30m
SOAK_SEED     ?= 0
soak:
	$(GO) test -count=1 -timeout 0 -v -run TestSoak ./test/soak -soak.duration=$(SOAK_DURATION) -soak.seed=$(SOAK_SEED)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

# bench-ike compares the IKE setup rate, CPU and memory per SA of secgwd
# itself (configured over NETCONF, child SAs installed in the userspace
# dataplane) with strongSwan charon doing the same work (kernel-libipsec)
# and with the engine alone (child SAs discarded); it prints
# secgwd/charon (target >= 3) and secgwd/engine-only (target >= 0.7) and
# fails unless each responder established all N. Root only, not part of
# `make test`. N, CONC, SRCS, CHILDLESS, ONLY and OUT tune it (see the
# script).
bench-ike:
	./test/bench-ike.sh

# bench-ike-cert is bench-ike with ECDSA P-256 certificates instead of
# the PSK: every side verifies a chain of two (certificate and
# intermediate CA) to a test root; prints secgwd/charon (target >= 3).
bench-ike-cert:
	CERT=1 ./test/bench-ike.sh

# bench-ike-pq is bench-ike's cost of going post-quantum: secgwd and the
# engine alone, X25519 against X25519 + ML-KEM-768 (RFC 9370, RFC 9242) in
# one run; prints the setup rates, their ratio hybrid/classical and
# secgwd's RSS per SA for both (charon 5.9.8 has no ML-KEM). N, CONC,
# SRCS, CHILDLESS, ONLY and OUT as for bench-ike.
bench-ike-pq:
	PQ=1 ./test/bench-ike.sh

# bench-vip: N (10000) road warriors of secgw-loadtest -vip get distinct
# virtual IPs from one pool of secgwd, and the same ones after secgwd
# restarts (the leases are kept in its data directory). Root. N, CONC,
# SRCS, POOL, OUT: see test/bench-vip.sh.
bench-vip:
	./test/bench-vip.sh

# bench-sa holds N SAs (100000) established through secgwd (userspace
# dataplane) for HOLD (10m) while secgwd runs DPD (DPD, 30s) and rekeys
# every child SA (REKEY, 60s; life-time LIFE, REKEY plus half), the
# generator answering and rekeying every IKE SA itself (IKE_REKEY, 2/5 of
# HOLD); prints the SAs lost, secgwd's RSS per SA and at 100k, and
# whether its RSS stays bounded, each against its target with MET/NOT
# MET, and whether the generator kept up; fails unless none was lost.
# Root only, not part of `make test`; N=20000 HOLD=2m is a short run.
bench-sa:
	HOLD=$${HOLD:-10m} N=$${N:-100000} ./test/bench-ike.sh

# bench-daemon measures the concentrator scale figures through secgwd
# with a NETCONF client: the commit of one VPN into 1k/10k/100k VPNs
# (median <= 10 ms at 100k, <= 3x the 1k one), the start from a stored
# 100k-VPN configuration (<= 5 s) and its RSS (<= 300 MB), beside the
# datastore's own commit; prints each with its target and MET/NOT MET.
# Root only, not part of `make test`. SIZES, COMMITS, CHUNK and STRICT
# tune it (SIZES="1000 10000" is a quick run; see the script).
bench-daemon:
	./test/bench-daemon.sh

# bench-ha measures the HA pair of examples/ha (test/hatest: two secgwd
# with keepalived in namespaces) under N (10000) tunnels from
# secgw-loadtest through the public VIP: the time for the standby to hold
# them all, the sync link's bytes per SA, and a failover under load (time
# until 99 % of the tunnels answer again, target < 1 s; tunnels lost,
# target 0); prints each figure with its target and MET/NOT MET. Root
# only, not part of `make test`; N, CONC and STRICT=1 tune it (see
# test/benchha/doc.go).
.PHONY: bench-ha
bench-ha:
	SECGW_BENCH_HA=1 $(GO) test -count=1 -timeout 15m -v -run '^TestBenchHA$$' ./test/benchha

# bench-esp compares the ESP throughput (iperf3 TCP through the tunnel) of
# secgwd's userspace dataplane with strongSwan's kernel-libipsec on the
# same topology, prints the ratio (target >= 5), and runs internal/esp's
# BenchmarkESPvsRawGCM (target >= 0.7 of raw AES-GCM); root only, not part
# of `make test`. DURATION, STREAMS, OUT and STRICT tune it (see the
# script).
bench-esp:
	./test/bench-esp.sh

# The two-gateway demo (README): builds secgwd and secgw into bin/, runs
# examples/demo/demo.sh (network namespaces, root).
demo:
	$(GO) build -o bin/ ./cmd/secgwd ./cmd/secgw
	BIN=$(CURDIR)/bin ./examples/demo/demo.sh

# The same demo against a strongSwan peer (charon with kernel-libipsec,
# configured with swanctl): examples/demo/demo-strongswan.sh (root,
# test/install-strongswan.sh installs strongSwan if missing).
demo-strongswan:
	$(GO) build -o bin/ ./cmd/secgwd ./cmd/secgw
	./test/install-strongswan.sh
	BIN=$(CURDIR)/bin ./examples/demo/demo-strongswan.sh
