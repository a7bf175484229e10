package userspace

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"secgw/internal/dataplane"
)

// TestTablesIndexes: after random batches of SA and policy ops, the
// incrementally kept indexes answer as indexes rebuilt from the whole
// SAD and SPD would (the SPD sorted by comparePolicies and scanned for
// the first match), and every earlier version still answers as it did.
func TestTablesIndexes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	bases := []netip.Addr{
		netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("10.1.9.3"), netip.MustParseAddr("10.7.2.3"),
		netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00:0:0:1::1"),
	}
	prefix := func(v6 bool) netip.Prefix {
		for {
			a := bases[r.IntN(len(bases))]
			if a.Is6() != v6 {
				continue
			}
			bits := []int{0, 8, 16, 24, 32}[r.IntN(5)]
			if v6 {
				bits = []int{0, 16, 64, 128}[r.IntN(4)]
			}
			return netip.PrefixFrom(a, bits) // not masked: as a caller may give it
		}
	}
	randPolicy := func() dataplane.Policy {
		v6 := r.IntN(4) == 0
		p := dataplane.Policy{
			Sel:      dataplane.Selector{Src: prefix(v6), Dst: prefix(v6)},
			Dir:      []dataplane.Dir{dataplane.Out, dataplane.Out, dataplane.In, dataplane.Fwd}[r.IntN(4)],
			Priority: []uint32{50, 100, 100, 200}[r.IntN(4)],
			Action:   []dataplane.Action{dataplane.Protect, dataplane.Protect, dataplane.Discard}[r.IntN(3)],
			Tmpl:     dataplane.Template{Dst: gwB, ReqID: uint32(r.IntN(4) + 1)},
		}
		if r.IntN(3) == 0 {
			p.Sel.Proto = protoUDP
			if r.IntN(2) == 0 {
				p.Sel.DstPort = 53
			}
		}
		if p.Dir == dataplane.Out && r.IntN(8) == 0 {
			// The same selector under another key: ties in
			// comparePolicies. (Only Out: a tie of an In Protect and
			// an In Discard would make dropIn's answer arbitrary.)
			p.Mark = dataplane.Mark{Value: 1, Mask: 1}
		}
		return p
	}
	randSA := func() dataplane.SA {
		out, in := saPair(suites[r.IntN(2)], gwA, gwB, uint32(0x1000+r.IntN(40)), uint32(r.IntN(4)+1))
		if r.IntN(3) == 0 {
			out.Dst = gwA // another template destination
		}
		if r.IntN(2) == 0 {
			return in
		}
		return out
	}
	randFlow := func() flow {
		v6 := r.IntN(4) == 0
		host := func() netip.Addr {
			for {
				a := bases[r.IntN(len(bases))]
				if a.Is6() == v6 {
					b := a.As16()
					b[15] ^= byte(r.IntN(3))
					if v6 {
						return netip.AddrFrom16(b)
					}
					return netip.AddrFrom16(b).Unmap()
				}
			}
		}
		f := flow{src: host(), dst: host(), v6: v6, proto: []uint8{protoTCP, protoUDP}[r.IntN(2)]}
		f.dstPort = []uint16{53, 80}[r.IntN(2)]
		return f
	}
	flows := make([]flow, 300)
	for i := range flows {
		flows[i] = randFlow()
	}

	type answers struct {
		out  []*policy
		drop []bool
		sa   []*sa // saFor of each out answer
	}
	type version struct {
		t   *tables
		ans answers
	}
	var versions []version
	cur := newTables()
	seq := uint64(0)
	var livePols []dataplane.Policy
	var liveSAs []dataplane.SA
	for range 300 {
		next := *cur
		e := new(edit)
		for range r.IntN(6) + 1 {
			seq++
			var op dataplane.Op
			switch k := r.IntN(6); {
			case k == 0 && len(livePols) > 0:
				p := livePols[r.IntN(len(livePols))]
				op = dataplane.Op{Kind: dataplane.DeletePolicy, Policy: &p}
			case k == 1 && len(livePols) > 0:
				p := livePols[r.IntN(len(livePols))]
				p.Priority, p.Action = randPolicy().Priority, randPolicy().Action
				op = dataplane.Op{Kind: dataplane.UpdatePolicy, Policy: &p}
			case k == 2 && len(liveSAs) > 0:
				s := liveSAs[r.IntN(len(liveSAs))]
				op = dataplane.Op{Kind: dataplane.DeleteSA, SA: &s}
			case k == 3 && len(liveSAs) > 0:
				s := liveSAs[r.IntN(len(liveSAs))]
				s.ReqID = uint32(r.IntN(4) + 1)
				if r.IntN(2) == 0 {
					s.EncrKey = key(len(s.EncrKey), byte(seq))
				}
				op = dataplane.Op{Kind: dataplane.UpdateSA, SA: &s}
			case k == 4:
				s := randSA()
				op = dataplane.Op{Kind: dataplane.AddSA, SA: &s}
			default:
				p := randPolicy()
				op = dataplane.Op{Kind: dataplane.AddPolicy, Policy: &p}
			}
			next.apply(e, op, time.Time{}, seq) // refused ops change nothing
		}
		cur = &next
		livePols, liveSAs = livePols[:0], liveSAs[:0]
		for _, p := range cur.policies.all() {
			livePols = append(livePols, p.cfg)
		}
		for _, s := range cur.sas.all() {
			liveSAs = append(liveSAs, s.cfg)
		}
		want := rebuilt(cur)
		var ans answers
		for i := range flows {
			f := &flows[i]
			p := cur.lookupOut(f)
			if w := want.first(want.spd, f); p != w && (p == nil || w == nil || comparePolicies(p, w) != 0) {
				t.Fatalf("lookupOut(%v -> %v %d/%d) = %v, want %v", f.src, f.dst, f.proto, f.dstPort, polName(p), polName(w))
			}
			drop := want.discardIn && want.first(want.inSPD, f).isDiscard()
			if cur.dropIn(f) != drop {
				t.Fatalf("dropIn(%v -> %v) = %v, want %v", f.src, f.dst, !drop, drop)
			}
			var s *sa
			if p != nil {
				s = cur.saFor(p)
				if w := want.saFor(p); s != w {
					t.Fatalf("saFor(%s) = %v, want %v", polName(p), s, w)
				}
			}
			ans.out, ans.drop, ans.sa = append(ans.out, p), append(ans.drop, drop), append(ans.sa, s)
		}
		for reqID := range uint32(5) {
			got, _ := cur.inSel.get(reqID)
			if !sameSelectors(got, want.inSel[reqID]) {
				t.Fatalf("inSel[%d] = %v, want %v", reqID, got, want.inSel[reqID])
			}
		}
		for spi := range uint32(0x1000 + 40) {
			if got, _ := cur.bySPI.get(spi); got != want.bySPI[spi] {
				t.Fatalf("bySPI[%#x] = %v, want %v", spi, got, want.bySPI[spi])
			}
		}
		versions = append(versions, version{cur, ans})
	}
	for i, v := range versions {
		for j := range flows {
			if p := v.t.lookupOut(&flows[j]); p != v.ans.out[j] {
				t.Fatalf("version %d changed: lookupOut = %s, was %s", i, polName(p), polName(v.ans.out[j]))
			}
			if v.t.dropIn(&flows[j]) != v.ans.drop[j] {
				t.Fatalf("version %d changed: dropIn", i)
			}
			if p := v.ans.out[j]; p != nil && v.t.saFor(p) != v.ans.sa[j] {
				t.Fatalf("version %d changed: saFor", i)
			}
		}
	}
}

// index is the tables' derived indexes computed from the whole SAD and SPD.
type index struct {
	spd, inSPD []*policy // sorted by comparePolicies
	discardIn  bool
	out        map[outKey][]*sa
	inSel      map[uint32][]dataplane.Selector
	bySPI      map[uint32]*sa
}

func rebuilt(t *tables) *index {
	x := &index{out: map[outKey][]*sa{}, inSel: map[uint32][]dataplane.Selector{}, bySPI: map[uint32]*sa{}}
	for _, p := range t.policies.all() {
		switch p.cfg.Dir {
		case dataplane.Out:
			x.spd = append(x.spd, p)
		case dataplane.In, dataplane.Fwd:
			if p.cfg.Action == dataplane.Protect {
				x.inSel[p.cfg.Tmpl.ReqID] = append(x.inSel[p.cfg.Tmpl.ReqID], p.cfg.Sel)
			}
			if p.cfg.Dir == dataplane.In {
				x.inSPD = append(x.inSPD, p)
				x.discardIn = x.discardIn || p.cfg.Action == dataplane.Discard
			}
		}
	}
	slices.SortFunc(x.spd, comparePolicies)
	slices.SortFunc(x.inSPD, comparePolicies)
	for _, s := range t.sas.all() {
		switch s.cfg.Dir {
		case dataplane.Out:
			k := outKey{s.cfg.ReqID, s.cfg.Dst}
			x.out[k] = append(x.out[k], s)
		case dataplane.In:
			x.bySPI[s.cfg.SPI] = s
		}
	}
	for _, list := range x.out {
		slices.SortFunc(list, func(a, b *sa) int { return cmp.Compare(a.seq, b.seq) })
	}
	return x
}

// first is the first policy of an ordered SPD that matches f. Policies
// that tie in comparePolicies (the same selector under other marks) come
// in any order here: the caller accepts any of a tie.
func (x *index) first(spd []*policy, f *flow) *policy {
	for _, p := range spd {
		if matches(&p.cfg.Sel, f) {
			return p
		}
	}
	return nil
}

func (x *index) saFor(p *policy) *sa {
	list := x.out[outKey{p.cfg.Tmpl.ReqID, p.cfg.Tmpl.Dst}]
	for i := len(list) - 1; i >= 0; i-- {
		if s := list[i]; !p.cfg.Tmpl.Src.IsValid() || s.cfg.Src == p.cfg.Tmpl.Src {
			return s
		}
	}
	return nil
}

func (p *policy) isDiscard() bool { return p != nil && p.cfg.Action == dataplane.Discard }

func polName(p *policy) string {
	if p == nil {
		return "none"
	}
	return p.cfg.Dir.String() + " " + p.cfg.Sel.String()
}

func sameSelectors(a, b []dataplane.Selector) bool {
	key := func(s dataplane.Selector) string { return s.String() }
	x, y := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		x[i] = key(a[i])
	}
	for i := range b {
		y[i] = key(b[i])
	}
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// TestApplyErrorKinds: a refused add or delete is classified with
// dataplane.ErrExist and dataplane.ErrNotFound, as the kernel dataplane's
// are.
func TestApplyErrorKinds(t *testing.T) {
	d := newScaleDP(t)
	ctx := context.Background()
	add := scaleChild(0)
	if err := d.Apply(ctx, add); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, add[:1]); !errors.Is(err, dataplane.ErrExist) {
		t.Errorf("add twice: %v, want ErrExist", err)
	}
	if err := d.Apply(ctx, add[2:3]); !errors.Is(err, dataplane.ErrExist) {
		t.Errorf("add a policy twice: %v, want ErrExist", err)
	}
	gone := scaleChild(1)
	for _, op := range []dataplane.Op{
		{Kind: dataplane.DeleteSA, SA: gone[0].SA}, {Kind: dataplane.UpdateSA, SA: gone[0].SA},
		{Kind: dataplane.DeletePolicy, Policy: gone[2].Policy},
	} {
		if err := d.Apply(ctx, []dataplane.Op{op}); !errors.Is(err, dataplane.ErrNotFound) {
			t.Errorf("%s of a missing entry: %v, want ErrNotFound", op.Kind, err)
		}
	}
}

// TestTablesReadersSeeWholeBatches: while batches install and remove
// children, a reader of the live tables finds each child's policy only
// together with its SAs, and never a torn index (run with -race: the
// writer changes no node a published version holds).
func TestTablesReadersSeeWholeBatches(t *testing.T) {
	d := newScaleDP(t)
	ctx := context.Background()
	const children = 64
	fillScale(t, d, children/2)
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		var err error
		for n := 0; err == nil; n++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			tab := d.tables.Load()
			i := n % children
			f := scaleFlow(i)
			p := tab.lookupOut(&f)
			_, inSA := tab.bySPI.get(0x10000000 + uint32(i))
			switch {
			case p != nil && (tab.saFor(p) == nil || !inSA):
				err = fmt.Errorf("child %d: policy without its SAs", i)
			case p == nil && inSA:
				err = fmt.Errorf("child %d: SAs without the policy", i)
			}
		}
		<-stop
		done <- err
	}()
	r := rand.New(rand.NewPCG(5, 6))
	installed := map[int]bool{}
	for i := range children / 2 {
		installed[i] = true
	}
	for range 2000 {
		i := r.IntN(children)
		batch := scaleChild(i)
		if installed[i] {
			for j := range batch {
				batch[j].Kind = map[dataplane.OpKind]dataplane.OpKind{
					dataplane.AddSA: dataplane.DeleteSA, dataplane.AddPolicy: dataplane.DeletePolicy}[batch[j].Kind]
			}
		}
		if err := d.Apply(ctx, batch); err != nil {
			t.Fatal(err)
		}
		installed[i] = !installed[i]
	}
	close(stop)
	if err := <-done; err != nil {
		t.Error(err)
	}
}
