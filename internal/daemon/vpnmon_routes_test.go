package daemon

import (
	"log/slog"
	"strings"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
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
