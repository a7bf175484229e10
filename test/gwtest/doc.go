// Package gwtest holds what the tests that run secgwd against real peers
// in network namespaces share (test/gateway, test/soak): commands with a
// bounded time, strongSwan's charon in a namespace with its own
// strongswan.conf, /run, vici socket and log, and traffic (ping, a TCP echo
// transfer) between addresses inside the namespaces.
package gwtest
