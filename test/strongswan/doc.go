// Package strongswan holds the interop tests of the IKE engine against
// Debian's strongSwan charon (5.9.8). Each test builds two network
// namespaces joined by a veth pair, runs a private charon in one of them
// (kernel-libipsec, its own strongswan.conf, /run and vici socket, keys
// logged at ike=4) and our engine, on real UDP sockets (internal/ike/udpconn)
// with a recording dataplane, in the other.
//
// The tests need root and the packages that test/install-strongswan.sh
// installs; a missing one fails the test with the package's name.
//
// Our engine runs in the test process: the goroutine locks its OS thread,
// enters the namespace with setns(2) only while the sockets are created,
// and returns. A socket stays in the namespace it was created in, so the
// engine then runs on any thread while its traffic stays inside the
// namespace, and the test reads the engine's dataplane and logs directly
// (re-executing the test binary under ip netns exec would need a second
// channel to get them back).
//
// TestInterop covers the suites in both roles (TestInteropIPv6
// one of them over IPv6 outer addresses) and checks SPIs, algorithms and
// keys on both sides; TestDelete deletes IKE and child SAs from either
// side; TestFragmentation runs both roles with IKE_AUTH split into IKE
// fragments (RFC 7383) in both directions. The lifecycle tests
// (lifecycle_test.go) rekey the child SA (with and without PFS) and the
// IKE SA from either side (swanctl --rekey on charon's), reauthenticate
// make-before-break from either side, and check DPD with dpd-action clear
// (charon killed) and restart (the link to charon's namespace down, then
// up), comparing the keys of the rekeyed SAs with charon's log.
// unique_test.go restarts charon or our engine (a crash) and checks that
// the INITIAL_CONTACT of the new IKE SA leaves no stale IKE SA on the
// other side, and that unique-sa replace deletes charon's first IKE SA
// when it opens a second. Most tests
// wait on charon and on protocol timers, so TestMain runs six at once
// unless -test.parallel says otherwise. When charon initiates, the
// datagrams it sent are decrypted with the keys it logged; `go test
// ./test/strongswan -run 'TestInterop|TestFragmentation' -update`
// writes them as the known-answer vectors
// internal/ike/engine/testdata/strongswan-ikeauth-*.json (checked by
// TestCapturedVectors without charon) and as fuzz seeds of wire.FuzzParse
// (charon's IKE_AUTH fragments included) and engine.FuzzResponder.
package strongswan
