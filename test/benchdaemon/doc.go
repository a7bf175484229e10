// Package benchdaemon is the driver of `make bench-daemon`
// (test/bench-daemon.sh): it measures, through the real secgwd with its
// IKE subsystem and the userspace dataplane (in a network namespace) and
// a real NETCONF client (internal/ncclient), the figures of the
// concentrator scale targets for running configurations of 1k, 10k and
// 100k VPNs of the concentrator shape (internal/configtest.Concentrator):
//
//   - the commit of one new VPN (edit-config merge of the VPN into the
//     candidate, then commit), median and p90 of COMMITS (20): target
//     median <= 10 ms at 100k, and the 100k median <= 3x the 1k one;
//   - the start of secgwd from the stored configuration to serving
//     NETCONF (a NETCONF session open): target <= 5 s at 100k; printed
//     with the CPU time secgwd used until then (user+system), which a
//     loaded machine does not inflate as it does the wall time;
//   - secgwd's resident memory once started, no SAs: target <= 300 MB at
//     100k.
//
// The configuration is loaded over NETCONF in chunks (CHUNK VPNs per
// edit-config, one commit), then secgwd is restarted from what it stored.
// It is a test only so that it can build its configurations with the
// test helpers; TestMain skips it unless SECGW_BENCH_DAEMON=1, so `go
// test ./...` does not run it (it needs root, and takes minutes at 100k).
// Environment: SIZES (VPNs, space-separated; "1000 10000 100000"),
// COMMITS (20), CHUNK (2000), STRICT=1 (fail when a target is not met),
// CPUPROFILE=FILE (a CPU profile of each restarted secgwd in FILE.n),
// HEAPPROFILE=FILE (its heap profile once started, after a GC, in
// FILE.n, and the text form with the runtime's memory statistics in
// FILE.n.txt; through secgwd's -pprof on 127.0.0.1:6060 in the run's
// network namespace).
package benchdaemon
