package childsa

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/ike/engine"
)

// batchChildren are n child SAs as an HA takeover installs them: each of
// its own peer and remote subnet, every fourth a rekeyed twin of the one
// before (same VPN, policy and selectors: it shares its reqid and
// policies).
func batchChildren(n int) []engine.ChildSA {
	var cs []engine.ChildSA
	for i := range n {
		c := testChild(uint32(0x1000+i), uint32(0x2000+i))
		j := i
		if i%4 == 3 {
			j = i - 1
		}
		c.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(j >> 8), byte(j)}), 4500)
		c.RemoteTS[0] = ts4(fmt.Sprintf("10.%d.%d.0", 100+j/256, j%256), fmt.Sprintf("10.%d.%d.255", 100+j/256, j%256))
		c.OSeq, c.ISeq = uint64(1000+i), uint64(7+i)
		cs = append(cs, c)
	}
	return cs
}

// TestInstallChildrenOneBatch: InstallChildren applies one batch for all
// the child SAs and leaves the dataplane, and the Programmer, exactly as
// installing them one by one does (reqids, shared policies, sequence
// numbers); DeleteChildren removes them in one batch, as DeleteChild one
// by one does. Not timed: the batches are counted.
func TestInstallChildrenOneBatch(t *testing.T) {
	cs := batchChildren(40)
	one, each := dataplane.NewFake(), dataplane.NewFake()
	pb := NewProgrammer(ProgrammerOptions{Dataplane: one})
	pe := NewProgrammer(ProgrammerOptions{Dataplane: each})
	if errs := pb.InstallChildren(cs); errs != nil {
		t.Fatalf("InstallChildren: %v", errors.Join(errs...))
	}
	for _, c := range cs {
		if err := pe.InstallChild(c); err != nil {
			t.Fatal(err)
		}
	}
	if got := one.Batches(); got != 1 {
		t.Errorf("InstallChildren of %d child SAs applied %d batches, want 1", len(cs), got)
	}
	render := func(f *dataplane.Fake) string { return dataplane.Render(f.All(), dataplane.RenderOptions{}) }
	if a, b := render(one), render(each); a != b {
		t.Errorf("the batch installed\n%s\none by one:\n%s", a, b)
	}
	for _, c := range cs {
		a, _ := pb.ReqID(c.InSPI)
		b, _ := pe.ReqID(c.InSPI)
		if a != b || a == 0 {
			t.Errorf("child %08x: reqid %d in the batch, %d one by one", c.InSPI, a, b)
		}
	}
	// Half of them go, in one batch.
	var gone []engine.ChildSA
	for i, c := range cs {
		if i%2 == 0 {
			gone = append(gone, c)
		}
	}
	one.ResetCounts()
	if errs := pb.DeleteChildren(gone); errs != nil {
		t.Fatalf("DeleteChildren: %v", errors.Join(errs...))
	}
	for _, c := range gone {
		if err := pe.DeleteChild(c); err != nil {
			t.Fatal(err)
		}
	}
	if got := one.Batches(); got != 1 {
		t.Errorf("DeleteChildren of %d child SAs applied %d batches, want 1", len(gone), got)
	}
	if a, b := render(one), render(each); a != b {
		t.Errorf("after the batch delete\n%s\none by one:\n%s", a, b)
	}
	// A child SA not installed is its own error; the others go.
	rest := append([]engine.ChildSA{gone[0]}, cs[1], cs[3])
	errs := pb.DeleteChildren(rest)
	if errs == nil || errs[0] == nil || errs[1] != nil || errs[2] != nil {
		t.Errorf("DeleteChildren with one unknown child SA: %v", errs)
	}
}

// TestInstallChildrenFallback: when the batch fails, it is undone and
// each child SA installed alone, so that only the one the dataplane
// refuses fails; a child SA twice in the batch fails as InstallChild
// would.
func TestInstallChildrenFallback(t *testing.T) {
	cs := batchChildren(8)
	cs = append(cs, cs[2]) // installed twice
	f := dataplane.NewFake()
	refused := cs[5].InSPI
	f.FailWith(func(_ int, op dataplane.Op) error {
		if op.Kind == dataplane.AddSA && op.SA.SPI == refused {
			return errors.New("refused")
		}
		return nil
	})
	p := NewProgrammer(ProgrammerOptions{Dataplane: f})
	errs := p.InstallChildren(cs)
	if errs == nil {
		t.Fatal("InstallChildren: no error")
	}
	for i, err := range errs {
		if want := i == 5 || i == 8; (err != nil) != want {
			t.Errorf("child %d (%08x): err %v", i, cs[i].InSPI, err)
		}
	}
	if ops, ch, err := dataplane.Plan(p.State(), must(f.List(t.Context()))); err != nil || len(ops) != 0 {
		t.Errorf("the Programmer's State differs from the dataplane: %v %v", ch, err)
	}
	if _, ok := p.ReqID(refused); ok {
		t.Errorf("the refused child SA is registered")
	}
	if got := len(f.All().SAs); got != 2*7 {
		t.Errorf("%d SAs installed, want %d", got, 2*7)
	}
}
