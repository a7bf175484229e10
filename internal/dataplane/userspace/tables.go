package userspace

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"secgw/internal/dataplane"
)

// policy is one installed SPD entry.
type policy struct {
	cfg dataplane.Policy
	// lastAcquire is when an Acquire was last raised for it (UnixNano);
	// shared between table versions.
	lastAcquire *atomic.Int64
}

// tables is one immutable version of the SAD and SPD. Apply builds a new
// version and publishes it with an atomic pointer swap (read-copy-update):
// the packet path reads without locks and never sees half a batch.
type tables struct {
	sas      map[dataplane.SAKey]*sa
	policies map[dataplane.PolicyKey]*policy

	// bySPI holds the inbound SAs; Apply keeps it up to date.
	bySPI map[uint32]*sa

	// Derived indexes, rebuilt by index() after each batch.
	out   map[outKey][]*sa                // outbound SAs by template, oldest first
	spd   []*policy                       // Out policies, in match order
	inSel map[uint32][]dataplane.Selector // In/Fwd Protect selectors by reqid
	// inSPD are the In policies in match order when one of them is a
	// Discard (a drop security policy), else nil: decrypted packets are
	// then checked against it, as the kernel's in policy lookup does.
	inSPD []*policy
}

// outKey finds the outbound SA of a template (RFC 4301 §5.1.1: the SA is
// found from the SPD entry): reqid and the peer's address.
type outKey struct {
	reqID uint32
	dst   netip.Addr
}

func newTables() *tables {
	t := &tables{sas: map[dataplane.SAKey]*sa{}, policies: map[dataplane.PolicyKey]*policy{}, bySPI: map[uint32]*sa{}}
	t.index()
	return t
}

// clone copies the primary maps; the derived ones are rebuilt by index.
func (t *tables) clone() *tables {
	c := &tables{
		sas:      make(map[dataplane.SAKey]*sa, len(t.sas)),
		policies: make(map[dataplane.PolicyKey]*policy, len(t.policies)),
	}
	for k, v := range t.sas {
		c.sas[k] = v
	}
	for k, v := range t.policies {
		c.policies[k] = v
	}
	c.bySPI = make(map[uint32]*sa, len(t.bySPI))
	for k, v := range t.bySPI {
		c.bySPI[k] = v
	}
	return c
}

// specificity orders overlapping selectors: longer prefixes first, then a
// protocol, then ports.
func specificity(s *dataplane.Selector) int {
	n := (s.Src.Bits() + s.Dst.Bits()) << 3
	if s.Proto != 0 {
		n += 4
	}
	if s.SrcPort != 0 {
		n++
	}
	if s.DstPort != 0 {
		n++
	}
	return n
}

// index rebuilds the derived lookups. SPD order (RFC 4301 §4.4.1: the
// first matching entry of an ordered SPD wins): lower priority value first
// (the kernel's convention), then the more specific selector, then the key
// for a stable order.
func (t *tables) index() {
	t.out = make(map[outKey][]*sa)
	t.inSel = make(map[uint32][]dataplane.Selector)
	t.spd = t.spd[:0]
	t.inSPD = t.inSPD[:0]
	discardIn := false
	for _, p := range t.policies {
		switch p.cfg.Dir {
		case dataplane.Out:
			t.spd = append(t.spd, p)
		case dataplane.In, dataplane.Fwd:
			if p.cfg.Action == dataplane.Protect {
				t.inSel[p.cfg.Tmpl.ReqID] = append(t.inSel[p.cfg.Tmpl.ReqID], p.cfg.Sel)
			}
			if p.cfg.Dir == dataplane.In {
				t.inSPD = append(t.inSPD, p)
				discardIn = discardIn || p.cfg.Action == dataplane.Discard
			}
		}
	}
	slices.SortFunc(t.spd, comparePolicies)
	if discardIn {
		slices.SortFunc(t.inSPD, comparePolicies)
	} else {
		t.inSPD = nil
	}
	for _, s := range t.sas {
		switch s.cfg.Dir {
		case dataplane.Out:
			k := outKey{s.cfg.ReqID, s.cfg.Dst}
			t.out[k] = append(t.out[k], s)
		}
	}
	for k, list := range t.out {
		slices.SortFunc(list, func(a, b *sa) int { return cmp.Compare(a.seq, b.seq) })
		t.out[k] = list
	}
}

// comparePolicies orders an SPD: see index.
func comparePolicies(a, b *policy) int {
	if c := cmp.Compare(a.cfg.Priority, b.cfg.Priority); c != 0 {
		return c
	}
	if c := cmp.Compare(specificity(&b.cfg.Sel), specificity(&a.cfg.Sel)); c != 0 {
		return c
	}
	return cmp.Compare(a.cfg.Sel.String(), b.cfg.Sel.String())
}

// dropIn reports whether the first In policy matching a decrypted packet
// is a Discard (a drop security policy narrower than, or of a better
// priority than, the esp policy of its SA). Without Discard policies
// (inSPD nil) it costs nothing.
func (t *tables) dropIn(f *flow) bool {
	for _, p := range t.inSPD {
		if matches(&p.cfg.Sel, f) {
			return p.cfg.Action == dataplane.Discard
		}
	}
	return false
}

// lookupOut returns the first Out policy matching f (nil if none).
func (t *tables) lookupOut(f *flow) *policy {
	for _, p := range t.spd {
		if matches(&p.cfg.Sel, f) {
			return p
		}
	}
	return nil
}

// saFor returns the newest outbound SA of a Protect policy's template.
func (t *tables) saFor(p *policy) *sa {
	list := t.out[outKey{p.cfg.Tmpl.ReqID, p.cfg.Tmpl.Dst}]
	for i := len(list) - 1; i >= 0; i-- {
		if s := list[i]; !p.cfg.Tmpl.Src.IsValid() || s.cfg.Src == p.cfg.Tmpl.Src {
			return s
		}
	}
	return nil
}

// Apply errors (wrapped in *dataplane.ApplyError).
var (
	errExists   = errors.New("userspace: entry exists")
	errNotFound = errors.New("userspace: no such entry")
)

// apply performs one op on t (a private clone). seq numbers new SAs.
func (t *tables) apply(op dataplane.Op, now time.Time, seq uint64) error {
	switch op.Kind {
	case dataplane.AddSA, dataplane.UpdateSA:
		if op.SA == nil {
			return errors.New("userspace: SA op without an SA")
		}
		c := cloneSA(op.SA)
		old := t.sas[c.Key()]
		if op.Kind == dataplane.AddSA && old != nil {
			return errExists
		}
		if op.Kind == dataplane.UpdateSA && old == nil {
			return errNotFound
		}
		if !c.Encap.Enabled() {
			return errors.New("userspace: ESP without UDP encapsulation is not supported")
		}
		if c.Dir == dataplane.In {
			// SPIs index the inbound SAD: one SA per SPI.
			if other := t.bySPI[c.SPI]; other != nil && other != old {
				return fmt.Errorf("userspace: SPI 0x%08x is in use by %s", c.SPI, other.cfg.Key())
			}
		}
		if old != nil && old.cfg.Dir == dataplane.In && c.Dir != dataplane.In {
			delete(t.bySPI, old.cfg.SPI)
		}
		n := &sa{cfg: c, seq: seq,
			remote: netip.AddrPortFrom(c.Dst, c.Encap.DstPort),
			local:  netip.AddrPortFrom(c.Src, c.Encap.SrcPort)}
		if old != nil && sameKeys(&old.cfg, &c) {
			n.st, n.seq = old.st, old.seq
		} else {
			st, err := newSAState(&c, now)
			if err != nil {
				return err
			}
			n.st = st
		}
		t.sas[c.Key()] = n
		if c.Dir == dataplane.In {
			t.bySPI[c.SPI] = n
		}
	case dataplane.DeleteSA:
		if op.SA == nil {
			return errors.New("userspace: SA op without an SA")
		}
		old := t.sas[op.SA.Key()]
		if old == nil {
			return errNotFound
		}
		delete(t.sas, op.SA.Key())
		if old.cfg.Dir == dataplane.In {
			delete(t.bySPI, old.cfg.SPI)
		}
	case dataplane.AddPolicy, dataplane.UpdatePolicy:
		if op.Policy == nil {
			return errors.New("userspace: policy op without a policy")
		}
		p := *op.Policy
		old := t.policies[p.Key()]
		if op.Kind == dataplane.AddPolicy && old != nil {
			return errExists
		}
		if op.Kind == dataplane.UpdatePolicy && old == nil {
			return errNotFound
		}
		if !p.Sel.Src.IsValid() || !p.Sel.Dst.IsValid() || p.Sel.Src.Addr().Is4() != p.Sel.Dst.Addr().Is4() {
			return errors.New("userspace: policy selector needs source and destination prefixes of one family")
		}
		n := &policy{cfg: p, lastAcquire: new(atomic.Int64)}
		if old != nil {
			n.lastAcquire = old.lastAcquire
		}
		t.policies[p.Key()] = n
	case dataplane.DeletePolicy:
		if op.Policy == nil {
			return errors.New("userspace: policy op without a policy")
		}
		if t.policies[op.Policy.Key()] == nil {
			return errNotFound
		}
		delete(t.policies, op.Policy.Key())
	default:
		return fmt.Errorf("userspace: unknown op %d", op.Kind)
	}
	return nil
}

// cloneSA copies an SA with its key slices, so that the caller may reuse
// its own.
func cloneSA(s *dataplane.SA) dataplane.SA {
	c := *s
	c.EncrKey = append([]byte(nil), s.EncrKey...)
	c.IntegKey = append([]byte(nil), s.IntegKey...)
	return c
}
