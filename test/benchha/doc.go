// Package benchha is the driver of `make bench-ha`: the HA pair of the
// reference (test/hatest: two secgwd nodes with keepalived, userspace
// dataplane, examples/ha's vrrp group and ike ha) under N tunnels (10k)
// from cmd/secgw-loadtest in the peer namespace, established through the
// public VIP on node 1, the way make bench-ike drives the generator
// against secgwd (loadtest.SecgwdConfig's VPN: ECP-256, AES-GCM-256,
// PRF-HMAC-SHA256, a PSK, one child SA per tunnel). It measures:
//
//   - the time for the standby to hold all N IKE SAs (its ike ha state's
//     ike-sa-synced), from the generator's last setup;
//   - the sync link's bytes per SA (node 1's sync01 transmit counter over
//     the setups and the sync, TCP/IP headers and hellos included);
//   - a failover under load: keepalived stopped on node 1 (its VIPs move
//     to node 2 at once: priority-0 adverts), and at the same instant the
//     generator sends a liveness check (RFC 7296 §1.4) on every held SA
//     (loadtest.Generator.Mark, SIGUSR1), resent every 250 ms: the time
//     until 99 % of the tunnels answered through node 2 (target < 1 s),
//     and the tunnels still unanswered after 30 s, which a real peer
//     would renegotiate (target 0), beside node 2's IKE SA count.
//
// "Pass traffic" is IKE traffic here: the generator carries no ESP, so
// replay drops (target 0) are not measured at this scale; test/ha counts
// them with charon through the same failovers. Each figure is printed
// with its target and MET or NOT MET. It is a test only to share
// test/hatest; TestMain skips it unless SECGW_BENCH_HA=1, so `go test
// ./...` does not run it (root; about 2 minutes at 10k). Environment: N
// (10000), CONC (128), STRICT=1 (fail when a target is not met), OUT
// (where both secgwd logs, the notify logs and the generator's output
// go; /tmp/secgw-bench-ha), PROFILE=1 (secgwd with -pprof, and a 10 s CPU
// profile of each node from the failover on, into OUT/cpu-nodeN.pprof).
package benchha
