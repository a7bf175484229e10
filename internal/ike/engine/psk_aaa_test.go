package engine_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// pskRadiusPair is A (initiator "to-b", identity a.example, PSK key) and
// B, whose VPN "from-a" has remote-auth-method pre-shared-key-radius with
// the AAA aaa and no pre-shared-key of its own (ownKey "": our AUTH with
// the server's key) or ownKey; modA and modB change the VPNs, vipsA is
// A's host for a virtual IP (nil: none).
func pskRadiusPair(t *testing.T, aaa engine.AAA, key, ownKey string, modA, modB func(*generated.SecgwVrf_Vrf_Ike_Vpn), vipsA *poolVIPs) (a, b *peer, logB *logRecorder) {
	t.Helper()
	logB, optB := recordLogs(t)
	a, b = pairOpts(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["to-b"].IkePolicy.PreSharedKey = ptr(key)
		if modA != nil {
			modA(ike.Vpn["to-b"])
		}
	}, func(ike *generated.SecgwVrf_Vrf_Ike) {
		v := ike.Vpn["from-a"]
		v.IkePolicy.RemoteAuthMethod = generated.SecgwIke_AuthMethod_pre_shared_key_radius
		v.IkePolicy.PreSharedKey = nil
		if ownKey != "" {
			v.IkePolicy.PreSharedKey = ptr(ownKey)
		}
		if modB != nil {
			modB(v)
		}
	}, func(o *engine.Options) {
		if vipsA != nil {
			o.VIPs = vipsA
		}
	}, func(o *engine.Options) { o.AAA = aaa; optB(o) })
	return a, b, logB
}

// authRound runs IKE_SA_INIT and hands A's IKE_AUTH request to B, then
// waits for B's answer (the AAA answers on its own goroutine) and hands
// it to A.
func authRound(t *testing.T, a, b *peer) {
	t.Helper()
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request: IDi, IDr, AUTH(PSK), SA, TSi, TSr
	var d engine.Datagram
	if !eventuallyT(func() bool { var ok bool; d, ok = b.net.Next(); return ok }) {
		t.Fatal("B never answered the IKE_AUTH request")
	}
	a.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
}

// checkCleared fails when a key the AAA handed the engine is still in
// its buffer: the engine clears it after the exchange.
func checkCleared(t *testing.T, aaa *fakeAAA) {
	t.Helper()
	aaa.mu.Lock()
	defer aaa.mu.Unlock()
	for _, k := range aaa.given {
		if slices.ContainsFunc(k, func(b byte) bool { return b != 0 }) {
			t.Errorf("the engine kept the AAA's key")
		}
	}
}

// noKeyInLogs fails when a log record of B holds key.
func noKeyInLogs(t *testing.T, l *logRecorder, key string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		for k, v := range r {
			if strings.Contains(v, key) {
				t.Errorf("log record %q holds the PSK in %s", r["msg"], k)
			}
		}
	}
}

// TestPSKRadius: remote-auth-method pre-shared-key-radius (the vsr
// guide's "Remote peer authentication by PSK via RADIUS"):
//
//	IDi(a.example), AUTH(PSK)  -->  [AAA: User-Name a.example -> Accept, PSK]
//	                           <--  IDr, AUTH, SA, TSi, TSr
//
// B asks the AAA for the key of the peer's identity, says nothing until
// it answers (a retransmission meanwhile is absorbed), verifies the
// peer's AUTH with it and, the VPN having no pre-shared-key, computes its
// own AUTH with it too: A verifies it and both have the IKE SA and the
// child SA; accounting hears the Start; the key is cleared and never
// logged.
func TestPSKRadius(t *testing.T) {
	aaa := &fakeAAA{psks: map[string]string{"a.example": "alice-key"}, hold: true}
	a, b, logB := pskRadiusPair(t, aaa, "alice-key", "", nil, nil, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b)      // IKE_SA_INIT request
	deliver(t, b, a)      // IKE_SA_INIT response
	d := deliver(t, a, b) // IKE_AUTH request: parked
	if out := takeAll(b); len(out) != 0 {
		t.Fatalf("B answered before the AAA: %d datagrams", len(out))
	}
	b.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data}) // retransmission
	if out := takeAll(b); len(out) != 0 {
		t.Fatalf("B answered a retransmission before the AAA: %d datagrams", len(out))
	}
	if len(aaa.reqs) != 1 || aaa.reqs[0].UserName != "a.example" || aaa.reqs[0].Peer != addrA || aaa.reqs[0].EAP != nil {
		t.Fatalf("AAA requests %+v, want one PSK request for a.example from A", aaa.reqs)
	}
	aaa.release()
	var resp engine.Datagram
	if !eventuallyT(func() bool { var ok bool; resp, ok = b.net.Next(); return ok }) {
		t.Fatal("B never answered")
	}
	a.e.HandleDatagram(engine.Datagram{Local: resp.Remote, Remote: resp.Local, Data: resp.Data})
	if _, info := onlySA(t, a); info.State != "established" {
		t.Errorf("A's IKE SA is %s: B's AUTH is not the RADIUS key's", info.State)
	}
	if _, info := onlySA(t, b); info.State != "established" || info.VPN != "from-a" {
		t.Errorf("B's IKE SA is %s (vpn %q)", info.State, info.VPN)
	}
	checkChildPair(t, a, b)
	if len(aaa.acct) != 1 || aaa.acct[0].Status != engine.AcctStart || aaa.acct[0].UserName != "a.example" {
		t.Errorf("accounting %+v, want one Start for a.example", aaa.acct)
	}
	checkCleared(t, aaa)
	noKeyInLogs(t, logB, "alice-key")
	if err := b.e.FlushIKE(onlyUID(t, b)); err != nil {
		t.Fatal(err)
	}
	if len(aaa.acct) != 2 || aaa.acct[1].Status != engine.AcctStop {
		t.Errorf("accounting %+v, want the Start then a Stop", aaa.acct)
	}
}

// TestPSKRadiusOwnKey: a VPN with a pre-shared-key of its own answers with
// an AUTH of that key (local-auth-method pre-shared-key), the peer's
// being checked with the RADIUS one: B establishes, and A, which holds
// only the RADIUS key, refuses B's AUTH.
func TestPSKRadiusOwnKey(t *testing.T) {
	aaa := &fakeAAA{psks: map[string]string{"a.example": "alice-key"}}
	a, b, _ := pskRadiusPair(t, aaa, "alice-key", "gateway-key", nil, nil, nil)
	authRound(t, a, b)
	if _, info := onlySA(t, b); info.State != "established" {
		t.Errorf("B's IKE SA is %s", info.State)
	}
	if sas := a.e.IKESAs(); len(sas) == 1 {
		for _, info := range sas {
			if info.State == "established" {
				t.Error("A verified B's AUTH with the RADIUS key: B did not use its own")
			}
		}
	}
}

// TestPSKRadiusRefusals: a wrong key on the peer's side, an identity the
// server rejects, an Access-Accept without Tunnel-Password, no server
// answering, no AAA at all: AUTHENTICATION_FAILED each time, B keeps no
// IKE SA, the refusal is logged with its reason and counted.
func TestPSKRadiusRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		aaa    *fakeAAA
		key    string
		reason string
	}{
		{"wrong key", &fakeAAA{psks: map[string]string{"a.example": "alice-key"}}, "not-alice-key", "does not verify"},
		{"reject", &fakeAAA{psks: map[string]string{"someone.else": "k"}}, "alice-key", "rejected the identity"},
		{"no Tunnel-Password", &fakeAAA{psks: map[string]string{"a.example": ""}}, "alice-key", "without a pre-shared key"},
		{"RADIUS down", &fakeAAA{fail: errors.New("radius: no server answered (tried 127.0.0.1:1812)")}, "alice-key", "no AAA server answered"},
		{"no AAA", nil, "alice-key", "no AAA server configured"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var aaa engine.AAA
			if c.aaa != nil {
				aaa = c.aaa
			}
			a, b, logB := pskRadiusPair(t, aaa, c.key, "", nil, nil, nil)
			authRound(t, a, b)
			if !eventuallyT(func() bool { return len(b.e.IKESAs()) == 0 }) {
				t.Error("B kept the IKE SA")
			}
			if sas := a.e.IKESAs(); len(sas) != 0 {
				t.Errorf("A has %v, want its SA gone on AUTHENTICATION_FAILED", sas)
			}
			recs := logB.find("authentication of peer failed")
			if len(recs) != 1 || !strings.HasPrefix(recs[0]["reason"], "pre-shared-key-radius: ") || !strings.Contains(recs[0]["reason"], c.reason) ||
				recs[0]["peer-id"] != "a.example" || recs[0]["notify"] != wire.NotifyAuthenticationFailed.String() {
				t.Errorf("refusal log %v, want one naming %q", recs, c.reason)
			}
			if n := b.e.OpStats().Refusals[wire.NotifyAuthenticationFailed.String()]; n != 1 {
				t.Errorf("AUTHENTICATION_FAILED refusals counted %d, want 1", n)
			}
			if c.aaa != nil {
				checkCleared(t, c.aaa)
			}
			noKeyInLogs(t, logB, "alice-key")
		})
	}
}

// TestPSKRadiusPool: vip-pool radius with pre-shared-key-radius: the
// CFG_REQUEST of A is answered with the Access-Accept's
// Framed-IP-Address and DNS server, the child SA narrowed to it, and the
// accounting Start names it.
func TestPSKRadiusPool(t *testing.T) {
	vip, dns := netip.MustParseAddr("10.9.0.5"), netip.MustParseAddr("10.9.0.53")
	aaa := &fakeAAA{psks: map[string]string{"a.example": "alice-key"}, attrs: engine.AAAAttrs{FramedIP: vip, DNS: []netip.Addr{dns}}}
	vipsA := &poolVIPs{}
	a, b, _ := pskRadiusPair(t, aaa, "alice-key", "", func(v *generated.SecgwVrf_Vrf_Ike_Vpn) {
		v.VipRequest = []string{"0.0.0.0"}
		v.SecurityPolicy["net"].LocalTs.Subnet = nil
	}, func(v *generated.SecgwVrf_Vrf_Ike_Vpn) {
		v.VipPool = []string{"radius"}
		v.SecurityPolicy["net"].RemoteTs.Subnet = nil
	}, vipsA)
	authRound(t, a, b)
	if sa := saState(t, a); !slices.Equal(sa.LocalVIPs, []netip.Addr{vip}) {
		t.Errorf("A's virtual IPs %v, want %s from the Access-Accept", sa.LocalVIPs, vip)
	}
	ca, cb := checkChildPair(t, a, b)
	if cb.RemoteTS[0].StartAddr != vip || cb.RemoteTS[0].EndAddr != vip || ca.LocalTS[0].StartAddr != vip {
		t.Errorf("child SA selectors A local %v, B remote %v, want the virtual IP %s", ca.LocalTS, cb.RemoteTS, vip)
	}
	if len(aaa.acct) != 1 || aaa.acct[0].Attrs.FramedIP != vip {
		t.Errorf("accounting %+v, want a Start with Framed-IP-Address %s", aaa.acct, vip)
	}
}
