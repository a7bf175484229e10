package engine_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"secgw/internal/ipsec"
	"slices"
	"testing"
	"testing/synctest"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

const (
	cc   = wire.ExchangeCreateChildSA
	info = wire.ExchangeInformational
)

// rekeyChild rekeys A's only child SA, one message at a time, and returns
// the old and new child SAs as A sees them.
func rekeyChild(t *testing.T, a, b *peer, wantReq, wantResp string) (old, cur engine.ChildSA) {
	t.Helper()
	old, _ = checkChildPair(t, a, b)
	if err := a.e.RekeyChild(onlyChildUID(t, a)); err != nil {
		t.Fatal(err)
	}
	req := step(t, a, b, cc, false, wantReq) // CREATE_CHILD_SA request
	n := findN(req, wire.NotifyRekeySA)
	if n == nil || n.Protocol != wire.ProtocolESP || binary.BigEndian.Uint32(n.SPI) != old.InSPI {
		t.Fatalf("REKEY_SA %+v, want ESP SPI %08x (A's inbound SPI of the old child SA)", n, old.InSPI)
	}
	// B installed the new child SA and keeps the old one until A deletes it.
	if len(b.dp.Children()) != 2 {
		t.Fatalf("B holds %d child SAs after answering, want 2", len(b.dp.Children()))
	}
	step(t, b, a, cc, true, wantResp)    // CREATE_CHILD_SA response
	step(t, a, b, info, false, "D(ESP)") // INFORMATIONAL request: the old child SA
	step(t, b, a, info, true, "D(ESP)")  // INFORMATIONAL response: B's half of it
	cur, _ = checkChildPair(t, a, b)
	if cur.InSPI == old.InSPI || cur.OutSPI == old.OutSPI || bytes.Equal(cur.In.Encr, old.In.Encr) {
		t.Error("the new child SA reuses the old SPIs or keys")
	}
	if !reflect.DeepEqual(cur.LocalTS, old.LocalTS) || !reflect.DeepEqual(cur.RemoteTS, old.RemoteTS) {
		t.Errorf("selectors changed by the rekey: %v/%v -> %v/%v", old.LocalTS, old.RemoteTS, cur.LocalTS, cur.RemoteTS)
	}
	// The dataplane saw the new child SA before the old one went (RFC
	// 7296 §2.8: traffic never lacks an SA), on both sides.
	for _, p := range []*peer{a, b} {
		ops := p.dp.Ops()
		in, del := slices.Index(ops, fmt.Sprintf("install %08x", childIn(p, cur, p == a))), slices.Index(ops, fmt.Sprintf("delete %08x", childIn(p, old, p == a)))
		if in < 0 || del < 0 || in > del {
			t.Errorf("dataplane operations %v: want the new child SA installed before the old deleted", ops)
		}
	}
	silent(t, a, b)
	return old, cur
}

// childIn is the inbound SPI of c (as A sees it) on peer p.
func childIn(p *peer, c engine.ChildSA, isA bool) uint32 {
	if isA {
		return c.InSPI
	}
	return c.OutSPI
}

func findN(ps []wire.Payload, t wire.NotifyType) *wire.Notify {
	for _, p := range ps {
		if n, ok := p.(*wire.Notify); ok && n.NotifyType == t {
			return n
		}
	}
	return nil
}

// TestChildRekey: RFC 7296 §1.3.3 without PFS: no KE, the new child SA is
// installed on both sides before the initiator deletes the old one.
func TestChildRekey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var evA events
		a, b := pairOpts(t, nil, nil, evA.hook(), nil)
		establish(t, a, b)
		_, cur := rekeyChild(t, a, b, "N(REKEY_SA) SA No TSi TSr", "SA No TSi TSr")
		if cur.Suite.Group != ipsec.GroupNone {
			t.Errorf("child SA suite %v has a group without PFS", cur.Suite)
		}
		if got := evA.kinds(); got != "ike-up child-up child-rekeyed" {
			t.Errorf("events %q", got)
		}
		// A second rekey works off the new child SA.
		rekeyChild(t, a, b, "N(REKEY_SA) SA No TSi TSr", "SA No TSi TSr")
	})
}

// TestChildRekeyPFS: with a dh-group in the ESP proposal, CREATE_CHILD_SA
// carries KE payloads and the KEYMAT includes g^ir (RFC 7296 §1.3.3,
// §2.17); IKE_AUTH ignored the group (§1.2).
func TestChildRekeyPFS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := pfs(generated.SecgwIke_DhGroup_ecp256)
		a, b := pair(t, g, g, nil)
		establish(t, a, b)
		if c, _ := checkChildPair(t, a, b); c.Suite.Group != ipsec.GroupNone {
			t.Fatalf("IKE_AUTH child SA has group %v", c.Suite.Group)
		}
		_, cur := rekeyChild(t, a, b, "N(REKEY_SA) SA No KE TSi TSr", "SA No KE TSi TSr")
		if cur.Suite.Group != ipsec.GroupECP256 {
			t.Errorf("rekeyed child SA suite %v, want PFS with ecp256", cur.Suite)
		}
	})
}

// TestChildRekeyInvalidKE: the responder wants another PFS group: it
// names it in INVALID_KE_PAYLOAD and the initiator starts a new exchange
// with it (RFC 7296 §1.3).
func TestChildRekeyInvalidKE(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, pfs(generated.SecgwIke_DhGroup_ecp256, generated.SecgwIke_DhGroup_curve25519),
			pfs(generated.SecgwIke_DhGroup_curve25519), nil)
		establish(t, a, b)
		old, _ := checkChildPair(t, a, b)
		a.e.RekeyChild(onlyChildUID(t, a))
		req := step(t, a, b, cc, false, "N(REKEY_SA) SA No KE TSi TSr") // KE ecp256
		resp := step(t, b, a, cc, true, "N(INVALID_KE_PAYLOAD)")        // B names curve25519
		if g, _ := findN(resp, wire.NotifyInvalidKEPayload).Group(); g != ipsec.GroupCurve25519 {
			t.Fatalf("INVALID_KE_PAYLOAD names %v", g)
		}
		req2 := step(t, a, b, cc, false, "N(REKEY_SA) SA No KE TSi TSr") // new message ID, KE curve25519
		if findKE(req2).Group != ipsec.GroupCurve25519 || findKE(req).Group != ipsec.GroupECP256 {
			t.Fatal("KE groups of the two requests")
		}
		step(t, b, a, cc, true, "SA No KE TSi TSr")
		step(t, a, b, info, false, "D(ESP)")
		step(t, b, a, info, true, "D(ESP)")
		cur, _ := checkChildPair(t, a, b)
		if cur.InSPI == old.InSPI || cur.Suite.Group != ipsec.GroupCurve25519 {
			t.Errorf("child SA after the retry: %v", cur.Suite)
		}
	})
}

func findKE(ps []wire.Payload) *wire.KE {
	for _, p := range ps {
		if k, ok := p.(*wire.KE); ok {
			return k
		}
	}
	return nil
}

// TestChildRekeyPFSRefused: the initiator insists on PFS, the responder has
// no dh-group: NO_PROPOSAL_CHOSEN, and the old child SA stays.
func TestChildRekeyPFSRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, pfs(generated.SecgwIke_DhGroup_ecp256), nil, nil)
		establish(t, a, b)
		old, _ := checkChildPair(t, a, b)
		a.e.RekeyChild(onlyChildUID(t, a))
		step(t, a, b, cc, false, "N(REKEY_SA) SA No KE TSi TSr")
		step(t, b, a, cc, true, "N(NO_PROPOSAL_CHOSEN)")
		if cur, _ := checkChildPair(t, a, b); cur.InSPI != old.InSPI {
			t.Error("child SA changed")
		}
		if s := saState(t, a); s.Children[0].State != "installed" {
			t.Errorf("old child SA state %s", s.Children[0].State)
		}
		silent(t, a, b)
		// It can be rekeyed again later.
		if err := a.e.RekeyChild(onlyChildUID(t, a)); err != nil {
			t.Error(err)
		}
	})
}

// TestChildSANotFound: a rekey of a child SA the peer does not have is
// answered with CHILD_SA_NOT_FOUND and the SPI; the initiator drops the
// child SA silently and creates a new one from scratch (RFC 7296 §2.25).
func TestChildSANotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		old, _ := checkChildPair(t, a, b)
		// B loses its child SA without telling A (as after a crash of its
		// dataplane programming): flush it locally.
		if err := b.e.Expire(old.OutSPI, true); err != nil { // the hard limit of B's dataplane
			t.Fatal(err)
		}
		drop(t, b) // B's INFORMATIONAL delete, lost
		a.e.RekeyChild(onlyChildUID(t, a))
		step(t, a, b, cc, false, "N(REKEY_SA) SA No TSi TSr")
		resp := step(t, b, a, cc, true, "N(CHILD_SA_NOT_FOUND)")
		if n := findN(resp, wire.NotifyChildSANotFound); n.Protocol != wire.ProtocolESP || binary.BigEndian.Uint32(n.SPI) != old.InSPI {
			t.Errorf("CHILD_SA_NOT_FOUND %+v, want the SPI of REKEY_SA", n)
		}
		step(t, a, b, cc, false, "SA No TSi TSr") // a new child SA from scratch
		step(t, b, a, cc, true, "SA No TSi TSr")
		if c, _ := checkChildPair(t, a, b); c.InSPI == old.InSPI {
			t.Error("old child SA kept")
		}
	})
}

// TestIKERekey: RFC 7296 §1.3.2, §2.18: the new IKE SA has new SPIs and
// keys from SKEYSEED = prf(SK_d (old), g^ir | Ni | Nr), takes the child SAs
// (the dataplane sees nothing), and the old IKE SA is deleted by the
// initiator of the rekey. Either peer may rekey; the one that does becomes
// the original initiator of the new IKE SA.
func TestIKERekey(t *testing.T) {
	for _, who := range []string{"initiator", "responder"} {
		t.Run(who+"-rekeys", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var evA events
				a, b := pairOpts(t, nil, nil, evA.hook(), nil)
				establish(t, a, b)
				child, _ := checkChildPair(t, a, b)
				old := saState(t, a)
				x, y := a, b
				if who == "responder" {
					x, y = b, a
				}
				if err := x.e.RekeyIKE(saState(t, x).UniqueID); err != nil {
					t.Fatal(err)
				}
				req := step(t, x, y, cc, false, "SA(IKE) No KE") // CREATE_CHILD_SA request
				resp := step(t, y, x, cc, true, "SA(IKE) No KE") // CREATE_CHILD_SA response
				step(t, x, y, info, false, "D(IKE)")             // INFORMATIONAL on the old IKE SA
				step(t, y, x, info, true, "")                    // its empty response
				silent(t, a, b)
				sx, sy := saState(t, x), saState(t, y)
				if sx.SPIi != proposedSPI(t, req) || sx.SPIr != proposedSPI(t, resp) || sy.SPIi != sx.SPIi || sy.SPIr != sx.SPIr {
					t.Errorf("new SPIs %016x/%016x and %016x/%016x, proposed %016x/%016x", sx.SPIi, sx.SPIr, sy.SPIi, sy.SPIr,
						proposedSPI(t, req), proposedSPI(t, resp))
				}
				if sx.SPIi == old.SPIi || sx.UniqueID == old.UniqueID || !sx.Initiator || sy.Initiator {
					t.Errorf("new IKE SA %+v: want new SPIs and unique-id, the rekeying peer as initiator", sx)
				}
				kx, ky := x.e.Snapshot(true)[0].Keys, y.e.Snapshot(true)[0].Keys
				if !bytes.Equal(kx.SKd, ky.SKd) || !bytes.Equal(kx.SKei, ky.SKei) || bytes.Equal(kx.SKd, a.e.Snapshot(true)[0].Keys.SKei) {
					t.Error("new IKE SA keys differ between the peers")
				}
				if len(sx.Children) != 1 || len(sy.Children) != 1 || sx.Children[0].IKESPIi != sx.SPIi {
					t.Fatalf("child SAs not inherited: %+v %+v", sx.Children, sy.Children)
				}
				if c, _ := checkChildPair(t, a, b); c.InSPI != child.InSPI || len(a.dp.Ops()) != 1 || len(b.dp.Ops()) != 1 {
					t.Errorf("the dataplane saw the IKE SA rekey: %v %v", a.dp.Ops(), b.dp.Ops())
				}
				if got := evA.kinds(); got != "ike-up child-up ike-rekeyed" {
					t.Errorf("events %q", got)
				}
				// The new IKE SA works: a child SA rekey on it (its SK_d), and
				// a second IKE SA rekey by the other peer.
				rekeyChild(t, a, b, "N(REKEY_SA) SA No TSi TSr", "SA No TSi TSr")
				y.e.RekeyIKE(saState(t, y).UniqueID)
				step(t, y, x, cc, false, "SA(IKE) No KE")
				step(t, x, y, cc, true, "SA(IKE) No KE")
				step(t, y, x, info, false, "D(IKE)")
				step(t, x, y, info, true, "")
				if saState(t, y).SPIi != saState(t, x).SPIi || !saState(t, y).Initiator {
					t.Error("second IKE SA rekey")
				}
				checkChildPair(t, a, b)
			})
		})
	}
}

// TestNewChildSA: a second security policy gets its child SA by
// CREATE_CHILD_SA on the existing IKE SA (RFC 7296 §1.3.1), and asking
// again for a policy that has one does nothing.
func TestNewChildSA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		two := addPolicy("net2", "10.1.0.0/16", "10.2.0.0/16")
		twoB := addPolicy("net2", "10.2.0.0/16", "10.1.0.0/16")
		var evA events
		a, b := pairOpts(t, two, twoB, evA.hook(), nil)
		establish(t, a, b) // IKE_AUTH carries the child SA of "net"
		uid, err := a.e.InitiateChild("net2")
		if err != nil || uid != saState(t, a).UniqueID {
			t.Fatalf("InitiateChild: %d %v", uid, err)
		}
		step(t, a, b, cc, false, "SA No TSi TSr")
		step(t, b, a, cc, true, "SA No TSi TSr")
		silent(t, a, b)
		sa, sb := saState(t, a), saState(t, b)
		if len(sa.Children) != 2 || len(sb.Children) != 2 || sa.Children[1].Policy != "net2" || sb.Children[1].Policy != "net2" {
			t.Fatalf("children %+v / %+v", sa.Children, sb.Children)
		}
		if got := sa.Children[1].LocalTS[0].StartAddr.String(); got != "10.1.0.0" {
			t.Errorf("net2 local selector starts at %s", got)
		}
		if _, err := a.e.InitiateChild("net2"); err != nil || a.net.Len() != 0 {
			t.Errorf("a second InitiateChild for net2: %v, %d datagrams", err, a.net.Len())
		}
		if _, err := a.e.InitiateChild("nope"); err != engine.ErrUnknownPolicy {
			t.Errorf("unknown policy: %v", err)
		}
		if got := evA.kinds(); got != "ike-up child-up child-up" {
			t.Errorf("events %q", got)
		}
	})
}

// TestNoAdditionalSAs: a responder that takes no more child SAs on the
// IKE SA answers NO_ADDITIONAL_SAS (RFC 7296 §3.10.1); the IKE SA stays.
func TestNoAdditionalSAs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		two := addPolicy("net2", "10.1.0.0/16", "10.2.0.0/16")
		twoB := addPolicy("net2", "10.2.0.0/16", "10.1.0.0/16")
		a, b := pairOpts(t, two, twoB, nil, func(o *engine.Options) { o.MaxChildSAs = 1 })
		establish(t, a, b)
		a.e.InitiateChild("net2")
		step(t, a, b, cc, false, "SA No TSi TSr")
		step(t, b, a, cc, true, "N(NO_ADDITIONAL_SAS)")
		if s := saState(t, a); len(s.Children) != 1 || s.State != "established" {
			t.Errorf("A after NO_ADDITIONAL_SAS: %+v", s)
		}
		if _, info := onlySA(t, a); info.LastError != wire.NotifyNoAdditionalSAs {
			t.Errorf("last error %v", info.LastError)
		}
		// An IKE SA being deleted takes no new child SA either.
		b.e.DeleteIKE(mustSPI(t, b))
		a.e.InitiateChild("net2")
		dB, _ := b.net.Next()                           // B's INFORMATIONAL D(IKE), held back
		step(t, a, b, cc, false, "SA No TSi TSr")       // A's request reaches B first
		step(t, b, a, cc, true, "N(NO_ADDITIONAL_SAS)") // B: closing
		inject(a, dB, nil, b)                           // B's delete reaches A
		step(t, a, b, info, true, "")                   // A's empty response
		if len(a.e.IKESAs())+len(b.e.IKESAs()) != 0 {
			t.Error("IKE SAs left")
		}
	})
}

func mustSPI(t testing.TB, p *peer) uint64 {
	spi, _ := onlySA(t, p)
	return spi
}
