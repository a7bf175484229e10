// Package soak is the product soak test: a seeded, model-based random walk
// over what an operator and a peer can do, driven through the product's
// real interfaces only, with invariants checked after every step.
//
// Topology: three network namespaces, secgwd A (userspace dataplane) in
// the middle, secgwd B and strongSwan charon (kernel-libipsec) on two
// veth links:
//
//	10.2.x.1 [B] 192.0.2.2 --- 192.0.2.1 [A] 198.51.100.1 --- 198.51.100.2 [charon] 10.3.x.1
//	                                      10.1.x.1
//
// A's configuration is the subject of the walk (VPNs "to-b" and "to-c",
// IKE and IPsec templates, global options); B and charon keep a static
// configuration that accepts whatever A may propose.
//
// Operations (ops_test.go): NETCONF edit-config/commit, discard-changes,
// confirmed commit with its confirm or timeout, rollback, refused edits
// and refused commits; the initiate/rekey/reauth/flush RPCs on A and B;
// <get> of state and CLI shows; charon's initiate/terminate/rekey and a
// restart of charon; traffic through the established child SAs.
//
// Invariants (invariants_test.go) after every step: no panic in any
// secgwd log, every NETCONF request answered within a bound, running
// equal to the model, SAs only for configured VPNs and policies (after a
// grace time), the dataplane's SAs and policies equal to the child SAs
// of the state; after a settle time: start-action start VPNs up, the
// peers' views of the SAs agree, traffic passes. Goroutines and RSS of
// each secgwd must not grow without bound.
//
// The short form runs in `go test ./...`; `make soak` runs the long form
// (-soak.steps, -soak.duration). A failure prints its seed: rerun it with
// `go test ./test/soak -soak.seed=N`. A missing prerequisite (root,
// strongSwan) fails the test, never skips it.
package soak
