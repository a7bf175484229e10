package engine_test

import (
	"bytes"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
)

var (
	publicA = netip.MustParseAddr("192.0.2.1") // A's address behind its NAT
	publicB = netip.MustParseAddr("192.0.2.2") // B's address behind its NAT
)

// establishVia runs IKE_SA_INIT and IKE_AUTH through the NAT n and checks
// that IKE floated to port 4500 with the Non-ESP Marker (RFC 7296 §2.23,
// RFC 3948 §2.2).
func establishVia(t *testing.T, a, b *peer, n *natBox) {
	t.Helper()
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliverVia(t, a, b, n) // IKE_SA_INIT request on port 500: SA, KE, Ni, N(NAT_DETECTION_*)
	deliverVia(t, b, a, n) // IKE_SA_INIT response: the NAT_DETECTION hashes do not match
	d := deliverVia(t, a, b, n)
	if d.Local.Port() != engine.PortNATT || d.Remote.Port() != engine.PortNATT || !bytes.Equal(d.Data[:4], []byte{0, 0, 0, 0}) {
		t.Fatalf("IKE_AUTH request %v -> %v %x..., want port 4500 with the Non-ESP Marker", d.Local, d.Remote, d.Data[:4])
	}
	d = deliverVia(t, b, a, n) // IKE_AUTH response on port 4500
	if d.Local.Port() != engine.PortNATT || !bytes.Equal(d.Data[:4], []byte{0, 0, 0, 0}) {
		t.Fatalf("IKE_AUTH response from %v %x...", d.Local, d.Data[:4])
	}
}

// isKeepalive checks that d is a NAT-keepalive from local to remote on the
// NAT-T port (RFC 3948 §2.3).
func isKeepalive(t *testing.T, d engine.Datagram, local, remote netip.Addr) {
	t.Helper()
	if !bytes.Equal(d.Data, []byte{0xff}) || d.Local != netip.AddrPortFrom(local, 4500) || d.Remote != netip.AddrPortFrom(remote, 4500) {
		t.Fatalf("datagram %v -> %v %x, want the keepalive 0xff from %v:4500 to %v:4500", d.Local, d.Remote, d.Data, local, remote)
	}
}

// advance lets d of fake time pass and returns what p sent meanwhile.
func advance(p *peer, d time.Duration) []engine.Datagram {
	time.Sleep(d)
	synctest.Wait()
	return takeAll(p)
}

func TestNATInFrontOfInitiator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		n := &natBox{behind: a, private: addrA, public: publicA, shift: 40000}
		establishVia(t, a, b, n)
		ca, cb := checkChildPair(t, a, b)
		// Both child SAs carry the UDP encapsulation with the ports each
		// side sees (RFC 3948): B sees A's public address and NAT port.
		if !ca.Encap || !cb.Encap {
			t.Errorf("encapsulation: A %v, B %v", ca.Encap, cb.Encap)
		}
		if ca.Local != netip.AddrPortFrom(addrA, 4500) || ca.Remote != netip.AddrPortFrom(addrB, 4500) ||
			cb.Local != netip.AddrPortFrom(addrB, 4500) || cb.Remote != netip.AddrPortFrom(publicA, 44500) {
			t.Errorf("child SA endpoints: A %v -> %v, B %v -> %v", ca.Local, ca.Remote, cb.Local, cb.Remote)
		}
		// A is behind the NAT and keeps its mapping alive; B sends none.
		// A sent IKE_AUTH during the first interval, so the first
		// keepalive is due after the second one.
		if got := advance(a, engine.DefaultKeepaliveInterval); len(got) != 0 {
			t.Fatalf("keepalive after traffic in the interval: %d datagrams", len(got))
		}
		got := advance(a, engine.DefaultKeepaliveInterval)
		if len(got) != 1 {
			t.Fatalf("%d datagrams after an idle interval, want one keepalive", len(got))
		}
		isKeepalive(t, got[0], addrA, addrB)
		// B drops the keepalive silently.
		inject(b, got[0], n, a)
		if b.net.Len() != 0 || len(b.dp.Children()) != 1 {
			t.Fatal("B reacted to a keepalive")
		}
		if got := advance(a, engine.DefaultKeepaliveInterval); len(got) != 1 {
			t.Fatalf("%d datagrams in the next idle interval, want one keepalive", len(got))
		}
		// An IKE exchange in the interval makes the keepalive unneeded.
		spi, _ := onlySA(t, a)
		time.Sleep(5 * time.Second)
		a.e.CheckLiveness(spi)
		deliverVia(t, a, b, n) // INFORMATIONAL request: SK{}
		deliverVia(t, b, a, n) // INFORMATIONAL response: SK{}
		if got := advance(a, 15*time.Second); len(got) != 0 {
			t.Fatalf("keepalive although IKE traffic was sent: %d datagrams", len(got))
		}
		if got := advance(a, engine.DefaultKeepaliveInterval); len(got) != 1 {
			t.Fatalf("%d datagrams, want one keepalive", len(got))
		}
		if b.net.Len() != 0 {
			t.Fatal("B, not behind a NAT, sent keepalives")
		}
		// Once the IKE SA is deleted the keepalives stop.
		a.e.DeleteIKE(spi)
		deliverVia(t, a, b, n) // INFORMATIONAL request: SK{D(IKE)}
		deliverVia(t, b, a, n) // INFORMATIONAL response: SK{}
		if got := advance(a, 10*time.Minute); len(got) != 0 || len(a.e.IKESAs()) != 0 {
			t.Fatalf("%d datagrams after the delete", len(got))
		}
	})
}

func TestNATInFrontOfResponder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A reaches B at the public address of B's NAT, which forwards
		// ports 500 and 4500.
		a, b := pair(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
			ike.Vpn["to-b"].RemoteAddress = ptr(publicB.String())
		}, nil, nil)
		n := &natBox{behind: b, private: addrB, public: publicB}
		establishVia(t, a, b, n)
		ca, cb := checkChildPair(t, a, b)
		if !ca.Encap || !cb.Encap || ca.Remote != netip.AddrPortFrom(publicB, 4500) {
			t.Errorf("A's child SA: encap %v to %v; B's encap %v", ca.Encap, ca.Remote, cb.Encap)
		}
		if got := advance(b, 2*engine.DefaultKeepaliveInterval); len(got) != 1 {
			t.Fatalf("B sent %d datagrams, want one keepalive", len(got))
		} else {
			isKeepalive(t, got[0], addrB, addrA)
		}
		if a.net.Len() != 0 {
			t.Fatal("A, not behind a NAT, sent keepalives")
		}
	})
}

func TestNoKeepaliveWithoutNAT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		if ca, _ := checkChildPair(t, a, b); ca.Encap || ca.Local.Port() != engine.PortIKE {
			t.Errorf("child SA without NAT: encap %v, %v", ca.Encap, ca.Local)
		}
		if na, nb := len(advance(a, 5*time.Minute)), len(advance(b, 0)); na+nb != 0 {
			t.Fatalf("%d and %d datagrams without a NAT", na, nb)
		}
	})
}

func TestKeepaliveIntervalOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		want     time.Duration // first keepalive after establishment; 0: none
	}{
		{"custom", 5 * time.Second, 10 * time.Second},
		{"disabled", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := pairOpts(t, nil, nil, func(o *engine.Options) { o.KeepaliveInterval = tc.interval }, nil)
				establishVia(t, a, b, &natBox{behind: a, private: addrA, public: publicA, shift: 40000})
				if tc.want == 0 {
					if got := advance(a, 10*time.Minute); len(got) != 0 {
						t.Fatalf("%d datagrams with keepalives disabled", len(got))
					}
					return
				}
				if got := advance(a, tc.want-time.Millisecond); len(got) != 0 {
					t.Fatalf("keepalive before %v", tc.want)
				}
				if got := advance(a, time.Millisecond); len(got) != 1 {
					t.Fatalf("%d datagrams at %v, want one keepalive", len(got), tc.want)
				}
			})
		})
	}
}

// TestReceivedKeepaliveIgnored: 0xFF on port 4500 is a NAT-keepalive and
// is dropped whatever the state (RFC 3948 §2.3); on port 500 it is a
// malformed IKE message, dropped too.
func TestReceivedKeepaliveIgnored(t *testing.T) {
	_, b := pair(t, nil, nil, nil)
	for _, port := range []uint16{engine.PortNATT, engine.PortIKE} {
		b.e.HandleDatagram(engine.Datagram{Local: netip.AddrPortFrom(addrB, port), Remote: netip.AddrPortFrom(addrA, port), Data: []byte{0xff}})
	}
	if b.net.Len() != 0 || len(b.e.IKESAs()) != 0 {
		t.Fatal("B reacted to a keepalive")
	}
}

// TestNoKeepaliveWithForceEncap: ForceEncap (the userspace dataplane)
// pretends a NAT to get ESP in UDP; with no NAT really in front of
// either side, neither sends NAT keepalives.
func TestNoKeepaliveWithForceEncap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		force := func(o *engine.Options) { o.ForceEncap = true }
		a, b := pairOpts(t, nil, nil, force, force)
		establish(t, a, b)
		if ca, _ := checkChildPair(t, a, b); !ca.Encap {
			t.Fatal("child SA without UDP encapsulation under ForceEncap")
		}
		if na, nb := len(advance(a, 5*time.Minute)), len(advance(b, 0)); na+nb != 0 {
			t.Fatalf("%d and %d datagrams (keepalives) without a NAT", na, nb)
		}
	})
}
