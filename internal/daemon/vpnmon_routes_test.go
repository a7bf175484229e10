package daemon

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/ike/engine"
	"secgw/internal/routes/routestest"
)

// TestMonitorRoutesWithdrawn: the VPN monitor's action down over the
// daemon's routing (in-memory twin): the child SA's route goes when the
// monitor finds it down, a reconcile does not bring it back while it is
// down, it returns when the child SA answers again, and DeleteChild then
// removes it as usual.
func TestMonitorRoutesWithdrawn(t *testing.T) {
	f := routestest.New()
	f.AddLink("secgw0")
	f.AddLink("lan", "10.1.0.1/24")
	r := newRouting(f, "secgw0", slog.New(slog.DiscardHandler))
	r.start(deviceWithRoutes(230, 220))
	defer r.close()
	p := routedProgrammer{Programmer: childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dataplane.NewFake()}), routes: r}
	c := routeChild(0xc2)
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	const route = "route 10.2.0.0/16 dev secgw0 src 10.1.0.1 table 230 proto secgw\n"
	if got := f.Render(); !strings.Contains(got, route) {
		t.Fatalf("after InstallChild:\n%s", got)
	}
	r.monitorRoutes(c, false) // vpn-monitor: down
	if err := r.m.Reconcile(); err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); strings.Contains(got, "route ") {
		t.Fatalf("route still there while the child SA is down:\n%s", got)
	}
	r.monitorRoutes(c, true) // answered again
	if got := f.Render(); !strings.Contains(got, route) {
		t.Fatalf("route not back once the child SA is up:\n%s", got)
	}
	if err := p.DeleteChild(c); err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); strings.Contains(got, "route ") {
		t.Fatalf("after DeleteChild:\n%s", got)
	}
}

// holdAll is a verifier that withholds the routes of every child SA
// until released.
type holdAll struct{ waiting map[uint32]bool }

func (h *holdAll) WithholdRoutes(c engine.ChildSA) bool {
	h.waiting[c.UniqueID] = true
	return true
}

func (h *holdAll) RoutesWithheld(c engine.ChildSA) bool { return h.waiting[c.UniqueID] }

// TestVerifyPathRoutesWithheld: a child SA whose routes the IKE service
// withholds for datapath verification is installed without its route,
// a reconcile does not add it, a MOBIKE move keeps it withheld, and
// monitorRoutes (the echo answered) installs it at the moved addresses;
// DeleteChild removes it.
func TestVerifyPathRoutesWithheld(t *testing.T) {
	f := routestest.New()
	f.AddLink("secgw0")
	f.AddLink("lan", "10.1.0.1/24")
	r := newRouting(f, "secgw0", slog.New(slog.DiscardHandler))
	r.start(deviceWithRoutes(230, 220))
	defer r.close()
	v := &holdAll{waiting: map[uint32]bool{}}
	p := routedProgrammer{Programmer: childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dataplane.NewFake()}), routes: r, verify: v}
	c := routeChild(0xc3)
	c.UniqueID = 9
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	if err := r.m.Reconcile(); err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); strings.Contains(got, "route ") {
		t.Fatalf("route of a child SA waiting for verification:\n%s", got)
	}
	moved := c
	moved.Local = netip.MustParseAddrPort("192.0.2.9:4500")
	if err := p.MoveChild(c, moved); err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); strings.Contains(got, "route ") {
		t.Fatalf("route after a MOBIKE move while waiting:\n%s", got)
	}
	delete(v.waiting, c.UniqueID)
	r.monitorRoutes(moved, true) // the echo was answered
	const route = "route 10.2.0.0/16 dev secgw0 src 10.1.0.1 table 230 proto secgw\n"
	if got := f.Render(); !strings.Contains(got, route) {
		t.Fatalf("route not installed once verified:\n%s", got)
	}
	if err := p.DeleteChild(moved); err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); strings.Contains(got, "route ") {
		t.Fatalf("after DeleteChild:\n%s", got)
	}
}

// TestVerifyPathTrapRoutesWait: a trap's routes into the TUN device are
// the child SA's routes too, so while a child SA of the trap's policy
// waits for datapath verification they are out; they come back once it
// is verified (with the child SA's own), and when a waiting child SA is
// deleted without verification (the trap raises acquires again).
func TestVerifyPathTrapRoutesWait(t *testing.T) {
	f := routestest.New()
	f.AddLink("secgw0")
	f.AddLink("lan", "10.1.0.1/24")
	r := newRouting(f, "secgw0", slog.New(slog.DiscardHandler))
	r.start(deviceWithRoutes(230, 220))
	defer r.close()
	v := &holdAll{waiting: map[uint32]bool{}}
	p := routedProgrammer{Programmer: childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dataplane.NewFake()}), routes: r, verify: v}
	c := routeChild(0xc4)
	trap := engine.Trap{VPN: c.VPN, Policy: c.Policy, Local: c.Local.Addr(), Remote: c.Remote.Addr(),
		LocalTS: c.LocalTS[0], RemoteTS: c.RemoteTS[0], Mode: c.Mode}
	const route = "route 10.2.0.0/16 dev secgw0 src 10.1.0.1 table 230 proto secgw\n"
	routed := func() bool { return strings.Contains(f.Render(), route) }
	if err := p.InstallTrap(trap); err != nil {
		t.Fatal(err)
	}
	if !routed() {
		t.Fatalf("trap without its route:\n%s", f.Render())
	}
	if err := p.InstallChild(c); err != nil { // waits
		t.Fatal(err)
	}
	if routed() {
		t.Fatalf("trap route still there while a child SA waits:\n%s", f.Render())
	}
	if err := p.DeleteChild(c); err != nil { // verification failed
		t.Fatal(err)
	}
	if !routed() {
		t.Fatalf("trap route not back after the waiting child SA went:\n%s", f.Render())
	}
	c2 := routeChild(0xc5)
	if err := p.InstallChild(c2); err != nil { // the renegotiated one waits
		t.Fatal(err)
	}
	if routed() {
		t.Fatalf("trap route there while the second child SA waits:\n%s", f.Render())
	}
	r.monitorRoutes(c2, true) // verified
	if !routed() {
		t.Fatalf("no route once verified:\n%s", f.Render())
	}
	if err := p.DeleteChild(c2); err != nil {
		t.Fatal(err)
	}
	if !routed() {
		t.Fatalf("the trap's route went with the verified child SA:\n%s", f.Render())
	}
	if err := p.RemoveTrap(trap); err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); strings.Contains(got, "route ") {
		t.Fatalf("after RemoveTrap:\n%s", got)
	}
}
