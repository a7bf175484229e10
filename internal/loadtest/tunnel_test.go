package loadtest

import (
	"crypto/rand"
	"net/netip"
	"secgw/internal/ipsec"
	"testing"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// TestTunnelEstablishes runs three tunnels of the lean initiator against
// the engine: IKE_SA_INIT, IKE_AUTH with PSK and the first child SA, each
// with its own identity's inner address as TSi.
func TestTunnelEstablishes(t *testing.T) {
	h := newInproc(t, respOptions())
	var children []engine.ChildSA
	h.r.onInstall = func(c engine.ChildSA) { children = append(children, c) }
	p := testProfile()
	for i := range 3 {
		tn, err := h.establish(t, &p, i)
		if err != nil {
			t.Fatalf("tunnel %d: %v", i, err)
		}
		if tn.peerChildSPI == 0 || tn.spir == 0 {
			t.Errorf("tunnel %d: SPIr %x, responder child SPI %x", i, tn.spir, tn.peerChildSPI)
		}
	}
	st := h.r.Stats()
	if st.IKEUp != 3 || st.ChildUp != 3 || st.Installs != 3 || st.IKEFailed != 0 {
		t.Fatalf("responder: %+v", st)
	}
	for i, c := range children {
		want := netip.MustParseAddr("10.200.0.1")
		for range i {
			want = want.Next()
		}
		if len(c.RemoteTS) != 1 || c.RemoteTS[0].StartAddr != want || c.RemoteTS[0].EndAddr != want {
			t.Errorf("child %d: remote TS %v, want %v/32", i, c.RemoteTS, want)
		}
		if c.Suite.Encr != ipsec.EncrAESGCM16 || c.Suite.KeyBits != 256 {
			t.Errorf("child %d: suite %v", i, c.Suite)
		}
	}
}

// TestTunnelFailures checks that each kind of refusal is reported under
// the exchange and the notification the responder sent.
func TestTunnelFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		resp    func(*ResponderOptions)
		profile func(*Profile)
		want    string
	}{
		{"wrong PSK", nil, func(p *Profile) { p.PSK = []byte("not-the-secret") }, "IKE_AUTH: AUTHENTICATION_FAILED"},
		{"other group", nil, func(p *Profile) {
			p.IKE.Transforms[2].ID = ipsec.GroupECP384
			p.Suite.Group = ipsec.GroupECP384
		}, "IKE_SA_INIT: NO_PROPOSAL_CHOSEN"},
		{"selectors", func(o *ResponderOptions) { o.RemoteTS = "10.201.0.0/16" }, nil, "child: TS_UNACCEPTABLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := respOptions()
			if tc.resp != nil {
				tc.resp(&o)
			}
			p := testProfile()
			if tc.profile != nil {
				tc.profile(&p)
			}
			_, err := newInproc(t, o).establish(t, &p, 0)
			if err == nil || reason(err) != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestTunnelCookie: with cookie-threshold 1 and one half-open SA, the
// responder asks the next initiator for a cookie (RFC 7296 §2.6); the
// tunnel sends IKE_SA_INIT again with it, first, and completes.
func TestTunnelCookie(t *testing.T) {
	o := respOptions()
	o.CookieThreshold = 1
	h := newInproc(t, o)
	p := testProfile()
	// A half-open SA from another initiator.
	first, err := newTunnel(&p, 99, netip.MustParseAddrPort("10.98.1.2:500"), respAddr, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := first.initRequest(&p)
	if h.roundTrip(t, netip.MustParseAddrPort("10.98.1.2:500"), req) == nil {
		t.Fatal("first IKE_SA_INIT not answered")
	}
	tn, err := h.establish(t, &p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tn.cookie == nil {
		t.Fatal("the responder did not ask for a cookie")
	}
	m, err := wire.Parse(tn.initReq)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := m.Payloads[0].(*wire.Notify); !ok || n.NotifyType != wire.NotifyCookie {
		t.Fatalf("first payload of the retried request is %v, want N(COOKIE)", m.Payloads[0])
	}
}

// TestTunnelSettle: an established tunnel kept for the soak forgets the
// setup material and continues with Message ID 2.
func TestTunnelSettle(t *testing.T) {
	h := newInproc(t, respOptions())
	p := testProfile()
	tn, err := h.establish(t, &p, 0)
	if err != nil {
		t.Fatal(err)
	}
	tn.settle()
	if tn.keys != nil || tn.initReq != nil || tn.initResp != nil || tn.ni != nil || tn.dh != nil {
		t.Error("setup state kept after settle")
	}
	if tn.nextID != 2 || tn.out == nil || tn.in == nil {
		t.Errorf("nextID %d, ciphers %v %v", tn.nextID, tn.out, tn.in)
	}
}

// TestTunnelChildless: without the child SA payloads (RFC 6023) the IKE
// SA comes up and the responder installs no child SA.
func TestTunnelChildless(t *testing.T) {
	h := newInproc(t, respOptions())
	p := testProfile()
	p.Childless = true
	tn, err := h.establish(t, &p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st := h.r.Stats(); st.IKEUp != 1 || st.ChildUp != 0 || tn.peerChildSPI != 0 {
		t.Fatalf("responder: %+v, child SPI %x", st, tn.peerChildSPI)
	}
}
