package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/ike/engine"
	"secgw/internal/ipsec"
	"secgw/internal/routes/routestest"
)

// gatedDataplane is a fake dataplane whose first Apply once armed waits
// for release (after closing entered): the calls made meanwhile queue
// up.
type gatedDataplane struct {
	*dataplane.Fake
	armed            atomic.Bool
	entered, release chan struct{}
}

func newGatedDataplane() *gatedDataplane {
	return &gatedDataplane{Fake: dataplane.NewFake(), entered: make(chan struct{}), release: make(chan struct{})}
}

func (d *gatedDataplane) Apply(ctx context.Context, ops []dataplane.Op) error {
	if d.armed.CompareAndSwap(true, false) {
		close(d.entered)
		<-d.release
	}
	return d.Fake.Apply(ctx, ops)
}

// waitQueued waits until g holds n calls in its queue.
func waitQueued(g *childGroup, n int) {
	for {
		g.mu.Lock()
		queued := len(g.queue)
		g.mu.Unlock()
		if queued == n {
			return
		}
		runtime.Gosched()
	}
}

// groupChild is routeChild with its own SPIs and remote selector
// 10.2.N.0/24.
func groupChild(n uint32) engine.ChildSA {
	c := routeChild(0xc0 + n)
	c.RemoteTS = []ipsec.TrafficSelector{sel4(fmt.Sprintf("10.2.%d.0/24", n))}
	return c
}

// withholdOne is a verifier that withholds the routes of one child SA
// (by unique id) for datapath verification.
type withholdOne struct{ uid uint32 }

func (w withholdOne) WithholdRoutes(c engine.ChildSA) bool { return c.UniqueID == w.uid }
func (w withholdOne) RoutesWithheld(c engine.ChildSA) bool { return c.UniqueID == w.uid }

// TestInstallGroup: the child SA installs that arrive while another is
// applied wait and are applied together in the next batch (one Apply of
// the dataplane), each with its own outcome (a duplicate fails alone),
// and each installed child SA gets its routes but the one datapath
// verification withholds.
func TestInstallGroup(t *testing.T) {
	f := routestest.New()
	f.AddLink("secgw0")
	f.AddLink("lan", "10.1.0.1/24")
	r := newRouting(f, "secgw0", slog.New(slog.DiscardHandler))
	r.start(deviceWithRoutes(230, 220))
	defer r.close()
	dp := newGatedDataplane()
	dp.armed.Store(true)
	p := newRoutedProgrammer(childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dp}), r, withholdOne{groupChild(3).UniqueID})

	// The first install alone: its Apply waits at the gate.
	errs := make([]error, 5)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = p.InstallChild(groupChild(0)) })
	<-dp.entered
	// Three more, and a duplicate of the second: they queue behind it,
	// in this order.
	for i := 1; i < 5; i++ {
		n := uint32(i)
		if i == 4 {
			n = 1
		}
		wg.Go(func() { errs[i] = p.InstallChild(groupChild(n)) })
		waitQueued(p.installs, i)
	}
	close(dp.release)
	wg.Wait()

	for i, err := range errs[:4] {
		if err != nil {
			t.Errorf("install %d: %v", i, err)
		}
	}
	if errs[4] == nil || !strings.Contains(errs[4].Error(), "already installed") {
		t.Errorf("the duplicate install: err %v, want already installed", errs[4])
	}
	if b, n := p.installs.stats(); b != 2 || n != 5 {
		t.Errorf("group: %d batches of %d installs, want 2 of 5", b, n)
	}
	if got := dp.Batches(); got != 2 {
		t.Errorf("dataplane Applies: %d, want 2 (the first install, then the 3 queued ones)", got)
	}
	got := f.Render()
	for i := range 3 {
		if want := fmt.Sprintf("route 10.2.%d.0/24 dev secgw0", i); !strings.Contains(got, want) {
			t.Errorf("routes lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "10.2.3.0/24") {
		t.Errorf("the route withheld for datapath verification is installed:\n%s", got)
	}
	st := p.State()
	if len(st.SAs) != 8 {
		t.Errorf("installed SAs: %d, want 8", len(st.SAs))
	}
}

// TestInstallGroupAlone: an install with none waiting is applied at once
// in a batch of its own, with InstallChild's error when it fails.
func TestInstallGroupAlone(t *testing.T) {
	f := routestest.New()
	f.AddLink("secgw0")
	f.AddLink("lan", "10.1.0.1/24")
	r := newRouting(f, "secgw0", slog.New(slog.DiscardHandler))
	r.start(deviceWithRoutes(230, 220))
	defer r.close()
	dp := dataplane.NewFake()
	p := newRoutedProgrammer(childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dp}), r, nil)
	for i := range 3 {
		if err := p.InstallChild(groupChild(uint32(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.InstallChild(groupChild(2)); err == nil || !strings.Contains(err.Error(), "already installed") {
		t.Fatalf("a duplicate: %v", err)
	}
	if b, n := p.installs.stats(); b != 4 || n != 4 {
		t.Errorf("group: %d batches of %d installs, want 4 of 4", b, n)
	}
	if got := dp.Batches(); got != 3 {
		t.Errorf("dataplane Applies: %d, want 3", got)
	}
}

// TestDeleteGroup: deletes that arrive while another is applied go in
// one batch too, routes first, each with its own outcome (a child SA
// not installed fails alone).
func TestDeleteGroup(t *testing.T) {
	f := routestest.New()
	f.AddLink("secgw0")
	f.AddLink("lan", "10.1.0.1/24")
	r := newRouting(f, "secgw0", slog.New(slog.DiscardHandler))
	r.start(deviceWithRoutes(230, 220))
	defer r.close()
	dp := newGatedDataplane()
	p := newRoutedProgrammer(childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dp}), r, nil)
	for i := range 4 {
		if err := p.InstallChild(groupChild(uint32(i))); err != nil {
			t.Fatal(err)
		}
	}
	dp.ResetCounts()
	dp.armed.Store(true)

	errs := make([]error, 4)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = p.DeleteChild(groupChild(0)) })
	<-dp.entered
	for i := 1; i < 4; i++ {
		n := uint32(i)
		if i == 3 {
			n = 9 // never installed
		}
		wg.Go(func() { errs[i] = p.DeleteChild(groupChild(n)) })
		waitQueued(p.deletes, i)
	}
	close(dp.release)
	wg.Wait()

	for i, err := range errs[:3] {
		if err != nil {
			t.Errorf("delete %d: %v", i, err)
		}
	}
	if errs[3] == nil || !strings.Contains(errs[3].Error(), "not installed") {
		t.Errorf("the delete of a child SA never installed: err %v, want not installed", errs[3])
	}
	if b, n := p.deletes.stats(); b != 2 || n != 4 {
		t.Errorf("group: %d batches of %d deletes, want 2 of 4", b, n)
	}
	if got := dp.Batches(); got != 2 {
		t.Errorf("dataplane Applies: %d, want 2 (the first delete, then the 2 queued ones)", got)
	}
	got := f.Render()
	for i := range 3 {
		if s := fmt.Sprintf("10.2.%d.0/24", i); strings.Contains(got, s) {
			t.Errorf("the route of deleted child SA %d is left:\n%s", i, got)
		}
	}
	if !strings.Contains(got, "route 10.2.3.0/24 dev secgw0") {
		t.Errorf("the route of the child SA left lacks:\n%s", got)
	}
	if st := p.State(); len(st.SAs) != 2 {
		t.Errorf("installed SAs: %d, want 2", len(st.SAs))
	}
}

// TestGroupPanic: a batch that panics (in its leader's goroutine) does
// not leave the other calls of the batch waiting, nor tell them their
// child SAs went in; the group takes the next calls.
func TestGroupPanic(t *testing.T) {
	var g childGroup
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	// A first batch holds the group while two calls queue up.
	wg.Go(func() {
		g.do(groupChild(0), func(cs []engine.ChildSA) []error {
			close(started)
			<-release
			return nil
		})
	})
	<-started
	var panicked [2]bool
	var errs [2]error
	for i := range 2 {
		wg.Go(func() {
			defer func() { panicked[i] = recover() != nil }()
			errs[i] = g.do(groupChild(uint32(i+1)), func(cs []engine.ChildSA) []error { panic("batch") })
		})
		waitQueued(&g, i+1)
	}
	close(release)
	wg.Wait()
	// One of the two led their batch and panicked; the other was told.
	if panicked[0] == panicked[1] {
		t.Fatalf("panicked %v: want one leader of the second batch", panicked)
	}
	other := 0
	if panicked[0] {
		other = 1
	}
	if !errors.Is(errs[other], errBatchPanicked) {
		t.Errorf("the other call of the batch that panicked: err %v, want errBatchPanicked", errs[other])
	}
	if err := g.do(groupChild(3), func(cs []engine.ChildSA) []error { return nil }); err != nil {
		t.Errorf("the next call: %v", err)
	}
}

// TestGroupAllocs: the group itself allocates nothing for a call once
// warm (its waiting call is recycled, its queue and batch slices kept):
// the garbage of an install is the dataplane's.
func TestGroupAllocs(t *testing.T) {
	var g childGroup
	c := groupChild(1)
	batch := func(cs []engine.ChildSA) []error { return nil }
	g.do(c, batch)
	if n := testing.AllocsPerRun(100, func() {
		if err := g.do(c, batch); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%.1f allocations a call, want 0", n)
	}
}
