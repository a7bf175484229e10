package ikesvc

import (
	"context"
	"encoding/xml"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/poll"
)

func ptr2[T any](v T) *T { return &v }

// device builds a running config with one VPN in vrf main.
func device(name, local, remote, localID, remoteID, localTS, remoteTS string) *generated.Device {
	v := &generated.SecgwVrf_Vrf_Ike_Vpn{
		Name: ptr2(name), LocalAddress: ptr2(local), LocalId: ptr2(localID), RemoteId: ptr2(remoteID),
		IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{PreSharedKey: ptr2("secret")},
		SecurityPolicy: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{"net": {
			Name:     ptr2("net"),
			LocalTs:  &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs{Subnet: ptr2(localTS)},
			RemoteTs: &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_RemoteTs{Subnet: ptr2(remoteTS)},
		}},
	}
	if remote != "" {
		v.RemoteAddress = ptr2(remote)
	}
	return &generated.Device{Vrf: map[string]*generated.SecgwVrf_Vrf{"main": {
		Name: ptr2("main"), Ike: &generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{name: v}},
	}}}
}

func newService(t *testing.T, port uint16) (*Service, *enginetest.Dataplane) {
	dp := enginetest.NewDataplane()
	s := New(Options{Dataplane: dp, DataplaneKind: "userspace", PortIKE: port, PortNATT: port + 1,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	t.Cleanup(func() { s.Close() })
	return s, dp
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// TestInitiateStateFlush runs two services over loopback (127.0.0.1 and
// 127.0.0.2, both on the same translated ports): the initiate RPC sets up
// a childless IKE SA (ike-sa vpn), then its child SA (child-sa
// security-policy) and reports them as the vsr guide does, the state shows
// them on both sides, a commit that adds a VPN leaves them up, and flush
// deletes them.
func TestInitiateStateFlush(t *testing.T) {
	a, dpA := newService(t, 15500)
	b, _ := newService(t, 15500)
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	runA := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	if err := a.Start(runA); err != nil {
		t.Fatal(err)
	}
	out, err := a.Call(context.Background(), xml.Name{Space: NS, Local: "initiate"},
		[]byte(`<initiate xmlns="urn:secgw:yang:secgw-ike"><ike-sa><vpn>to-b</vpn></ike-sa></initiate>`))
	if err != nil {
		t.Fatal(err)
	}
	reply := string(out)
	for _, want := range []string{"<count xmlns=\"urn:secgw:yang:secgw-ike\">1</count>", "initiating IKE_SA to-b[1] to 127.0.0.2",
		"IKE_SA to-b[1] established between 127.0.0.1[a.example]...127.0.0.2[b.example]", "scheduling rekeying in 1",
		"maximum IKE_SA lifetime 1"} {
		if !strings.Contains(reply, want) {
			t.Errorf("initiate reply lacks %q:\n%s", want, reply)
		}
	}
	if strings.Contains(reply, "CHILD_SA") || len(dpA.Children()) != 0 {
		t.Errorf("initiate ike-sa set up a child SA:\n%s", reply)
	}
	out, err = a.Call(context.Background(), xml.Name{Space: NS, Local: "initiate"},
		[]byte(`<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>net</security-policy></child-sa></initiate>`))
	if err != nil {
		t.Fatal(err)
	}
	reply = string(out)
	for _, want := range []string{"<count xmlns=\"urn:secgw:yang:secgw-ike\">1</count>", "establishing CHILD_SA net",
		"CHILD_SA net{2} established with SPIs", "and TS 10.1.0.0/16 === 10.2.0.0/16"} {
		if !strings.Contains(reply, want) {
			t.Errorf("initiate reply lacks %q:\n%s", want, reply)
		}
	}
	stA, stB := a.State(false), b.State(true)
	if len(stA.IkeSa) != 1 || len(stB.IkeSa) != 1 {
		t.Fatalf("state: %d and %d IKE SAs", len(stA.IkeSa), len(stB.IkeSa))
	}
	ea, eb := stA.IkeSa[1], stB.IkeSa[1]
	if ea.State != generated.SecgwVrf_Vrf_Ike_IkeSa_State_established || *ea.InitiatorSpi != *eb.InitiatorSpi || *ea.RemoteId != "b.example" {
		t.Errorf("A ike-sa %+v", ea)
	}
	if ea.SkEi != nil || eb.SkEi == nil {
		t.Error("sk-ei shown without keys or missing with keys")
	}
	ca := ea.ChildSa[2]
	if ca == nil || *ca.LocalTs.Subnet != "10.1.0.0/16" || *ca.RemoteTs.Subnet != "10.2.0.0/16" || ca.AeadAlg == 0 {
		t.Fatalf("A child-sa %+v", ca)
	}
	if *stA.Statistics.IkeSaEstablished != 1 || stA.Dataplane != generated.SecgwVrf_Vrf_Ike_Dataplane_userspace_esp {
		t.Errorf("statistics %+v dataplane %v", stA.Statistics, stA.Dataplane)
	}

	// A commit adding a VPN leaves the tunnel up.
	next := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	other := device("other", "127.0.0.1", "127.0.0.9", "a.example", "c.example", "10.1.0.0/16", "10.9.0.0/16")
	next.Vrf["main"].Ike.Vpn["other"] = other.Vrf["main"].Ike.Vpn["other"]
	commit(t, a, 1, runA, next)
	if len(dpA.Children()) != 1 || len(a.State(false).IkeSa) != 1 {
		t.Fatal("adding a VPN disturbed the tunnel")
	}
	// flush deletes it on both sides.
	out, err = a.Call(context.Background(), xml.Name{Space: NS, Local: "flush"},
		[]byte(`<flush xmlns="urn:secgw:yang:secgw-ike"><ike-sa><vpn>to-b</vpn></ike-sa></flush>`))
	if err != nil || !strings.Contains(string(out), "deleting IKE_SA to-b[1] between 127.0.0.1[a.example]...127.0.0.2[b.example]") {
		t.Fatalf("flush: %v %s", err, out)
	}
	waitFor(t, func() bool { return len(a.State(false).IkeSa) == 0 && len(b.State(false).IkeSa) == 0 })
	if len(dpA.Children()) != 0 {
		t.Error("child SA left in the dataplane after flush")
	}
}

func commit(t *testing.T, s *Service, id uint64, old, new *generated.Device) {
	t.Helper()
	tx := &datastore.Tx{ID: id, Old: old, New: new}
	if err := s.Prepare(tx); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(tx); err != nil {
		t.Fatal(err)
	}
}

// TestPrepareRefuses: a VPN that cannot be resolved refuses the commit
// with a reason; IKE in another vrf is accepted (and not run).
func TestPrepareRefuses(t *testing.T) {
	s, _ := newService(t, 15600)
	bad := device("v", "127.0.0.1", "", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	bad.Vrf["main"].Ike.Vpn["v"].IkePolicy.Template = ptr2("missing")
	if err := s.Prepare(&datastore.Tx{ID: 1, New: bad}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("unknown template: %v", err)
	}
	other := device("v", "127.0.0.1", "", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	other.Vrf["red"] = &generated.SecgwVrf_Vrf{Name: ptr2("red"), Ike: other.Vrf["main"].Ike}
	if err := s.Prepare(&datastore.Tx{ID: 2, New: other}); err != nil {
		t.Errorf("IKE in vrf red refused: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	poll.Require(t, 2*time.Second, "the condition", cond)
}

// TestUnboundAddressIsNotFatal: a VPN whose local-address is not on the
// host is accepted, its IKE sockets bound all the same (IP_FREEBIND: the
// address may come later, as an HA standby's VRRP address does, and the
// sockets receive then).
func TestUnboundAddressIsNotFatal(t *testing.T) {
	s, _ := newService(t, 15700)
	// 192.0.2.1 (TEST-NET-1) is on no interface here.
	if err := s.Start(device("v", "192.0.2.1", "192.0.2.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")); err != nil {
		t.Fatalf("a missing local address refused the configuration: %v", err)
	}
	if want := []netip.Addr{netip.MustParseAddr("192.0.2.1")}; !slices.Equal(s.bound, want) {
		t.Errorf("bound %v, want %v (free-bound)", s.bound, want)
	}
}

// TestInitiatorOnlyRestartsAndCounters: the global counters count setups
// and failures by reason; changing initiator-only terminates every tunnel
// of the vrf (the guide: it restarts the IKE daemon of the vrf).
func TestInitiatorOnlyRestartsAndCounters(t *testing.T) {
	a, _ := newService(t, 15800)
	b, _ := newService(t, 15800)
	runB := device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")
	if err := b.Start(runB); err != nil {
		t.Fatal(err)
	}
	runA := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	if err := a.Start(runA); err != nil {
		t.Fatal(err)
	}
	initiate := func() string {
		out, err := a.Call(context.Background(), xml.Name{Space: NS, Local: "initiate"},
			[]byte(`<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>net</security-policy></child-sa></initiate>`))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if out := initiate(); !strings.Contains(out, "CHILD_SA net{") {
		t.Fatalf("initiate: %s", out)
	}
	st := a.State(false).Statistics
	if *st.IkeSaSetups != 1 || *st.ChildSaSetups != 1 || len(st.Failure) != 0 {
		t.Errorf("counters after a setup: %+v", st)
	}

	// B becomes initiator-only: every SA of B goes, and A hears of it.
	next := device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")
	next.Vrf["main"].Ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{InitiatorOnly: ptr2(true)}
	commit(t, b, 1, runB, next)
	waitFor(t, func() bool { return len(a.State(false).IkeSa) == 0 && len(b.State(false).IkeSa) == 0 })

	// A wrong PSK on A's side is an authentication failure (B is no
	// longer initiator-only).
	commit(t, b, 2, next, runB)
	wrong := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	wrong.Vrf["main"].Ike.Vpn["to-b"].IkePolicy.PreSharedKey = ptr2("not the secret")
	commit(t, a, 1, runA, wrong)
	if out := initiate(); !strings.Contains(out, "failed") {
		t.Fatalf("initiate with a wrong PSK: %s", out)
	}
	st = a.State(false).Statistics
	if f := st.Failure[generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_authentication_failed]; f == nil || *f.Count != 1 {
		t.Errorf("failures: %+v", st.Failure)
	}
}

// TestRemovedAddressDrains: a commit deletes the only VPN on a local
// address. Its IKE SA is deleted with an INFORMATIONAL exchange that
// still has a socket to go out on and to come back to, so the peer
// drops its SA too; then the sockets of the address close. A further
// commit meanwhile changes nothing of that.
func TestRemovedAddressDrains(t *testing.T) {
	a, dpA := newService(t, 15520)
	b, dpB := newService(t, 15520)
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	runA := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	if err := a.Start(runA); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Call(context.Background(), xml.Name{Space: NS, Local: "initiate"},
		[]byte(`<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>net</security-policy></child-sa></initiate>`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(dpA.Children()) == 1 && len(dpB.Children()) == 1 })
	// The VPN goes, and with it the last use of 127.0.0.1.
	empty := &generated.Device{Vrf: map[string]*generated.SecgwVrf_Vrf{"main": {Name: ptr2("main"), Ike: &generated.SecgwVrf_Vrf_Ike{}}}}
	commit(t, a, 1, runA, empty)
	commit(t, a, 2, empty, empty) // another commit at once
	waitFor(t, func() bool { return len(b.State(false).IkeSa) == 0 && len(dpB.Children()) == 0 })
	waitFor(t, func() bool {
		return len(a.State(false).IkeSa) == 0 && a.NATTSocket(netip.MustParseAddr("127.0.0.1")) == nil
	})
}

// TestIKEDisabled: ike enabled false stops IKE in the vrf: the tunnel is
// deleted on both sides (the peer is told) and the sockets close; enabled
// true again brings the VPN back.
func TestIKEDisabled(t *testing.T) {
	a, dpA := newService(t, 15540)
	b, dpB := newService(t, 15540)
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	runA := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	if err := a.Start(runA); err != nil {
		t.Fatal(err)
	}
	initiate := func() {
		t.Helper()
		if _, err := a.Call(context.Background(), xml.Name{Space: NS, Local: "initiate"},
			[]byte(`<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>net</security-policy></child-sa></initiate>`)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return len(dpA.Children()) == 1 && len(dpB.Children()) == 1 })
	}
	initiate()
	off := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	off.Vrf["main"].Ike.Enabled = ptr2(false)
	commit(t, a, 1, runA, off)
	waitFor(t, func() bool { return len(b.State(false).IkeSa) == 0 && len(dpB.Children()) == 0 })
	waitFor(t, func() bool {
		return len(a.State(false).IkeSa) == 0 && a.NATTSocket(netip.MustParseAddr("127.0.0.1")) == nil
	})
	if _, err := a.Call(context.Background(), xml.Name{Space: NS, Local: "initiate"},
		[]byte(`<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>net</security-policy></child-sa></initiate>`)); err == nil {
		t.Fatal("initiate succeeded with IKE disabled")
	}
	commit(t, a, 2, off, runA)
	initiate()
}

// TestReusedAddressSurvivesDrain: a commit removes the last VPN of a
// local address (its sockets drain) and the next takes the address back.
// A drain that runs between that commit's Prepare and Apply must not
// close the sockets the commit counts on (the soak saw a confirmed
// commit's rollback re-add a VPN whose sends then found no socket); an
// aborted commit lets the address drain again.
func TestReusedAddressSurvivesDrain(t *testing.T) {
	a, _ := newService(t, 15660)
	run := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	if err := a.Start(run); err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr("127.0.0.1")
	empty := &generated.Device{Vrf: map[string]*generated.SecgwVrf_Vrf{"main": {Name: ptr2("main"), Ike: &generated.SecgwVrf_Vrf_Ike{}}}}
	commit(t, a, 1, run, empty)
	if !a.conn.isDraining(addr) {
		t.Fatal("the address of the removed VPN is not draining")
	}
	tx := &datastore.Tx{ID: 2, Old: empty, New: run}
	if err := a.Prepare(tx); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	closed := a.conn.closeDrained(addr) // the drain, between Prepare and Apply
	a.mu.Unlock()
	if closed {
		t.Fatal("a drain closed the sockets a prepared commit takes back")
	}
	if err := a.Apply(tx); err != nil {
		t.Fatal(err)
	}
	if a.NATTSocket(addr) == nil {
		t.Fatal("no socket on the address after the commit that took it back")
	}
	// Removed again, then a re-adding commit aborted before Apply: the
	// address drains (and closes: no SA uses it).
	commit(t, a, 3, run, empty)
	tx = &datastore.Tx{ID: 4, Old: empty, New: run}
	if err := a.Prepare(tx); err != nil {
		t.Fatal(err)
	}
	a.Abort(tx)
	waitFor(t, func() bool { return a.NATTSocket(addr) == nil })
}
