package ikesvc

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/vpnmon"
)

// fakePath is the VPN monitor's prober in these tests: the echoes are
// answered while alive is set (the tunnel carries traffic), and not
// after (a firewall drops ESP).
type fakePath struct {
	alive atomic.Bool
	mu    sync.Mutex
	reply func(id, seq uint16)
	sent  []string
}

func (f *fakePath) new(reply func(id, seq uint16)) vpnmon.Prober {
	f.reply = reply
	return f
}

func (f *fakePath) Echo(src, dst netip.Addr, _ string, id, seq uint16) error {
	f.mu.Lock()
	f.sent = append(f.sent, src.String()+">"+dst.String())
	f.mu.Unlock()
	if f.alive.Load() {
		f.reply(id, seq)
	}
	return nil
}

// withMonitor adds vpn-monitor to the security policy net.
func withMonitor(d *generated.Device, src, dst string, interval uint16, threshold uint8) *generated.Device {
	sp := d.Vrf["main"].Ike.Vpn[firstVPN(d)].SecurityPolicy["net"]
	sp.VpnMonitor = &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_VpnMonitor{SourceAddress: ptr2(src), DestinationIp: ptr2(dst),
		Interval: ptr2(interval), Threshold: ptr2(threshold)}
	return d
}

func firstVPN(d *generated.Device) string {
	for n := range d.Vrf["main"].Ike.Vpn {
		return n
	}
	return ""
}

// TestVPNMonitorRestart: two services over loopback, A monitoring its
// child SA (interval 2 s, threshold 2). While the echoes are answered
// the child-sa state's vpn-monitor is up (a vpn-monitor-up sa-event);
// once they are not, after two intervals without answer the child SA is
// declared down (a vpn-monitor-down sa-event naming the restart), A
// deletes it and negotiates a new one, which the monitor then watches.
func TestVPNMonitorRestart(t *testing.T) {
	path := &fakePath{}
	path.alive.Store(true)
	var evMu sync.Mutex
	var events []string
	dpA := enginetest.NewDataplane()
	a := New(Options{Dataplane: dpA, DataplaneKind: "userspace", PortIKE: 15660, PortNATT: 15661,
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		NewProber: path.new,
		OnSAEvent: func(e SAEvent) {
			evMu.Lock()
			defer evMu.Unlock()
			r := ""
			if e.Reason != nil {
				r = " " + *e.Reason
			}
			events = append(events, e.Event+r)
		}})
	t.Cleanup(func() { a.Close() })
	b, _ := newService(t, 15660)
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(withMonitor(device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"),
		"10.1.0.1", "10.2.0.1", 2, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.eng.InitiateChild("net"); err != nil {
		t.Fatal(err)
	}
	monitorOf := func() (uint32, generated.E_SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor) { return childMonitor(a) }
	waitLong := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				evMu.Lock()
				defer evMu.Unlock()
				t.Fatalf("no %s in 20 s; events %q", what, events)
			}
		}
	}
	var first uint32
	waitLong("vpn-monitor up", func() bool {
		uid, st := monitorOf()
		first = uid
		return st == generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_up
	})
	path.alive.Store(false) // ESP dropped from now on
	waitLong("restarted child SA", func() bool {
		uid, _ := monitorOf()
		return uid != 0 && uid != first
	})
	path.alive.Store(true)
	waitLong("the new child SA up", func() bool {
		_, st := monitorOf()
		return st == generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_up
	})
	evMu.Lock()
	got := strings.Join(events, "\n")
	evMu.Unlock()
	if !strings.HasPrefix(got, "vpn-monitor-up\nvpn-monitor-down 2 echoes to the monitored destination unanswered: child SA restarted\nvpn-monitor-up") {
		t.Errorf("events:\n%s", got)
	}
	path.mu.Lock()
	if len(path.sent) == 0 || path.sent[0] != "10.1.0.1>10.2.0.1" {
		t.Errorf("echoes %q", path.sent)
	}
	path.mu.Unlock()
	if n := len(dpA.Children()); n != 1 {
		t.Errorf("%d child SAs in the dataplane after the restart, want 1", n)
	}
}

// TestVPNMonitorRefused: verify-path and action down on a service
// without routes to withhold or withdraw, verify-path with IPv6 echoes
// through a TUN device, and vpn-monitor on a service without prober are
// refused at commit with operation-not-supported; mixed address
// families with invalid-value.
func TestVPNMonitorRefused(t *testing.T) {
	base := func() *generated.Device {
		return withMonitor(device("v", "127.0.0.1", "", "a", "b", "10.1.0.0/16", "10.2.0.0/16"), "10.1.0.1", "10.2.0.1", 10, 10)
	}
	path := &fakePath{}
	with := Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace", NewProber: path.new}
	for _, tc := range []struct {
		name string
		o    Options
		dev  func() *generated.Device
		tag  string
	}{
		{"no prober", Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace"}, base, "operation-not-supported"},
		{"action down", with, func() *generated.Device {
			d := base()
			d.Vrf["main"].Ike.Vpn["v"].SecurityPolicy["net"].VpnMonitor.Action = generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_VpnMonitor_Action_down
			return d
		}, "operation-not-supported"},
		{"verify-path without routes", with, func() *generated.Device {
			d := base()
			d.Vrf["main"].Ike.Vpn["v"].SecurityPolicy["net"].VpnMonitor.VerifyPath = ptr2(true)
			return d
		}, "operation-not-supported"},
		{"verify-path IPv6 through a TUN device", Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace", NewProber: path.new,
			OnMonitorRoutes: func(engine.ChildSA, bool) {}, ProbeDevice: "secgw0"}, func() *generated.Device {
			d := withMonitor(device("v", "127.0.0.1", "", "a", "b", "fd01::/64", "fd02::/64"), "fd01::1", "fd02::1", 10, 10)
			d.Vrf["main"].Ike.Vpn["v"].SecurityPolicy["net"].VpnMonitor.VerifyPath = ptr2(true)
			return d
		}, "operation-not-supported"},
		{"families", with, func() *generated.Device {
			return withMonitor(device("v", "127.0.0.1", "", "a", "b", "10.1.0.0/16", "10.2.0.0/16"), "10.1.0.1", "2001:db8::1", 10, 10)
		}, "invalid-value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServiceOn(t, tc.o)
			err := s.Prepare(&datastore.Tx{ID: 1, Old: &generated.Device{}, New: tc.dev()})
			var et datastore.ErrorTagger
			if !errors.As(err, &et) || et.ErrorTag() != tc.tag {
				t.Fatalf("Prepare: %v, want %s", err, tc.tag)
			}
			if strings.Contains(tc.name, "IPv6") && !strings.Contains(err.Error(), "IPv6 echoes") {
				t.Fatalf("Prepare: %v, want the IPv6 refusal", err)
			}
		})
	}
}

// TestVPNMonitorActionDown: with action down the child SA found down is
// kept (same unique-id, no restart) and its routes are withdrawn
// (OnMonitorRoutes up=false) with a vpn-monitor-down sa-event; when the
// echoes are answered again the routes are restored (up=true) and the
// state says up.
func TestVPNMonitorActionDown(t *testing.T) {
	path := &fakePath{}
	path.alive.Store(true)
	var mu sync.Mutex
	var events, routes []string
	a := New(Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace", PortIKE: 15670, PortNATT: 15671,
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
			routes = append(routes, fmt.Sprintf("%s %d up=%v", c.Policy, c.UniqueID, up))
		}})
	t.Cleanup(func() { a.Close() })
	b, _ := newService(t, 15670)
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	dev := withMonitor(device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"), "10.1.0.1", "10.2.0.1", 2, 2)
	dev.Vrf["main"].Ike.Vpn["to-b"].SecurityPolicy["net"].VpnMonitor.Action = generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_VpnMonitor_Action_down
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
	var uid uint32
	wait("up", func() bool {
		u, s := state()
		uid = u
		return s == generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_up
	})
	path.alive.Store(false)
	wait("down", func() bool { _, s := state(); return s == generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_down })
	path.alive.Store(true)
	wait("up again", func() bool { _, s := state(); return s == generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_up })
	if u, _ := state(); u != uid {
		t.Errorf("child SA %d after action down, want %d kept", u, uid)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(routes, "\n"), fmt.Sprintf("net %d up=false\nnet %d up=true", uid, uid); got != want {
		t.Errorf("routes:\n%s\nwant:\n%s", got, want)
	}
	if got := strings.Join(events, "\n"); got != "vpn-monitor-up\nvpn-monitor-down 2 echoes to the monitored destination unanswered: routes withdrawn\nvpn-monitor-up" {
		t.Errorf("events:\n%s", got)
	}
}

// TestVPNMonitorPeerInner: a vpn-monitor without destination-ip echoes
// to the peer's inner address, the child SA's remote selector when it is
// one address (host-to-host here); a child SA whose remote selector is a
// subnet is not monitored (no vpn-monitor state, no echo).
func TestVPNMonitorPeerInner(t *testing.T) {
	for _, tc := range []struct {
		name, remoteTS string
		want           string // the first echo, "" for none
	}{
		{"host", "10.2.0.9/32", "10.1.0.1>10.2.0.9"},
		{"subnet", "10.2.0.0/16", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := &fakePath{}
			path.alive.Store(true)
			port := uint16(15740)
			if tc.want == "" {
				port = 15742
			}
			a := New(Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace", PortIKE: port, PortNATT: port + 1,
				Logger: slog.New(slog.DiscardHandler), NewProber: path.new})
			t.Cleanup(func() { a.Close() })
			b, _ := newService(t, port)
			if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", tc.remoteTS, "10.1.0.0/16")); err != nil {
				t.Fatal(err)
			}
			d := withMonitor(device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", tc.remoteTS),
				"10.1.0.1", "", 2, 2)
			d.Vrf["main"].Ike.Vpn["to-b"].SecurityPolicy["net"].VpnMonitor.DestinationIp = nil
			if err := a.Start(d); err != nil {
				t.Fatal(err)
			}
			if _, err := a.eng.InitiateChild("net"); err != nil {
				t.Fatal(err)
			}
			state := func() (bool, generated.E_SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor) {
				for _, sa := range a.State(false).IkeSa {
					for _, c := range sa.ChildSa {
						return true, c.VpnMonitor
					}
				}
				return false, 0
			}
			deadline := time.Now().Add(15 * time.Second)
			for {
				ok, st := state()
				if tc.want != "" && st == generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor_up {
					break
				}
				if tc.want == "" && ok {
					time.Sleep(3 * monitorTick) // a few syncs and ticks
					if _, st := state(); st != 0 {
						t.Fatalf("a subnet's child SA is monitored: %v", st)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("child SA state %v, %v after 15 s", ok, st)
				}
				time.Sleep(100 * time.Millisecond)
			}
			path.mu.Lock()
			defer path.mu.Unlock()
			if tc.want == "" && len(path.sent) != 0 || tc.want != "" && (len(path.sent) == 0 || path.sent[0] != tc.want) {
				t.Errorf("echoes %q, want first %q", path.sent, tc.want)
			}
		})
	}
}

// childMonitor is the unique-id and vpn-monitor state of s's first child
// SA (0, 0 without one).
func childMonitor(s *Service) (uint32, generated.E_SecgwVrf_Vrf_Ike_IkeSa_ChildSa_VpnMonitor) {
	for _, sa := range s.State(false).IkeSa {
		for uid, c := range sa.ChildSa {
			return uid, c.VpnMonitor
		}
	}
	return 0, 0
}
