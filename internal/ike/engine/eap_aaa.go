package engine

import (
	"net/netip"
	"time"
)

// AAA is the authentication backend of remote-auth-method eap-radius
// and pre-shared-key-radius: the daemon's RADIUS client
// (internal/radius, adapted in ikesvc). The engine never waits for it:
// EAP hands it one message, PSK one identity, and goes on, and done,
// called once from any goroutine when the server answered or gave up,
// resumes the IKE SA under its worker's lock (eap.go, psk_aaa.go).
type AAA interface {
	// EAP relays one EAP message of a peer to the server.
	EAP(r AAARequest, done func(AAAReply))
	// PSK asks the server for the pre-shared key of the peer identity
	// r.UserName (r.EAP and r.State are nil): an Accept carries it in
	// AAAReply.PSK.
	PSK(r AAARequest, done func(AAAReply))
	// Account reports an accounting record (RFC 2866). It is called with
	// the lock of the SA's worker held: it must not block (queue the
	// record) and must not call the Engine.
	Account(r AcctRecord)
}

// AAARequest is one EAP message of a peer for the AAA server.
type AAARequest struct {
	VPN string
	// UserName is the peer's EAP identity (its EAP-Response/Identity).
	UserName string
	// EAP is the peer's whole EAP message; State the server's State of
	// its last challenge (nil at first).
	EAP, State []byte
	// Peer and Local are the IKE addresses.
	Peer, Local netip.Addr
}

// AAAOutcome is the server's verdict.
type AAAOutcome uint8

// The verdicts of an AAA server (RADIUS Access-Challenge, -Accept,
// -Reject).
const (
	AAAChallenge AAAOutcome = iota + 1
	AAAAccept
	AAAReject
)

// AAAReply is the server's answer, or Err when no server answered.
type AAAReply struct {
	Outcome AAAOutcome
	// EAP is the message for the peer; State for the next request.
	EAP, State []byte
	// MSK is the Master Session Key of an accepted key-generating method
	// (RFC 3748 §7.10), nil for others. Never logged.
	MSK []byte
	// PSK is the peer's pre-shared key of an Accept to a PSK request
	// (RADIUS Tunnel-Password); nil when the server gave none. The
	// engine clears it once the peer's AUTH is checked. Never logged.
	PSK []byte
	// Attrs are the session attributes of an Accept.
	Attrs AAAAttrs
	// Err says why there is no verdict (no server answered); it never
	// holds a secret.
	Err error
}

// AAAAttrs are the session attributes an Access-Accept gave: virtual
// IPs and DNS servers (the vip-pool radius), Class for accounting.
type AAAAttrs struct {
	FramedIP, FramedIPv6 netip.Addr
	DNS                  []netip.Addr
	Class                [][]byte
}

// AcctStatus is the kind of an accounting record (RFC 2866 §5.1).
type AcctStatus uint8

// Accounting record kinds.
const (
	AcctStart AcctStatus = iota + 1
	AcctStop
	AcctInterim
)

// AcctRecord is one accounting record of an IKE SA authenticated by
// the AAA server: Start when it is established, Stop when it goes
// (Children are its child SAs then, still installed, for the counters).
type AcctRecord struct {
	Status    AcctStatus
	SessionID string
	VPN       string
	UserName  string
	// SA is the IKE SA's unique-id.
	SA          uint32
	Peer, Local netip.Addr
	Attrs       AAAAttrs
	// Duration is the time since the Start.
	Duration time.Duration
	Children []ChildSA
	// Reason is why the SA went (Stop).
	Reason string
}
