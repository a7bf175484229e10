package ikesvc

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine/enginetest"
)

// clearDP is the engine's test dataplane with SetClearPolicies: it
// records the lists it is given.
type clearDP struct {
	*enginetest.Dataplane
	mu    sync.Mutex
	lists [][]config.ClearPolicy
}

func (d *clearDP) SetClearPolicies(list []config.ClearPolicy) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lists = append(d.lists, list)
	return nil
}

func (d *clearDP) last() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var names []string
	for _, c := range d.lists[len(d.lists)-1] {
		names = append(names, c.VPN+"/"+c.Name+":"+c.Action.String())
	}
	return names
}

// withPolicy adds security policy name of action act (and svti ids) to
// the VPN of dev.
func withPolicy(dev *generated.Device, name string, act generated.E_SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action, svti uint32) *generated.Device {
	for _, v := range dev.Vrf["main"].Ike.Vpn {
		sp := &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{Name: ptr2(name), Action: act,
			RemoteTs: &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_RemoteTs{Subnet: ptr2("10.9.0.0/24")}}
		if svti != 0 {
			sp.SvtiIdIn, sp.SvtiIdOut = ptr2(svti), ptr2(svti)
		}
		v.SecurityPolicy[name] = sp
	}
	return dev
}

func newServiceOn(t *testing.T, o Options) *Service {
	o.PortIKE, o.PortNATT = 15900, 15901
	o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := New(o)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestClearPolicies: the pass and drop policies of the configuration go
// to the dataplane at start and at each commit, and back on abort.
func TestClearPolicies(t *testing.T) {
	dp := &clearDP{Dataplane: enginetest.NewDataplane()}
	s := newServiceOn(t, Options{Dataplane: dp, DataplaneKind: "kernel"})
	run := withPolicy(device("v", "127.0.0.1", "", "a", "b", "10.1.0.0/16", "10.2.0.0/16"), "drop9",
		generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_drop, 0)
	if err := s.Start(run); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(dp.last(), " "); got != "v/drop9:drop" {
		t.Fatalf("at start: %q", got)
	}
	if len(dp.Children()) != 0 {
		t.Errorf("a drop policy made a child SA")
	}
	next := withPolicy(device("v", "127.0.0.1", "", "a", "b", "10.1.0.0/16", "10.2.0.0/16"), "pass9",
		generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_pass, 0)
	tx := &datastore.Tx{ID: 2, Old: run, New: next}
	if err := s.Prepare(tx); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(tx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(dp.last(), " "); got != "v/pass9:pass" {
		t.Fatalf("after the commit: %q", got)
	}
	s.Abort(tx)
	if got := strings.Join(dp.last(), " "); got != "v/drop9:drop" {
		t.Fatalf("after the abort: %q", got)
	}
}

// TestRefuseUnsupported: svti-id-in/out with a dataplane without XFRM
// interfaces, and pass or drop policies with a dataplane that cannot
// install them, refuse the commit with operation-not-supported.
func TestRefuseUnsupported(t *testing.T) {
	base := func() *generated.Device { return device("v", "127.0.0.1", "", "a", "b", "10.1.0.0/16", "10.2.0.0/16") }
	for _, tc := range []struct {
		name string
		o    Options
		dev  *generated.Device
		want string
	}{
		{"svti on userspace", Options{Dataplane: &clearDP{Dataplane: enginetest.NewDataplane()}, DataplaneKind: "userspace", NoIfID: true},
			withPolicy(base(), "x", generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_esp, 7), "svti-id-in and svti-id-out need the kernel dataplane"},
		{"drop without clear dataplane", Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "kernel"},
			withPolicy(base(), "x", generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_drop, 0), "action drop is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServiceOn(t, tc.o)
			err := s.Prepare(&datastore.Tx{ID: 1, Old: &generated.Device{}, New: tc.dev})
			var et datastore.ErrorTagger
			if !errors.As(err, &et) || et.ErrorTag() != "operation-not-supported" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Prepare: %v, want operation-not-supported %q", err, tc.want)
			}
		})
	}
	// The kernel dataplane takes svti ids.
	s := newServiceOn(t, Options{Dataplane: &clearDP{Dataplane: enginetest.NewDataplane()}, DataplaneKind: "kernel"})
	tx := &datastore.Tx{ID: 1, Old: &generated.Device{}, New: withPolicy(base(), "x", generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_esp, 7)}
	if err := s.Prepare(tx); err != nil {
		t.Fatalf("kernel dataplane refused svti ids: %v", err)
	}
	s.Abort(tx)
}
