package userspace

import (
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
//
// Every map is persistent (pmap, spd): the new version shares all but the
// paths to the changed entries with the old one, and the derived indexes
// are updated per op, so a batch costs what its ops touch, not the size of
// the tables. A tables value is a handful of map headers; copying it
// starts a new version. The slices held by out and inSel are never changed
// once published either: an op replaces them. They are short (the SAs of
// one template: two while a rekey overlaps; the selectors of one reqid).
type tables struct {
	sas      pmap[dataplane.SAKey, *sa]
	policies pmap[dataplane.PolicyKey, *policy]

	// Derived indexes, kept up to date by each op.
	bySPI pmap[uint32, *sa]                  // the inbound SAs
	out   pmap[outKey, []*sa]                // outbound SAs by template, oldest first
	inSel pmap[uint32, []dataplane.Selector] // In/Fwd Protect selectors by reqid
	spd   spd                                // the Out policies
	// inSPD are the In policies; while one of them is a Discard (a drop
	// security policy, discardIn counts them) decrypted packets are
	// checked against it, as the kernel's in policy lookup does.
	inSPD     spd
	discardIn int
}

// outKey finds the outbound SA of a template (RFC 4301 §5.1.1: the SA is
// found from the SPD entry): reqid and the peer's address.
type outKey struct {
	reqID uint32
	dst   netip.Addr
}

func newTables() *tables {
	return &tables{
		sas:      newPMap[dataplane.SAKey, *sa](hashSAKey),
		policies: newPMap[dataplane.PolicyKey, *policy](hashPolicyKey),
		bySPI:    newPMap[uint32, *sa](hashU32),
		out:      newPMap[outKey, []*sa](hashOutKey),
		inSel:    newPMap[uint32, []dataplane.Selector](hashU32),
	}
}

// dropIn reports whether the first In policy matching a decrypted packet
// is a Discard (a drop security policy narrower than, or of a better
// priority than, the esp policy of its SA). Without Discard policies it
// costs nothing.
func (t *tables) dropIn(f *flow) bool {
	if t.discardIn == 0 {
		return false
	}
	p := t.inSPD.lookup(f)
	return p != nil && p.cfg.Action == dataplane.Discard
}

// lookupOut returns the first Out policy matching f (nil if none).
func (t *tables) lookupOut(f *flow) *policy { return t.spd.lookup(f) }

// saFor returns the newest outbound SA of a Protect policy's template.
func (t *tables) saFor(p *policy) *sa {
	list, _ := t.out.get(outKey{p.cfg.Tmpl.ReqID, p.cfg.Tmpl.Dst})
	for i := len(list) - 1; i >= 0; i-- {
		if s := list[i]; !p.cfg.Tmpl.Src.IsValid() || s.cfg.Src == p.cfg.Tmpl.Src {
			return s
		}
	}
	return nil
}

// addSA enters s into the SAD and its indexes, and into the edit's
// deadlines when it has some.
func (t *tables) addSA(e *edit, s *sa) {
	t.sas.set(e, s.cfg.Key(), s)
	if e.deadlines != nil {
		e.deadlines.add(s)
	}
	switch s.cfg.Dir {
	case dataplane.In:
		t.bySPI.set(e, s.cfg.SPI, s)
	case dataplane.Out:
		k := outKey{s.cfg.ReqID, s.cfg.Dst}
		old, _ := t.out.get(k)
		i := len(old)
		for i > 0 && old[i-1].seq > s.seq {
			i--
		}
		t.out.set(e, k, slices.Concat(old[:i], []*sa{s}, old[i:]))
	}
}

// delSA takes s (this very entry) out of the SAD, its indexes and the
// edit's deadlines.
func (t *tables) delSA(e *edit, s *sa) {
	if cur, _ := t.sas.get(s.cfg.Key()); cur == s {
		t.sas.del(e, s.cfg.Key())
	}
	if e.deadlines != nil {
		e.deadlines.remove(s)
	}
	switch s.cfg.Dir {
	case dataplane.In:
		if cur, _ := t.bySPI.get(s.cfg.SPI); cur == s {
			t.bySPI.del(e, s.cfg.SPI)
		}
	case dataplane.Out:
		k := outKey{s.cfg.ReqID, s.cfg.Dst}
		old, _ := t.out.get(k)
		switch i := slices.Index(old, s); {
		case i < 0:
		case len(old) == 1:
			t.out.del(e, k)
		default:
			t.out.set(e, k, slices.Concat(old[:i], old[i+1:]))
		}
	}
}

// addPolicy enters p into the SPD and its indexes.
func (t *tables) addPolicy(e *edit, p *policy) {
	t.policies.set(e, p.cfg.Key(), p)
	c := &p.cfg
	if (c.Dir == dataplane.In || c.Dir == dataplane.Fwd) && c.Action == dataplane.Protect {
		old, _ := t.inSel.get(c.Tmpl.ReqID)
		t.inSel.set(e, c.Tmpl.ReqID, slices.Concat(old, []dataplane.Selector{c.Sel}))
	}
	switch c.Dir {
	case dataplane.Out:
		t.spd.insert(e, p)
	case dataplane.In:
		t.inSPD.insert(e, p)
		if c.Action == dataplane.Discard {
			t.discardIn++
		}
	}
}

// delPolicy takes p (this very entry) out of the SPD and its indexes.
func (t *tables) delPolicy(e *edit, p *policy) {
	t.policies.del(e, p.cfg.Key())
	c := &p.cfg
	if (c.Dir == dataplane.In || c.Dir == dataplane.Fwd) && c.Action == dataplane.Protect {
		old, _ := t.inSel.get(c.Tmpl.ReqID)
		switch i := slices.Index(old, c.Sel); {
		case i < 0:
		case len(old) == 1:
			t.inSel.del(e, c.Tmpl.ReqID)
		default:
			t.inSel.set(e, c.Tmpl.ReqID, slices.Concat(old[:i], old[i+1:]))
		}
	}
	switch c.Dir {
	case dataplane.Out:
		t.spd.remove(e, p)
	case dataplane.In:
		t.inSPD.remove(e, p)
		if c.Action == dataplane.Discard {
			t.discardIn--
		}
	}
}

// Apply errors (wrapped in *dataplane.ApplyError), classified as every
// implementation's are: a caller deleting an SA its hard lifetime already
// removed tests for dataplane.ErrNotFound.
var (
	errExists   = fmt.Errorf("userspace: %w", dataplane.ErrExist)
	errNotFound = fmt.Errorf("userspace: %w", dataplane.ErrNotFound)
)

// apply performs one op on t (a private version) under the edit token e;
// seq numbers new SAs. An op that fails changes nothing.
func (t *tables) apply(e *edit, op dataplane.Op, now time.Time, seq uint64) error {
	switch op.Kind {
	case dataplane.AddSA, dataplane.UpdateSA:
		if op.SA == nil {
			return errors.New("userspace: SA op without an SA")
		}
		c := cloneSA(op.SA)
		old, _ := t.sas.get(c.Key())
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
			if other, _ := t.bySPI.get(c.SPI); other != nil && other != old {
				return fmt.Errorf("userspace: SPI 0x%08x is in use by %s", c.SPI, other.cfg.Key())
			}
		}
		n := &sa{cfg: c, seq: seq, hidx: -1}
		if old != nil && sameKeys(&old.cfg, &c) {
			n.st, n.seq = old.st, old.seq
		} else {
			st, err := newSAState(&c, now)
			if err != nil {
				return err
			}
			n.st = st
		}
		if old != nil {
			t.delSA(e, old)
		}
		t.addSA(e, n)
	case dataplane.DeleteSA:
		if op.SA == nil {
			return errors.New("userspace: SA op without an SA")
		}
		old, _ := t.sas.get(op.SA.Key())
		if old == nil {
			return errNotFound
		}
		t.delSA(e, old)
	case dataplane.AddPolicy, dataplane.UpdatePolicy:
		if op.Policy == nil {
			return errors.New("userspace: policy op without a policy")
		}
		p := *op.Policy
		old, _ := t.policies.get(p.Key())
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
			t.delPolicy(e, old)
		}
		t.addPolicy(e, n)
	case dataplane.DeletePolicy:
		if op.Policy == nil {
			return errors.New("userspace: policy op without a policy")
		}
		old, _ := t.policies.get(op.Policy.Key())
		if old == nil {
			return errNotFound
		}
		t.delPolicy(e, old)
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
