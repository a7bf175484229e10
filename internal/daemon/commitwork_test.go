package daemon

import (
	"fmt"
	"log/slog"
	"net/netip"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/datastore"
	"secgw/internal/ike/engine"
	"secgw/internal/ikesvc"
	"secgw/internal/routes/routestest"
	"secgw/internal/schema"
)

// commitWork is what the IKE and route subscribers did for a commit.
type commitWork struct {
	ike       ikesvc.CommitWork
	routeVPNs uint64
}

// TestCommitWorkFollowsTheChange counts the work, not the time, of
// commits of one VPN (one added, then one changed, then one removed)
// through the IKE subsystem and the routes, as the datastore hands them
// the commit: into a running configuration of 10 VPNs and of 10,000, each
// subscriber resolves, compares and reads the same few VPNs. Resolving,
// comparing or reading every VPN, as a full re-resolution does, fails it.
func TestCommitWorkFollowsTheChange(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	work := map[int]commitWork{}
	for _, n := range []int{10, 10000} {
		work[n] = oneVPNCommits(t, s, n)
	}
	t.Logf("10 VPNs: %+v; 10,000 VPNs: %+v", work[10], work[10000])
	if work[10] != work[10000] {
		t.Errorf("the work of one-VPN commits grows with the configuration: %+v with 10 VPNs, %+v with 10,000", work[10], work[10000])
	}
	if w := work[10000]; w.ike.VPNsResolved > 2 || w.ike.VPNsCompared > 3 || w.ike.MonitorVPNsRead > 3 || w.routeVPNs > 3 {
		t.Errorf("three one-VPN commits did %+v", w)
	}
}

// oneVPNCommits starts the subscribers on the concentrator configuration
// of n VPNs, then commits an added VPN, a change of it and its removal,
// and returns the work of the three commits.
func oneVPNCommits(t *testing.T, s *schema.Schema, n int) commitWork {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	svc := ikesvc.New(ikesvc.Options{Logger: log, Dataplane: childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dataplane.NewFake()}),
		HostAddrs: func() []netip.Addr { return nil }})
	t.Cleanup(func() { svc.Close() })
	f := routestest.New()
	r := newRouting(f, "", log)
	dev := configtest.Concentrator(t, s, n)
	if err := svc.Start(dev); err != nil {
		t.Fatal(err)
	}
	r.start(dev)
	t.Cleanup(r.close)
	before, routesBefore := svc.CommitWork(), r.vpnsRead.Load()
	v := fmt.Sprintf("vpn%05d", n)
	for i, edit := range []func(*generated.Device){
		func(d *generated.Device) {
			configtest.Apply(t, s, d, "/ vrf main ike vpn "+v+" remote-address 192.0.2.7",
				"/ vrf main ike vpn "+v+" ike-policy template vpnc_ike",
				"/ vrf main ike vpn "+v+" security-policy extra local-ts subnet 172.30.0.0/24")
		},
		func(d *generated.Device) {
			configtest.Apply(t, s, d, "/ vrf main ike vpn "+v+" remote-id other.example.com")
		},
		func(d *generated.Device) { delete(d.Vrf["main"].Ike.Vpn, v) },
	} {
		next := datastore.Clone(dev)
		edit(next)
		tx := &datastore.Tx{ID: uint64(i + 1), Old: dev, New: next, Changes: datastore.Diff(s, dev, next)}
		for _, sub := range []datastore.Subscriber{svc, r} {
			if err := sub.Prepare(tx); err != nil {
				t.Fatal(err)
			}
		}
		for _, sub := range []datastore.Subscriber{svc, r} {
			if err := sub.Apply(tx); err != nil {
				t.Fatal(err)
			}
		}
		dev = next
	}
	if got := len(svc.Engine().Config().VPNs); got != n {
		t.Fatalf("%d VPNs after the commits, want %d", got, n)
	}
	after := svc.CommitWork()
	return commitWork{
		ike: ikesvc.CommitWork{VPNsResolved: after.VPNsResolved - before.VPNsResolved,
			UpdateWork: engineWork(after, before)},
		routeVPNs: r.vpnsRead.Load() - routesBefore,
	}
}

func engineWork(after, before ikesvc.CommitWork) (d engine.UpdateWork) {
	d.VPNsCompared = after.VPNsCompared - before.VPNsCompared
	d.SAsVisited = after.SAsVisited - before.SAsVisited
	return d
}
