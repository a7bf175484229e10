package ikesvc

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
)

// routedDataplane stands for the daemon's routed programmer in these
// tests: it installs a child SA's routes (a line in routes) unless the
// service withholds them for datapath verification.
type routedDataplane struct {
	*enginetest.Dataplane
	svc    func() *Service
	mu     *sync.Mutex
	routes *[]string
}

func (d routedDataplane) InstallChild(c engine.ChildSA) error {
	if err := d.Dataplane.InstallChild(c); err != nil {
		return err
	}
	if !d.svc().WithholdRoutes(c) {
		d.mu.Lock()
		*d.routes = append(*d.routes, fmt.Sprintf("install %d", c.UniqueID))
		d.mu.Unlock()
	}
	return nil
}

// TestVerifyPath: two services over loopback, A with verify-path on its
// security policy (interval 2 s, threshold 2). While the echoes go
// unanswered A's child SA is installed but not routed, its state says
// verifying-path; after two unanswered echoes it is deleted and a new
// one negotiated (a vpn-monitor-down sa-event saying why), whose routes
// wait too. Once the echoes are answered the routes are installed
// (OnMonitorRoutes up=true, a vpn-monitor-up sa-event) and the state says
// up. A rekey of the verified child SA is routed at once, without a new
// verification.
func TestVerifyPath(t *testing.T) {
	path := &fakePath{}
	var mu sync.Mutex
	var events, routes []string
	var a *Service
	dp := routedDataplane{Dataplane: enginetest.NewDataplane(), svc: func() *Service { return a }, mu: &mu, routes: &routes}
	a = New(Options{Dataplane: dp, DataplaneKind: "userspace", PortIKE: 15680, PortNATT: 15681,
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		NewProber: path.new,
		OnSAEvent: func(e SAEvent) {
			mu.Lock()
			defer mu.Unlock()
			r := ""
			if e.Reason != nil {
				r = " " + *e.Reason
			}
			events = append(events, e.Event+r)
		},
		OnMonitorRoutes: func(c engine.ChildSA, up bool) {
			mu.Lock()
			defer mu.Unlock()
			routes = append(routes, fmt.Sprintf("monitor %d up=%v", c.UniqueID, up))
		}})
	t.Cleanup(func() { a.Close() })
	b, _ := newService(t, 15680)
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	dev := withMonitor(device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"), "10.1.0.1", "10.2.0.1", 2, 2)
	dev.Vrf["main"].Ike.Vpn["to-b"].SecurityPolicy["net"].VpnMonitor.VerifyPath = ptr2(true)
	if err := a.Start(dev); err != nil {
		t.Fatal(err)
	}
	if _, err := a.eng.InitiateChild("net"); err != nil {
		t.Fatal(err)
	}
	state := func() (uint32, generated.E_SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor) { return childMonitor(a) }
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("no %s in 20 s; events %q routes %q", what, events, routes)
			}
		}
	}
	var first uint32
	wait("verifying-path", func() bool {
		u, s := state()
		first = u
		return s == generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_verifying_path
	})
	var second uint32
	wait("a new child SA after the failed verification", func() bool {
		u, s := state()
		second = u
		return u != 0 && u != first && s == generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_verifying_path
	})
	mu.Lock()
	if len(routes) != 0 {
		t.Errorf("routes of unverified child SAs: %q", routes)
	}
	mu.Unlock()
	path.alive.Store(true)
	wait("up", func() bool { _, s := state(); return s == generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_up })
	if err := a.eng.RekeyChild(second); err != nil {
		t.Fatal(err)
	}
	var third uint32
	wait("the rekeyed child SA", func() bool { u, _ := state(); third = u; return u != 0 && u != second })
	wait("the rekeyed child SA monitored", func() bool { _, s := state(); return s == generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_up })

	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(routes, "\n"), fmt.Sprintf("monitor %d up=true\ninstall %d", second, third); got != want {
		t.Errorf("routes:\n%s\nwant:\n%s", got, want)
	}
	want := "vpn-monitor-down 2 echoes to the monitored destination unanswered: datapath verification failed, routes never installed: child SA renegotiated\n" +
		"vpn-monitor-up datapath verified: routes installed"
	if got := strings.Join(events, "\n"); !strings.HasPrefix(got, want) {
		t.Errorf("events:\n%s\nwant first:\n%s", got, want)
	}
}
