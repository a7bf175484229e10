package engine_test

import (
	"net/netip"
	"secgw/internal/ipsec"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
)

// TestIdentities runs IKE_AUTH with each identity type of RFC 7296 §3.5
// the configuration accepts: each side proves its local-id, the other
// checks it against its remote-id, and a remote-id of the same type but
// another value makes the authentication fail.
func TestIdentities(t *testing.T) {
	for _, tc := range []struct {
		name           string
		idA, idB       string
		wantA, wantB   string // as each peer logs the other's identity
		wrongA, wrongB string // a remote-id of the same type that does not match
	}{
		{"ipv4", "10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2", "10.0.0.9", "10.0.0.9"},
		{"ipv6", "2001:db8::a", "2001:db8::b", "2001:db8::a", "2001:db8::b", "2001:db8::c", "2001:db8::c"},
		{"fqdn", "a.example", "b.example", "a.example", "b.example", "c.example", "c.example"},
		{"rfc822", "alice@example.com", "bob@example.com", "alice@example.com", "bob@example.com", "eve@example.com", "eve@example.com"},
		{"keyid", "keyid:alice", "keyid:0x0102ff", "keyid:0x616c696365", "keyid:0x0102ff", "keyid:bob", "keyid:0x0102fe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := func(local, remote string) func(*generated.SecgwVrf_Vrf_Ike) {
				return func(ike *generated.SecgwVrf_Vrf_Ike) {
					for _, v := range ike.Vpn {
						v.LocalId, v.RemoteId = ptr(local), ptr(remote)
					}
				}
			}
			logA, recA := recordLogs(t)
			logB, recB := recordLogs(t)
			a, b := pairOpts(t, ids(tc.idA, tc.idB), ids(tc.idB, tc.idA), recA, recB)
			establish(t, a, b)
			checkChildPair(t, a, b)
			for _, c := range []struct {
				log  *logRecorder
				want string
			}{{logA, tc.wantB}, {logB, tc.wantA}} {
				recs := c.log.find("IKE SA established")
				if len(recs) != 1 || recs[0]["peer-id"] != c.want {
					t.Errorf("established with peer %v, want %s", recs, c.want)
				}
			}
			// The responder expects another identity of the same type.
			a, b = pair(t, ids(tc.idA, tc.idB), ids(tc.idB, tc.wrongA), nil)
			establish(t, a, b) // IKE_AUTH response: SK{N(AUTHENTICATION_FAILED)}
			if len(a.e.IKESAs())+len(b.e.IKESAs()) != 0 {
				t.Error("responder accepted an identity other than its remote-id")
			}
			// The initiator expects another identity than the one B
			// proves (B has no local-id, so it ignores IDr and presents
			// its address): B accepts, A refuses.
			a, b = pair(t, ids(tc.idA, tc.wrongB), func(ike *generated.SecgwVrf_Vrf_Ike) {
				ike.Vpn["from-a"].LocalId, ike.Vpn["from-a"].RemoteId = nil, ptr(tc.idA)
			}, nil)
			establish(t, a, b) // IKE_AUTH response: SK{IDr(10.0.0.2), AUTH, ...}, which A refuses
			if len(a.e.IKESAs()) != 0 || len(a.dp.Children()) != 0 || len(b.e.IKESAs()) != 1 {
				t.Error("initiator accepted an identity other than its remote-id")
			}
		})
	}
}

// TestDefaultIdentities: without local-id a peer is known by its address
// (ID_IPV4_ADDR / ID_IPV6_ADDR), and without remote-id any identity whose
// AUTH verifies is accepted.
func TestDefaultIdentities(t *testing.T) {
	none := func(ike *generated.SecgwVrf_Vrf_Ike) {
		for _, v := range ike.Vpn {
			v.LocalId, v.RemoteId = nil, nil
		}
	}
	logB, recB := recordLogs(t)
	a, b := pairOpts(t, none, none, nil, recB)
	establish(t, a, b)
	checkChildPair(t, a, b)
	if recs := logB.find("IKE SA established"); len(recs) != 1 || recs[0]["peer-id"] != addrA.String() {
		t.Errorf("B established with %v, want %s", recs, addrA)
	}
}

// TestIPv6Outer runs the exchanges over IPv6 outer addresses, fragmented
// (the fragment size counts the 40-octet IPv6 header, RFC 7383 §2.5.1).
func TestIPv6Outer(t *testing.T) {
	a6, b6 := netip.MustParseAddr("fd00::a"), netip.MustParseAddr("fd00::b")
	ikeA := vpnConfig("to-b", a6, b6, "a.example", "b.example", "secret", "2001:db8:1::/48", "2001:db8:2::/48")
	ikeB := vpnConfig("from-a", b6, netip.Addr{}, "b.example", "a.example", "secret", "2001:db8:2::/48", "2001:db8:1::/48")
	a := newPeer(t, ikeA, a6, fragSize(170))
	b := newPeer(t, ikeB, b6, fragSize(170))
	establishFragmented(t, a, b, 170-40-8)
	ca, _ := checkChildPair(t, a, b)
	if ca.Local != netip.AddrPortFrom(a6, engine.PortIKE) || ca.Remote != netip.AddrPortFrom(b6, engine.PortIKE) ||
		ca.LocalTS[0].Type != ipsec.TSIPv6AddrRange {
		t.Errorf("child SA %v -> %v, selectors %v", ca.Local, ca.Remote, ca.LocalTS)
	}
	spi, _ := onlySA(t, b)
	b.e.DeleteIKE(spi)
	deliver(t, b, a) // INFORMATIONAL request: SK{D(IKE)}
	deliver(t, a, b) // INFORMATIONAL response: SK{}
	if len(a.e.IKESAs())+len(b.e.IKESAs()) != 0 {
		t.Error("IKE SA left after the delete")
	}
}

// establishFragmented runs IKE_SA_INIT and a fragmented IKE_AUTH whose
// messages must each fit in limit octets.
func establishFragmented(t *testing.T, a, b *peer, limit int) {
	t.Helper()
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	for _, pair := range [][2]*peer{{a, b}, {b, a}} {
		ds := takeAll(pair[0]) // IKE_AUTH request, then response, in fragments
		if len(ds) < 2 {
			t.Fatalf("IKE_AUTH in %d datagram(s), want fragments", len(ds))
		}
		for _, d := range ds {
			if len(d.Data) > limit {
				t.Errorf("%d-octet fragment, limit %d", len(d.Data), limit)
			}
			inject(pair[1], d, nil, pair[0])
		}
	}
}
