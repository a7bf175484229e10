// Package gwtest holds what the tests that run secgwd against real peers
// in network namespaces share (test/gateway, test/soak, and charontest):
// commands with a bounded time and traffic (ping, a TCP echo transfer)
// between addresses inside the namespaces. charontest starts the peer.
package gwtest
