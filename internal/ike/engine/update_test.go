package engine_test

import (
	"net/netip"
	"slices"
	"testing"

	"secgw/internal/ike/config"
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
	c, err := config.Resolve(ikeA)
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
	if c, err = config.Resolve(ikeA); err != nil {
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
