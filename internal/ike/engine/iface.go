package engine

import (
	"context"
	"net/netip"
	"secgw/internal/ipsec"
	"time"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
)

// Datagram is one UDP datagram with its addresses. On port 4500 Data starts
// with the Non-ESP Marker (RFC 3948 §2.2).
type Datagram struct {
	Local, Remote netip.AddrPort
	Data          []byte
	// Stream: the message goes or came over the TCP stream between the
	// two addresses (RFC 9329) rather than UDP. Such a message is seen
	// as one on port 4500: ports 4500 in Local and Remote, Data behind
	// the Non-ESP Marker (RFC 9329 §3.1), whatever the TCP ports.
	Stream bool
}

// Conn is the engine's UDP socket(s) on ports 500 and 4500. The in-memory
// twin is enginetest.Network.
type Conn interface {
	// Send transmits one datagram from d.Local to d.Remote.
	Send(d Datagram) error
	// Receive blocks until a datagram arrives or ctx is done.
	Receive(ctx context.Context) (Datagram, error)
}

// Clock schedules timers. The engine keeps the deadlines of its SAs'
// timers in a heap per worker and arms one Clock timer per worker, for the
// earliest (timers.go); a deadline cleared or moved meanwhile makes the
// timer find nothing due, so Stop need not win the race with the timer.
type Clock interface {
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// SystemClock is the Clock of package time; inside a testing/synctest
// bubble it runs on the bubble's fake time.
type SystemClock struct{}

// AfterFunc implements Clock with time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Dataplane receives the child SAs the engine negotiates. The recording
// twin is enginetest.Dataplane. One that cannot carry every ESP suite
// says which it can (ESPSupport, given as Options.SupportsESP): the
// engine offers and accepts no other.
type Dataplane interface {
	InstallChild(c ChildSA) error
	DeleteChild(c ChildSA) error
}

// BatchDataplane is implemented by a dataplane that installs or removes
// many child SAs at once for the price of one (childsa.Programmer: one
// Apply, one netlink batch or one version of the userspace tables). An HA
// role change moves every child SA of the node in or out of the
// dataplane (SetRole): 10k one by one is seconds, one batch tens of
// milliseconds. errs[i] is the outcome of cs[i], as InstallChild or
// DeleteChild would have returned it; a nil errs means all succeeded.
type BatchDataplane interface {
	InstallChildren(cs []ChildSA) (errs []error)
	DeleteChildren(cs []ChildSA) (errs []error)
}

// InstallChildren installs cs through dp: in one batch when dp is a
// BatchDataplane, else one child SA at a time. errs is as
// BatchDataplane's (nil: all installed). Wrappers of a Dataplane call it
// to pass batches through.
func InstallChildren(dp Dataplane, cs []ChildSA) []error {
	if b, ok := dp.(BatchDataplane); ok {
		return b.InstallChildren(cs)
	}
	return eachChild(cs, dp.InstallChild)
}

// DeleteChildren is InstallChildren for removal.
func DeleteChildren(dp Dataplane, cs []ChildSA) []error {
	if b, ok := dp.(BatchDataplane); ok {
		return b.DeleteChildren(cs)
	}
	return eachChild(cs, dp.DeleteChild)
}

// eachChild calls fn for each child SA and collects the errors (nil if
// none).
func eachChild(cs []ChildSA, fn func(ChildSA) error) []error {
	var errs []error
	for i, c := range cs {
		if err := fn(c); err != nil {
			if errs == nil {
				errs = make([]error, len(cs))
			}
			errs[i] = err
		}
	}
	return errs
}

// ReqIDs is implemented by a dataplane that ties the policies of a child
// SA to its SAs with a reqid (the programmer, internal/dataplane/childsa;
// 'ip xfrm state' shows it): the reqid the operational state reports for
// a child SA, kept by its rekeys. ok is false for a child SA the
// dataplane does not hold.
type ReqIDs interface {
	ReqID(inSPI uint32) (reqid uint32, ok bool)
}

// DirKeys are the keys of one direction of a child SA (RFC 7296 §2.17).
type DirKeys struct {
	Encr  []byte // encryption key, with the salt for AES-GCM / ChaCha20
	Integ []byte // integrity key, empty with an AEAD
}

// ChildSA is an established pair of ESP SAs as given to the dataplane.
// (The small fields are grouped: the engine keeps one per child SA.)
type ChildSA struct {
	VPN, Policy string
	// UniqueID numbers the child SA in the operational state
	// (unique-id); a rekey gives a new one. It is not the reqid, which
	// the dataplane assigns (ReqIDs).
	UniqueID uint32
	// RekeyOf is the unique-id of the child SA this one replaces (RFC
	// 7296 §2.8: a rekey), 0 for a new child SA: the VPN monitor's
	// datapath verification runs for new child SAs only.
	RekeyOf uint32
	// InSPI is the SPI we chose (inbound SA), OutSPI the peer's.
	InSPI, OutSPI uint32
	// Encap is UDP encapsulation of ESP, used when a NAT was detected
	// (RFC 7296 §2.23).
	Encap bool
	ESN   bool
	Mode  config.Mode
	// IKESPIi and IKESPIr name the IKE SA that created the child SA.
	IKESPIi, IKESPIr uint64
	// Local and Remote are the outer addresses; with Encap they carry the
	// UDP ports of the encapsulation (RFC 3948).
	Local, Remote netip.AddrPort
	// Suite is the ESP suite: Encr, KeyBits, Integ.
	Suite ikecrypto.Suite
	// In and Out are the inbound and outbound keys. Never log them below
	// level 4.
	In, Out DirKeys
	// LocalTS and RemoteTS are the negotiated selectors.
	LocalTS, RemoteTS []ipsec.TrafficSelector
	Lifetimes         config.ChildLifetimes
	// OSeq and ISeq are set at an HA takeover: the first outbound sequence
	// number minus one; the highest inbound sequence number already seen
	// (the dataplane's SA.OSeq and SA.ISeq). Zero for a child SA this node
	// negotiated.
	OSeq, ISeq uint64
}
