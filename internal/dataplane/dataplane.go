// Package dataplane is the interface between the IKE engine and whatever
// protects the traffic: ESP security associations (SAs) and the security
// policies (SPD entries) that steer packets into them.
//
// There are two implementations: kernel XFRM over netlink
// (internal/dataplane/xfrm) and userspace ESP on a TUN device
// (internal/dataplane/userspace). Both are driven the same way: a
// Reconciler compares the desired State with what the implementation
// reports by List and sends the difference as one batch of Ops to Apply.
//
// The model follows the kernel's (RFC 4301 §4.4): an SA is identified by
// its destination address and SPI (the protocol is always ESP here); a
// policy by its selector, direction, mark and interface id. Keys are
// secrets: never log an SA with %v below log level 4 (SA.String omits
// them).
package dataplane

import (
	"context"
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"
	"time"
)

// Dir is the direction of an SA or a policy.
type Dir uint8

const (
	In  Dir = iota + 1 // inbound: decrypt (SA) / check (policy)
	Out                // outbound: encrypt
	Fwd                // forwarded traffic (kernel policies only)
)

// String is "in", "out" or "fwd". Written by hand, not by stringer: an
// unknown value prints "dir(n)", not stringer's "Dir(n)".
func (d Dir) String() string {
	switch d {
	case In:
		return "in"
	case Out:
		return "out"
	case Fwd:
		return "fwd"
	}
	return fmt.Sprintf("dir(%d)", uint8(d))
}

// Mode is the ESP encapsulation mode (RFC 4301 §3.2).
type Mode uint8

const (
	Tunnel Mode = iota
	Transport
)

// String is "transport" or "tunnel": every value but Transport is tunnel
// (not a name table, so not stringer's).
func (m Mode) String() string {
	if m == Transport {
		return "transport"
	}
	return "tunnel"
}

// Mark is a netfilter/XFRM mark with its mask; the zero Mark matches
// everything.
type Mark struct{ Value, Mask uint32 }

// Selector selects traffic (RFC 4301 §4.4.1.1). Proto 0 is any protocol;
// a zero port is any port (the engine installs one selector per
// traffic-selector pair; port ranges other than one port or all ports are
// widened to all ports by the programmer and narrowed by the SPD of the
// peer).
type Selector struct {
	Src, Dst         netip.Prefix
	Proto            uint8
	SrcPort, DstPort uint16
}

func (s Selector) String() string {
	out := fmt.Sprintf("src %s dst %s", s.Src, s.Dst)
	if s.Proto != 0 {
		out += fmt.Sprintf(" proto %d", s.Proto)
	}
	if s.SrcPort != 0 {
		out += fmt.Sprintf(" sport %d", s.SrcPort)
	}
	if s.DstPort != 0 {
		out += fmt.Sprintf(" dport %d", s.DstPort)
	}
	return out
}

// Encap is UDP encapsulation of ESP (RFC 3948); the zero value is none.
type Encap struct {
	SrcPort, DstPort uint16
}

// Enabled reports whether ESP is encapsulated in UDP.
func (e Encap) Enabled() bool { return e.SrcPort != 0 || e.DstPort != 0 }

// Limits are an SA's lifetimes (RFC 4301 §4.4.2.1); zero means no limit.
// A soft limit raises a SoftExpire event (the engine rekeys), a hard limit
// raises HardExpire and the SA is gone.
type Limits struct {
	SoftBytes, HardBytes     uint64
	SoftPackets, HardPackets uint64
	// SoftAdd and HardAdd count from the SA's installation.
	SoftAdd, HardAdd time.Duration
}

// SAKey identifies an SA.
type SAKey struct {
	Dst netip.Addr
	SPI uint32
}

func (k SAKey) String() string { return fmt.Sprintf("%s spi 0x%08x", k.Dst, k.SPI) }

// SA is one ESP security association.
type SA struct {
	Src, Dst netip.Addr
	SPI      uint32
	// Dir tells an implementation which side of the SA it is: In SAs
	// decrypt, Out SAs encrypt. (The kernel does not need it; userspace
	// does.)
	Dir  Dir
	Mode Mode
	// ReqID ties the SA to its policies' templates.
	ReqID uint32
	// Encr is the IANA encryption transform (ENCR_AES_CBC,
	// ENCR_AES_GCM_16, ENCR_CHACHA20_POLY1305); EncrKey includes the
	// 4-octet salt of the AEADs (RFC 4106 §8.1, RFC 7634 §2).
	Encr    ipsec.TransformID
	EncrKey []byte
	// Integ is the IANA integrity transform (AUTH_HMAC_SHA1_96,
	// AUTH_HMAC_SHA2_256_128, _384_192, _512_256), or ipsec.IntegNone with an AEAD.
	Integ    ipsec.TransformID
	IntegKey []byte
	// ESN enables extended sequence numbers (RFC 4304).
	ESN bool
	// ReplayWindow is the anti-replay window in packets (In SAs; 0
	// disables replay protection), up to 4096.
	ReplayWindow uint32
	Encap        Encap
	// Mark and IfID bind the SA to marked traffic or an XFRM interface
	// (SVTI svti-id-in / svti-id-out).
	Mark   Mark
	IfID   uint32
	Limits Limits
	// Sel restricts what a transport-mode SA carries; zero in tunnel mode.
	Sel Selector
	// OSeq (Out SAs) is the first outbound sequence number minus one: 0
	// for a new SA; an HA takeover sets the last synced value plus
	// oseq-shift so that no number is sent twice under one key (RFC 4303
	// §3.3.3). With ESN its high half counts too; without ESN an OSeq of
	// 2^32-1 or more leaves the SA nothing to send.
	OSeq uint64
	// ISeq (In SAs) resumes the anti-replay window (RFC 4303 §3.4.3) as if
	// ISeq were the highest sequence number received so far and every
	// number at or below it (within the window) had been seen: an HA
	// takeover sets the active's last synced value, so that a packet the
	// old active already accepted is not accepted twice. With ESN the high
	// half is the starting subspace (RFC 4303 Appendix A2). 0: a new
	// window.
	ISeq uint64
}

// Key returns the SA's identity.
func (sa *SA) Key() SAKey { return SAKey{Dst: sa.Dst, SPI: sa.SPI} }

// String describes the SA without its keys.
func (sa *SA) String() string {
	s := fmt.Sprintf("%s %s->%s spi 0x%08x reqid %d %s encr %d/%d integ %d",
		sa.Dir, sa.Src, sa.Dst, sa.SPI, sa.ReqID, sa.Mode, sa.Encr, len(sa.EncrKey)*8, sa.Integ)
	if sa.ESN {
		s += " esn"
	}
	if sa.ReplayWindow != 0 {
		s += fmt.Sprintf(" replay %d", sa.ReplayWindow)
	}
	if sa.Encap.Enabled() {
		s += fmt.Sprintf(" encap udp %d:%d", sa.Encap.SrcPort, sa.Encap.DstPort)
	}
	if sa.IfID != 0 {
		s += fmt.Sprintf(" if_id %d", sa.IfID)
	}
	return s
}

// Action is what a policy does with matching traffic.
type Action uint8

const (
	Protect Action = iota // through the template's SA
	Bypass                // in the clear
	Discard               // drop
)

// Template names the SA a Protect policy sends traffic through (for tunnel
// mode, by its outer addresses and reqid).
type Template struct {
	Src, Dst netip.Addr
	Mode     Mode
	ReqID    uint32
}

// PolicyKey identifies a policy.
type PolicyKey struct {
	Sel  Selector
	Dir  Dir
	Mark Mark
	IfID uint32
}

// Policy is one SPD entry.
type Policy struct {
	Sel  Selector
	Dir  Dir
	Mark Mark
	IfID uint32
	// Priority: lower wins (the kernel's convention).
	Priority uint32
	Action   Action
	Tmpl     Template
}

// Key returns the policy's identity.
func (p *Policy) Key() PolicyKey {
	return PolicyKey{Sel: p.Sel, Dir: p.Dir, Mark: p.Mark, IfID: p.IfID}
}

// State is a set of SAs and policies: what is wanted, or what is there.
type State struct {
	SAs      []SA
	Policies []Policy
}

// OpKind is the kind of one change; String is in opkind_string.go.
type OpKind uint8

//go:generate go tool stringer -type=OpKind -linecomment

const (
	// noOp is the zero OpKind, no change.
	noOp         OpKind = iota // ?
	AddSA                      // add-sa
	UpdateSA                   // update-sa
	DeleteSA                   // delete-sa
	AddPolicy                  // add-policy
	UpdatePolicy               // update-policy
	DeletePolicy               // delete-policy
)

// Op is one change; SA is set for the SA kinds, Policy for the policy
// kinds (for deletes only the key fields matter).
type Op struct {
	Kind   OpKind
	SA     *SA
	Policy *Policy
}

// Counters are an SA's statistics.
type Counters struct {
	Bytes, Packets uint64
	// ReplayDrops and AuthDrops count inbound packets dropped by the
	// replay window and by the integrity check.
	ReplayDrops, AuthDrops uint64
	// OSeq is the last outbound sequence number used.
	OSeq uint64
	// ISeq is the highest inbound sequence number accepted (the right
	// edge of the replay window), or the SA's ISeq before any packet.
	ISeq uint64
	// Added and LastUsed are when the SA was installed and last carried a
	// packet (zero if never).
	Added, LastUsed time.Time
}

// SeqState is where an SA's sequence numbers stand: what an HA standby
// needs to take the SA over without reusing an outbound number or
// accepting a replayed inbound one.
type SeqState struct {
	Key SAKey
	// Dir is In or Out; the kernel dataplane reports 0 for an SA it did
	// not install itself in this process and whose numbers do not tell.
	Dir Dir
	// OSeq is the last outbound sequence number used (Out SAs), ISeq the
	// highest inbound one accepted (In SAs); as in Counters.
	OSeq, ISeq uint64
}

// EventKind is the kind of an Event; String is in eventkind_string.go.
type EventKind uint8

//go:generate go tool stringer -type=EventKind -linecomment

const (
	// noEvent is the zero EventKind, no event.
	noEvent EventKind = iota // ?
	// Acquire: outbound traffic matched a Protect policy that has no SA
	// (a trap policy); Sel is the packet's selector and Policy the policy.
	Acquire // acquire
	// SoftExpire: an SA reached a soft limit; rekey it.
	SoftExpire // soft-expire
	// HardExpire: an SA reached a hard limit and was removed.
	HardExpire // hard-expire
	// SeqOverflow: an outbound SA used its last sequence number (RFC 4303
	// §3.3.3) and no longer sends.
	SeqOverflow // seq-overflow
	// UnknownSPI: inbound ESP arrived with an SPI no SA has (RFC 4303
	// §3.4.2); Src is its source, SA.Dst its destination and SA.SPI its
	// SPI. The userspace dataplane reports it, rate-limited; the kernel
	// drops such packets and only counts them, so with it the daemon
	// samples the inbound ESP when the count grows
	// (xfrm.Dataplane.SampleUnknownSPI). The engine answers with
	// INVALID_SPI (respond-bad-spi).
	UnknownSPI // unknown-spi
)

// Event is something the dataplane tells the engine.
type Event struct {
	Kind   EventKind
	SA     SAKey     // expiry and overflow events
	Policy PolicyKey // acquire
	Sel    Selector  // acquire: the packet that triggered it
	// Reason says which limit expired ("bytes", "packets", "time").
	Reason string
	// Src is the source of an unknown-SPI packet.
	Src netip.Addr
}

// Dataplane is implemented by the kernel and the userspace dataplanes and
// by the in-memory Fake.
type Dataplane interface {
	// Kind is "kernel", "userspace" or "fake": what the daemon reports in
	// its log and state.
	Kind() string
	// Apply performs ops in order, batched as the implementation can. On
	// failure it returns an *ApplyError naming the first op that failed;
	// ops before it are applied, ops after it are not attempted, except
	// that the kernel dataplane may have applied the ops that followed
	// the failed one in the same netlink buffer (the kernel goes on after
	// a failed message): a caller that must know lists again, as the
	// Reconciler does.
	Apply(ctx context.Context, ops []Op) error
	// List returns the SAs and policies this dataplane owns (installed by
	// secgw, possibly by an earlier process), keys included.
	List(ctx context.Context) (State, error)
	// Counters returns an SA's statistics.
	Counters(ctx context.Context, k SAKey) (Counters, error)
	// SeqStates returns the sequence numbers of every SA this dataplane
	// owns, in no particular order, in one call that does not stop the
	// traffic (HA sync reads them every sync-period-time: it must stay
	// cheap at 10k SAs).
	SeqStates(ctx context.Context) ([]SeqState, error)
	// AllocSPI reserves an unused inbound SPI for an SA from src to dst.
	AllocSPI(ctx context.Context, src, dst netip.Addr, reqID uint32) (uint32, error)
	// Events delivers acquires and expiries; it is closed by Close.
	Events() <-chan Event
	Close() error
}

// ApplyError reports the op of a batch that failed.
type ApplyError struct {
	Index int // into the ops given to Apply
	Op    Op
	Err   error
}

func (e *ApplyError) Error() string {
	what := ""
	switch {
	case e.Op.SA != nil:
		what = e.Op.SA.Key().String()
	case e.Op.Policy != nil:
		what = e.Op.Policy.Dir.String() + " " + e.Op.Policy.Sel.String()
	}
	return fmt.Sprintf("dataplane: %s %s: %v", e.Op.Kind, what, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }
