package engine_test

import (
	"net/netip"
	"testing"
	"testing/synctest"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// Tests of INITIAL_CONTACT and unique-sa (unique.go, RFC 7296 §2.4).

var addrC = netip.MustParseAddr("10.0.0.3")

// uniqueSA sets unique-sa on the only VPN of ike.
func uniqueSA(u generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa) func(*generated.SecgwVrf_Vrf_Ike) {
	return withIKE(func(p *ikePolicy) { p.UniqueSa = u })
}

const (
	uniqueNever   = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_never
	uniqueKeep    = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_keep
	uniqueReplace = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_replace
)

// initiatorAt is a gateway with A's identity and VPN "to-b" at address
// at: A restarted (a new engine, nothing of the old one's state), at its
// own address or another one.
func initiatorAt(t *testing.T, at netip.Addr, mod func(*generated.SecgwVrf_Vrf_Ike)) *peer {
	ike := vpnConfig("to-b", at, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
	if mod != nil {
		mod(ike)
	}
	return newPeer(t, ike, at, nil)
}

// connect sets up an IKE SA of x's VPN "to-b" with y: IKE_SA_INIT, then
// IKE_AUTH whose request must be authReq and response authResp.
func connect(t *testing.T, x, y *peer, authReq, authResp string) {
	t.Helper()
	if err := x.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliverInit(t, x, y, false)          // IKE_SA_INIT request: SA, KE, Ni, N(NAT_DETECTION_*)...
	deliverInit(t, y, x, true)           // IKE_SA_INIT response
	step(t, x, y, authX, false, authReq) // IKE_AUTH request
	step(t, y, x, authX, true, authResp) // IKE_AUTH response
}

const (
	authIC   = "IDi IDr AUTH N(INITIAL_CONTACT) SA TSi TSr"
	authNoIC = "IDi IDr AUTH SA TSi TSr"
	authOK   = "IDr AUTH SA TSi TSr"
)

// TestInitialContactSent: the first IKE SA of a VPN carries
// N(INITIAL_CONTACT) in its IKE_AUTH request; a second one while the
// first is up does not (we have another IKE SA with the peer); with
// unique-sa never it is never sent (an identity that may be replicated).
func TestInitialContactSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		connect(t, a, b, authIC, authOK)
		connect(t, a, b, authNoIC, authOK) // B's unique-sa no: both kept
		silent(t, a, b)
		if na, nb := len(a.e.IKESAs()), len(b.e.IKESAs()); na != 2 || nb != 2 {
			t.Fatalf("IKE SAs: A %d, B %d, want 2 each", na, nb)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, uniqueSA(uniqueNever), nil, nil)
		connect(t, a, b, authNoIC, authOK)
	})
}

// TestInitialContactRestartedPeer: A restarts (a new engine with its
// identity) and connects again, from its address or another; its
// IKE_AUTH request carries INITIAL_CONTACT and B removes the IKE SA of
// A's previous life and its child SA at once, without an exchange (A
// no longer knows it). With B's unique-sa never, B keeps it.
func TestInitialContactRestartedPeer(t *testing.T) {
	for _, c := range []struct {
		name  string
		at    netip.Addr
		modB  func(*generated.SecgwVrf_Vrf_Ike)
		stale bool
	}{
		{"same address", addrA, nil, false},
		{"other address", addrC, nil, false},
		{"keep", addrC, uniqueSA(uniqueKeep), false}, // INITIAL_CONTACT decides first
		{"replace", addrA, uniqueSA(uniqueReplace), false},
		{"never", addrA, uniqueSA(uniqueNever), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := pair(t, nil, c.modB, nil)
				establish(t, a, b)
				_, cb := checkChildPair(t, a, b)
				a2 := initiatorAt(t, c.at, nil)
				connect(t, a2, b, authIC, authOK)
				silent(t, a2, b) // no DELETE to the SA A forgot
				n, kids := len(b.e.IKESAs()), b.dp.Children()
				if c.stale {
					if n != 2 || len(kids) != 2 {
						t.Fatalf("unique-sa never: B has %d IKE SAs, %d child SAs, want 2 and 2", n, len(kids))
					}
					return
				}
				if n != 1 || len(kids) != 1 || kids[0].InSPI == cb.InSPI {
					t.Fatalf("B has %d IKE SAs, %d child SAs (old %08x), want only the new ones", n, len(kids), cb.InSPI)
				}
				if got := a2.dp.Children(); len(got) != 1 || got[0].OutSPI != kids[0].InSPI {
					t.Fatalf("new child SAs do not pair")
				}
			})
		})
	}
}

// TestUniqueKeep: with unique-sa keep, B refuses a second IKE SA of A's
// identity from another address (IKE_AUTH answered with
// AUTHENTICATION_FAILED, RFC 7296 §2.21.2) and keeps the first; from
// A's own address it is taken for a reauthentication and allowed.
func TestUniqueKeep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, uniqueSA(uniqueKeep), nil)
		establish(t, a, b)
		_, cb := checkChildPair(t, a, b)
		// A second device with A's credentials, which does not assert
		// INITIAL_CONTACT.
		c := initiatorAt(t, addrC, uniqueSA(uniqueNever))
		connect(t, c, b, authNoIC, "N(AUTHENTICATION_FAILED)")
		silent(t, c, b)
		if len(c.e.IKESAs()) != 0 || len(c.dp.Children()) != 0 {
			t.Fatalf("refused initiator kept %d IKE SAs", len(c.e.IKESAs()))
		}
		if kids := b.dp.Children(); len(b.e.IKESAs()) != 1 || len(kids) != 1 || kids[0].InSPI != cb.InSPI {
			t.Fatalf("B: %d IKE SAs, %d child SAs, want the first only", len(b.e.IKESAs()), len(kids))
		}
		connect(t, a, b, authNoIC, authOK)
		silent(t, a, b)
		if n := len(b.e.IKESAs()); n != 2 {
			t.Fatalf("B: %d IKE SAs after A's second from its own address, want 2", n)
		}
	})
}

// TestUniqueReplace: with unique-sa replace, once a new IKE SA of A's
// identity is established B deletes the existing one with an
// INFORMATIONAL exchange (A may still use it); both sides end with the
// new IKE SA and its child SA only.
func TestUniqueReplace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, uniqueSA(uniqueReplace), nil)
		establish(t, a, b)
		old, _ := checkChildPair(t, a, b)
		connect(t, a, b, authNoIC, authOK)
		step(t, b, a, info, false, "D(IKE)") // B deletes the first IKE SA
		step(t, a, b, info, true, "")
		silent(t, a, b)
		ca, _ := checkChildPair(t, a, b)
		if ca.InSPI == old.InSPI || len(a.e.IKESAs()) != 1 || len(b.e.IKESAs()) != 1 {
			t.Fatalf("after replace: A %d IKE SAs, B %d, child %08x (old %08x)", len(a.e.IKESAs()), len(b.e.IKESAs()), ca.InSPI, old.InSPI)
		}
	})
}

// TestInitialContactInResponse: INITIAL_CONTACT in the IKE_AUTH
// response (RFC 7296 §2.4: "in the first IKE_AUTH request or response")
// is acted on by the initiator too. B restarts; A, which still has the
// IKE SA of B's previous life, sets up a new one (without INITIAL_CONTACT:
// it has one with B) and B's answer asserts INITIAL_CONTACT (our
// responder never does: added here): A removes the old IKE SA and its
// child SA without an exchange.
func TestInitialContactInResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		old, _ := checkChildPair(t, a, b)
		_, b2 := pair(t, nil, nil, nil) // B restarted
		if err := a.e.Initiate("to-b"); err != nil {
			t.Fatal(err)
		}
		deliverInit(t, a, b2, false)
		deliverInit(t, b2, a, true)
		step(t, a, b2, authX, false, authNoIC)
		d := next(t, b2) // IKE_AUTH response: SK{IDr, AUTH, SA, TSi, TSr}
		raw, m := message(t, d)
		ps, err := b2.e.OpenForTest(m.Header.SPIr, raw, true)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, wire.NewNotify(wire.NotifyInitialContact, nil))
		msgs, err := b2.e.EncodeForTest(m.Header.SPIr, authX, m.Header.MessageID, true, ps)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("encode: %v, %d datagrams", err, len(msgs))
		}
		inject(a, engine.Datagram{Local: d.Local, Remote: d.Remote, Data: withMarker(d, msgs[0])}, nil, b2)
		silent(t, a, b2) // nothing to the forgotten IKE SA
		kids := a.dp.Children()
		if len(a.e.IKESAs()) != 1 || len(kids) != 1 || kids[0].InSPI == old.InSPI {
			t.Fatalf("A has %d IKE SAs, %d child SAs, want only the new ones", len(a.e.IKESAs()), len(kids))
		}
	})
}

// TestUniqueReplaceOwnReauth: unique-sa replace leaves to our own
// make-before-break reauthentication the IKE SA it replaces: the second
// policy's child SA is set up before the old IKE SA is deleted, as
// without unique-sa.
func TestUniqueReplaceOwnReauth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, chain(makeBeforeBreak(true), uniqueSA(uniqueReplace), addPolicy("net2", "10.1.0.0/16", "10.2.0.0/16")),
			chain(makeBeforeBreak(true), addPolicy("net2", "10.2.0.0/16", "10.1.0.0/16")), nil)
		establish(t, a, b)
		a.e.InitiateChild("net2")
		step(t, a, b, cc, false, "SA No TSi TSr")
		step(t, b, a, cc, true, "SA No TSi TSr")
		if err := a.e.Reauth(saState(t, a).UniqueID); err != nil {
			t.Fatal(err)
		}
		deliverInit(t, a, b, false)
		deliverInit(t, b, a, true)
		step(t, a, b, authX, false, authNoIC) // the old IKE SA is still up
		step(t, b, a, authX, true, authOK)
		if n := a.net.Len(); n != 1 {
			t.Fatalf("A sent %d requests after IKE_AUTH, want the CREATE_CHILD_SA alone (no delete yet)", n)
		}
		step(t, a, b, cc, false, "SA No TSi TSr") // the second policy, before any delete
		step(t, b, a, cc, true, "SA No TSi TSr")
		step(t, a, b, info, false, "D(IKE)")
		step(t, b, a, info, true, "")
		silent(t, a, b)
		if s := saState(t, a); len(s.Children) != 2 {
			t.Fatalf("after reauthentication: %+v", s)
		}
	})
}
