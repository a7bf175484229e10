package config

import (
	"net/netip"
	"time"
)

// AAAMethod is a remote-auth-method served by the RADIUS servers of the
// model (ike radius): how a peer authenticates when its credentials live
// on an AAA server rather than in the VPN.
type AAAMethod uint8

// AAA methods.
const (
	// AAANone: the peer authenticates with what the VPN holds.
	AAANone AAAMethod = iota
	// AAAEAP is remote-auth-method eap-radius: the peer authenticates
	// with EAP (RFC 7296 §2.16), relayed to the RADIUS servers (RFC
	// 3579); its AUTH is computed with the MSK.
	AAAEAP
	// AAAPSK is remote-auth-method pre-shared-key-radius: the peer
	// authenticates with a shared-key AUTH (RFC 7296 §2.15) whose key is
	// the Tunnel-Password (RFC 2868 §3.5) of the Access-Accept the
	// RADIUS servers give for its identity (engine/psk_aaa.go).
	AAAPSK
)

// RADIUSServer is one entry of ike radius server, in the order tried.
type RADIUSServer struct {
	Addr               netip.Addr
	AuthPort, AcctPort uint16
	// Secret is the shared secret. Never log it.
	Secret  []byte
	Timeout time.Duration
	Retries int
}

// RADIUS is the ike radius container: the servers and the accounting
// settings.
type RADIUS struct {
	Servers []RADIUSServer
	// NASIdentifier is sent as NAS-Identifier.
	NASIdentifier string
	// Accounting sends Start/Stop (and Interim-Update every
	// InterimInterval when it is not 0) for the IKE SAs the servers
	// authenticated (RFC 2866).
	Accounting      bool
	InterimInterval time.Duration
}
