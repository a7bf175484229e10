package engine_test

import (
	"net/netip"
	"slices"
	"testing"

	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/resolve"
	"secgw/internal/ike/wire"
)

// TestSetConfigKeepsOtherVPNs: a commit that changes one VPN deletes that
// VPN's IKE SA (INFORMATIONAL with D(IKE), seen by the peer) and leaves the
// SA of an unchanged VPN up; a commit that changes nothing deletes nothing.
func TestSetConfigKeepsOtherVPNs(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	ikeA := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
	other := vpnConfig("other", addrA, netip.MustParseAddr("10.0.0.9"), "a.example", "c.example", "x", "192.168.1.0/24", "192.168.9.0/24")
	ikeA.Vpn["other"] = other.Vpn["other"]
	c, err := resolve.Config(ikeA)
	if err != nil {
		t.Fatal(err)
	}
	// Adding a VPN leaves to-b's SA alone.
	if torn := a.e.SetConfig(c); len(torn) != 0 {
		t.Fatalf("adding a VPN tore down %v", torn)
	}
	if a.net.Len() != 0 {
		t.Fatal("adding a VPN sent something")
	}
	if _, sa := onlySA(t, a); sa.State != "established" || sa.VPN != "to-b" {
		t.Fatalf("SA after adding a VPN: %+v", sa)
	}
	// Changing to-b's PSK deletes its SA on both sides.
	ikeA.Vpn["to-b"].IkePolicy.PreSharedKey = ptr("new secret")
	if c, err = resolve.Config(ikeA); err != nil {
		t.Fatal(err)
	}
	if torn := a.e.SetConfig(c); !slices.Equal(torn, []string{"to-b"}) {
		t.Fatalf("torn down %v, want [to-b]", torn)
	}
	deliver(t, a, b) // INFORMATIONAL request: SK{D(IKE)}
	deliver(t, b, a) // INFORMATIONAL response: SK{}
	if len(a.e.IKESAs())+len(b.e.IKESAs()) != 0 || len(a.dp.Children())+len(b.dp.Children()) != 0 {
		t.Fatal("IKE SA or child SAs left after the change")
	}
}

// TestSetConfigRemovedVPNDuringSetup: an SA still in IKE_SA_INIT for a VPN
// that is removed is dropped at once.
func TestSetConfigRemovedVPNDuringSetup(t *testing.T) {
	a, _ := pair(t, nil, nil, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	a.e.SetConfig(&config.Config{})
	if n := len(a.e.IKESAs()); n != 0 {
		t.Fatalf("%d SAs left", n)
	}
	if err := a.e.Initiate("to-b"); err == nil {
		t.Fatal("initiating a removed VPN succeeded")
	}
}

// TestSnapshot: the operational state of both ends of an established SA
// mirrors: same SPIs, unique-ids from 1, identities, the child with its
// SPIs, and keys only when asked for.
func TestSnapshot(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	sa, sb := a.e.Snapshot(false), b.e.Snapshot(true)
	if len(sa) != 1 || len(sb) != 1 {
		t.Fatalf("snapshots: %d and %d SAs", len(sa), len(sb))
	}
	x, y := sa[0], sb[0]
	if x.State != "established" || y.State != "established" || x.SPIi != y.SPIi || x.SPIr != y.SPIr || !x.Initiator || y.Initiator {
		t.Fatalf("A %+v\nB %+v", x, y)
	}
	if x.UniqueID != 1 || x.VPN != "to-b" || y.VPN != "from-a" || x.Established.IsZero() {
		t.Errorf("A unique-id %d vpn %s established %v", x.UniqueID, x.VPN, x.Established)
	}
	if x.LocalID.String() != "a.example" || x.RemoteID.String() != "b.example" || y.RemoteID.String() != "a.example" {
		t.Errorf("identities: A %s/%s, B remote %s", x.LocalID, x.RemoteID, y.RemoteID)
	}
	if len(x.Children) != 1 || len(y.Children) != 1 || x.Children[0].InSPI != y.Children[0].OutSPI || x.Children[0].UniqueID == 0 {
		t.Fatalf("children: A %+v, B %+v", x.Children, y.Children)
	}
	if x.Keys != nil || x.Children[0].In.Encr != nil {
		t.Error("keys in a snapshot taken without keys")
	}
	if y.Keys == nil || len(y.Keys.SKei) == 0 || len(y.Children[0].In.Encr) == 0 {
		t.Error("no keys in a snapshot taken with keys")
	}
}

// TestEvents: the Events hook hears ike-up and child-up on both sides, the
// child-down and ike-down of a delete, and ike-failed with the reason
// when authentication fails.
func TestEvents(t *testing.T) {
	var evA, evB []engine.Event
	a, b := pair(t, nil, nil, func(o *engine.Options) { o.Events = func(e engine.Event) { evB = append(evB, e) } })
	_ = a
	ikeA := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
	a = newPeer(t, ikeA, addrA, func(o *engine.Options) { o.Events = func(e engine.Event) { evA = append(evA, e) } })
	establish(t, a, b)
	kinds := func(evs []engine.Event) (out []string) {
		for _, e := range evs {
			out = append(out, e.Kind.String())
		}
		return out
	}
	if got := kinds(evA); !slices.Equal(got, []string{"ike-up", "child-up"}) {
		t.Fatalf("A events %v", got)
	}
	if got := kinds(evB); !slices.Equal(got, []string{"ike-up", "child-up"}) {
		t.Fatalf("B events %v", got)
	}
	if evA[1].Policy != "net" || evA[1].Child == 0 || evA[0].VPN != "to-b" {
		t.Errorf("A events %+v", evA)
	}
	spi, _ := onlySA(t, a)
	if err := a.e.DeleteIKE(spi); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b)
	deliver(t, b, a)
	if got := kinds(evA[2:]); !slices.Equal(got, []string{"child-down", "ike-down"}) {
		t.Errorf("A events after delete %v", got)
	}
	if got := kinds(evB[2:]); !slices.Equal(got, []string{"child-down", "ike-down"}) {
		t.Errorf("B events after delete %v", got)
	}

	// Wrong PSK: the initiator fails with AUTHENTICATION_FAILED.
	evA, evB = nil, nil
	ikeA.Vpn["to-b"].IkePolicy.PreSharedKey = ptr("wrong")
	a = newPeer(t, ikeA, addrA, func(o *engine.Options) { o.Events = func(e engine.Event) { evA = append(evA, e) } })
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request with a bad AUTH
	deliver(t, b, a) // IKE_AUTH response: N(AUTHENTICATION_FAILED)
	if len(evA) != 1 || evA[0].Kind != engine.IKEFailed || evA[0].Reason == "" {
		t.Fatalf("A events with a wrong PSK: %+v", evA)
	}
	t.Logf("failure reason: %s", evA[0].Reason)
}

// TestForceEncap: with ForceEncap on one side only, both sides see a NAT
// in front of it (RFC 7296 §2.23) and the child SAs use UDP encapsulation
// on port 4500.
func TestForceEncap(t *testing.T) {
	for _, side := range []string{"initiator", "responder"} {
		t.Run(side, func(t *testing.T) {
			force := func(o *engine.Options) { o.ForceEncap = true }
			var a, b *peer
			if side == "initiator" {
				ikeA := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
				ikeB := vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24")
				a, b = newPeer(t, ikeA, addrA, force), newPeer(t, ikeB, addrB, nil)
			} else {
				a, b = pair(t, nil, nil, force)
			}
			establish(t, a, b)
			ca, cb := checkChildPair(t, a, b)
			if !ca.Encap || !cb.Encap || ca.Remote.Port() != engine.PortNATT || cb.Remote.Port() != engine.PortNATT {
				t.Errorf("child SAs: A encap %v remote %v, B encap %v remote %v", ca.Encap, ca.Remote, cb.Encap, cb.Remote)
			}
		})
	}
}

// TestSetConfigDeletedVPNThenOtherCommit: a VPN is deleted while its IKE
// SA is established (the DELETE is on its way and not answered yet), then
// another commit comes. The SA must keep a VPN to report and to finish its
// deletion with: the state (show ike ike-sa) is served, not a nil-pointer
// panic, and once the peer answers the SA is gone on both sides.
func TestSetConfigDeletedVPNThenOtherCommit(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	a.e.SetConfig(&config.Config{}) // the VPN is deleted: D(IKE) queued
	other := vpnConfig("other", addrA, netip.MustParseAddr("10.0.0.9"), "a.example", "c.example", "x", "192.168.1.0/24", "192.168.9.0/24")
	c, err := resolve.Config(other)
	if err != nil {
		t.Fatal(err)
	}
	a.e.SetConfig(c) // another commit while the DELETE is outstanding
	for _, info := range a.e.Snapshot(false) {
		if info.VPN != "to-b" {
			t.Fatalf("SA of the deleted VPN reports VPN %q", info.VPN)
		}
	}
	_ = a.e.IKESAs()
	deliver(t, a, b) // INFORMATIONAL request: SK{D(IKE)}
	deliver(t, b, a) // INFORMATIONAL response: SK{}
	if n := len(a.e.IKESAs()) + len(b.e.IKESAs()); n != 0 {
		t.Fatalf("%d IKE SAs left after the deletion", n)
	}
	// A third commit with the deleted VPN back brings it up again.
	ike := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
	if c, err = resolve.Config(ike); err != nil {
		t.Fatal(err)
	}
	a.e.SetConfig(c)
	establish(t, a, b)
}

// TestDeleteDuringIKEAuth: an IKE SA flushed while our IKE_AUTH request
// is out is not forgotten on our side only: the peer completes the
// exchange, so once its answer is in the SA is deleted with D(IKE) and
// neither side keeps it (the soak found charon with a stale SA after a
// reauth followed at once by a flush).
func TestDeleteDuringIKEAuth(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response; A sends IKE_AUTH
	if err := a.e.DeleteIKEByUID(a.e.Snapshot(false)[0].UniqueID); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_AUTH request: B establishes
	deliver(t, b, a) // IKE_AUTH response
	step(t, a, b, wire.ExchangeInformational, false, "D(IKE)")
	step(t, b, a, wire.ExchangeInformational, true, "")
	if n := len(a.e.IKESAs()) + len(b.e.IKESAs()); n != 0 {
		t.Fatalf("%d IKE SAs left", n)
	}
	if n := len(a.dp.Children()) + len(b.dp.Children()); n != 0 {
		t.Fatalf("%d child SAs left", n)
	}
}
