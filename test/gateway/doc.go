// Package gateway holds the end-to-end tests of the secgw product against
// strongSwan: secgwd (the built daemon, userspace ESP dataplane on a TUN
// device) runs in one network namespace, Debian's charon
// (kernel-libipsec, its own strongswan.conf, /run and vici socket) in
// another, joined by a veth pair. secgwd is configured only through
// NETCONF: the secgw CLI for the configuration and the initiate RPC,
// go-netconf for <get> and for edit-config. Traffic goes between
// addresses on loopback in each namespace, inside the protected
// networks, so every packet crosses the tunnel.
//
// TestStrongSwan runs secgwd against charon, with secgwd initiating (the
// initiate RPC) and charon initiating (swanctl --initiate): the tunnel
// comes up, ping and TCP go both ways, `secgw show ike ike-sa details`,
// <get> and `swanctl --list-sas` agree on the SAs (SPIs, algorithms,
// states), committing a change to another VPN leaves the tunnel and its
// SPIs alone, and deleting the VPN by NETCONF removes the SAs on both
// sides. TestSuites: for each suite, IPv4 and IPv6 inner
// traffic (one child SA per family, one initiated by each side), ping
// and TCP both directions, algorithms agreeing on both sides. TestPPK
// configures RFC 8784 PPKs over NETCONF and checks charon's "using PPK",
// the /PPK of `show ike ike-sa details`, <get>'s ppk-used and the
// ppk-required failure count.
//
// TCP runs in the test process: a goroutine locks its OS thread, enters
// the namespace with setns(2) just while it creates its socket, and
// leaves; the socket stays in the namespace. This gives the test the
// transferred bytes directly, with no helper process to start and read.
//
// TestMain builds secgwd and secgw once. The tests need root, iproute2,
// ping and strongSwan (test/install-deps.sh installs them); a missing
// one fails the test with the package to install, never skips it.
package gateway
