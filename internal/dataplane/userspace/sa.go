package userspace

import (
	"bytes"
	"errors"
	"net/netip"
	"sync/atomic"
	"time"

	"secgw/internal/dataplane"
	"secgw/internal/esp"
)

// sa is one installed SA: its configuration (immutable: an update makes a
// new sa sharing the same *saState when the keys did not change) and its
// live state.
type sa struct {
	cfg dataplane.SA
	st  *saState
	// seq orders outbound SAs of one template: the newest wins.
	seq uint64
	// hidx is the SA's index in the deadlines heap, -1 when it is not
	// in it; guarded by Dataplane.mu.
	hidx int32
}

// remote is where an outbound SA sends (peer address, encap port), local
// where from: derived from cfg rather than kept (64 octets an SA).
func (s *sa) remote() netip.AddrPort { return netip.AddrPortFrom(s.cfg.Dst, s.cfg.Encap.DstPort) }
func (s *sa) local() netip.AddrPort  { return netip.AddrPortFrom(s.cfg.Src, s.cfg.Encap.SrcPort) }

// saState is what the hot path changes: crypto state and counters. All
// fields are atomic or set once.
type saState struct {
	out *esp.Outbound // Dir Out
	in  *esp.Inbound  // Dir In

	added                      time.Time
	bytes, packets             atomic.Uint64
	replayDrops, authDrops     atomic.Uint64
	lastUsed                   atomic.Int64 // UnixNano, 0 = never
	softFired, hardFired, ovfl atomic.Bool
}

// newSAState keys the ESP state of c.
func newSAState(c *dataplane.SA, now time.Time) (*saState, error) {
	ec := esp.Config{
		SPI: c.SPI, Encr: c.Encr, EncrKey: c.EncrKey, Integ: c.Integ, IntegKey: c.IntegKey,
		ESN: c.ESN, ReplayWindow: c.ReplayWindow, Seq: c.OSeq, ISeq: c.ISeq,
	}
	st := &saState{added: now}
	var err error
	switch c.Dir {
	case dataplane.Out:
		st.out, err = esp.NewOutbound(ec)
	case dataplane.In:
		if c.ReplayWindow > esp.MaxWindow {
			return nil, errors.New("userspace: replay window above 4096")
		}
		st.in, err = esp.NewInbound(ec)
	default:
		return nil, errors.New("userspace: an SA must be In or Out")
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// sameKeys tells whether an update keeps the crypto state: same
// direction, transforms, keys and ESN. The live sequence numbers are kept
// then: an update's OSeq and ISeq, like the kernel's XFRM_MSG_UPDSA
// without replay attributes, do not move them.
func sameKeys(a, b *dataplane.SA) bool {
	return a.Dir == b.Dir && a.Encr == b.Encr && a.Integ == b.Integ && a.ESN == b.ESN &&
		a.ReplayWindow == b.ReplayWindow && bytes.Equal(a.EncrKey, b.EncrKey) && bytes.Equal(a.IntegKey, b.IntegKey)
}

// counters renders the SA's statistics.
func (s *sa) counters() dataplane.Counters {
	c := dataplane.Counters{
		Bytes: s.st.bytes.Load(), Packets: s.st.packets.Load(),
		ReplayDrops: s.st.replayDrops.Load(), AuthDrops: s.st.authDrops.Load(),
		Added: s.st.added,
	}
	if s.st.out != nil {
		c.OSeq = s.st.out.Seq()
	}
	if s.st.in != nil {
		c.ISeq = s.st.in.Top()
	}
	if t := s.st.lastUsed.Load(); t != 0 {
		c.LastUsed = time.Unix(0, t)
	}
	return c
}

// seqState reads the sequence numbers of the SA under k: one atomic load
// (the direction is told by which side of the state exists, so that the
// walk does not touch the configuration).
func (s *sa) seqState(k dataplane.SAKey) dataplane.SeqState {
	st := dataplane.SeqState{Key: k}
	if out := s.st.out; out != nil {
		st.Dir, st.OSeq = dataplane.Out, out.Seq()
	} else {
		st.Dir, st.ISeq = dataplane.In, s.st.in.Top()
	}
	return st
}

// account counts one packet of n octets (the inner packet, as the
// kernel counts) and returns the limit it crossed, if any: "" or the
// Event reason, with hard telling which kind. Each kind fires once.
func (s *sa) account(n int, now int64) (reason string, hard bool) {
	b := s.st.bytes.Add(uint64(n))
	p := s.st.packets.Add(1)
	s.st.lastUsed.Store(now)
	l := &s.cfg.Limits
	switch {
	case l.HardBytes != 0 && b >= l.HardBytes:
		reason, hard = "bytes", true
	case l.HardPackets != 0 && p >= l.HardPackets:
		reason, hard = "packets", true
	case l.SoftBytes != 0 && b >= l.SoftBytes:
		reason = "bytes"
	case l.SoftPackets != 0 && p >= l.SoftPackets:
		reason = "packets"
	default:
		return "", false
	}
	if hard {
		if s.st.hardFired.Swap(true) {
			return "", false
		}
		return reason, true
	}
	if s.st.softFired.Swap(true) {
		return "", false
	}
	return reason, false
}

// expired checks the time limits (RFC 4301 §4.4.2.1) at now.
func (s *sa) expired(now time.Time) (reason string, hard bool) {
	age := now.Sub(s.st.added)
	l := &s.cfg.Limits
	if l.HardAdd != 0 && age >= l.HardAdd && !s.st.hardFired.Swap(true) {
		return "time", true
	}
	if l.SoftAdd != 0 && age >= l.SoftAdd && !s.st.softFired.Swap(true) {
		return "time", false
	}
	return "", false
}

// outerHeaderLen is the outer IP and UDP headers of an outbound SA's packets.
func (s *sa) outerHeaderLen() int {
	n := udpHeaderLen
	if s.cfg.Dst.Is4() {
		return n + ipv4HeaderLen
	}
	return n + ipv6HeaderLen
}
