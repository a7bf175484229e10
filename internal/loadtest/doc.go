// Package loadtest is the IKEv2 load generator and the benchmark responder
// behind cmd/secgw-loadtest.
//
// The generator (Generator) is a lean IKEv2 initiator built directly on
// internal/ike/wire and internal/ike/crypto rather than on the engine: it
// keeps per tunnel only what the next message needs, runs every tunnel on
// a fixed set of goroutines (one reader per UDP socket, a few starters)
// and one runtime timer per tunnel in flight, so that it costs less CPU
// per tunnel than the responder it measures. Each tunnel is IKE_SA_INIT,
// then IKE_AUTH with a pre-shared key and the first child SA (RFC 7296
// §1.2), from its own identity (user%d@load.test), spread over many source
// addresses and ports, at a target rate (Pacer) or as fast as a
// concurrency limit allows. The Report gives setups per second, latency
// percentiles and failures by reason. The key exchange of IKE_SA_INIT is
// ECP-256 unless the Profile names another (SetKeyExchanges), and a hybrid
// profile adds post-quantum key exchanges (ML-KEM-768/1024) as RFC 9370
// additional key exchanges, one IKE_INTERMEDIATE exchange (RFC 9242) each
// before IKE_AUTH, with the IntAuth chain in the AUTH payloads. The
// generator does not announce IKE fragmentation (RFC 7383), so the
// responder sends its IKE_INTERMEDIATE responses whole (1,153 octets for
// ML-KEM-768, below the engine's 1,280-octet fragment size even with the
// IP and UDP headers, so it would not fragment them either way; the 1,633
// octets of ML-KEM-1024 rely on IP fragmentation).
//
// After establishment the generator can hold the SAs for a soak (soak.go):
// it answers the responder's liveness checks (RFC 7296 §1.4, DPD), deletes
// and CREATE_CHILD_SA requests, and can send liveness checks of its own.
// It can also flood half-open IKE_SA_INIT requests that it never completes
// (flood.go), to exercise cookies and DoS limits.
//
// Responder (responder.go) runs the engine on real UDP sockets with a
// dataplane that discards child SAs and a configuration that accepts the
// generator's identities, with the scale knobs of global-options (threads,
// sa-table-size, sa-table-segments), the dos-protection limits and, for a
// soak, the engine's own DPD (dpd-delay); it reports its CPU time and
// resident memory from /proc (proc.go) and the engine's DoS counters.
// secgwd.go gives secgwd the same configuration over NETCONF
// (ResponderIKE) and counts its IKE and child SAs from its state.
// test/bench-ike.sh compares charon, secgwd and the engine-only
// responder; test/soak-ike.sh holds 100k SAs with DPD running.
package loadtest
