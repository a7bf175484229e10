package engine_test

import (
	"bytes"
	"log/slog"
	"net/netip"
	"reflect"
	"sync"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/ike/resolve"
)

func ptr[T any](v T) *T { return &v }

var (
	addrA = netip.MustParseAddr("10.0.0.1")
	addrB = netip.MustParseAddr("10.0.0.2")
)

// peer is one engine with its in-memory network and dataplane.
type peer struct {
	e   *engine.Engine
	net *enginetest.Network
	dp  *enginetest.Dataplane
}

// vpnConfig builds the ike container of a gateway with one VPN.
func vpnConfig(name string, local, remote netip.Addr, localID, remoteID, psk, localTS, remoteTS string) *generated.SecgwVrf_Vrf_Ike {
	v := &generated.SecgwVrf_Vrf_Ike_Vpn{
		Name:         ptr(name),
		LocalAddress: ptr(local.String()),
		LocalId:      ptr(localID),
		RemoteId:     ptr(remoteID),
		IkePolicy:    &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{PreSharedKey: ptr(psk)},
		SecurityPolicy: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{
			"net": {
				Name:     ptr("net"),
				LocalTs:  &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs{Subnet: ptr(localTS)},
				RemoteTs: &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_RemoteTs{Subnet: ptr(remoteTS)},
			},
		},
	}
	if remote.IsValid() {
		v.RemoteAddress = ptr(remote.String())
	}
	return &generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{name: v}}
}

func newPeer(t testing.TB, ike *generated.SecgwVrf_Vrf_Ike, local netip.Addr, mod func(*engine.Options)) *peer {
	t.Helper()
	c, err := resolve.Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{net: enginetest.NewNetwork(), dp: enginetest.NewDataplane()}
	o := engine.Options{VRF: "main", Config: c, LocalAddr: local, Conn: p.net, Dataplane: p.dp,
		Logger: slog.New(slog.NewTextHandler(newTWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mod != nil {
		mod(&o)
	}
	p.e = engine.New(o)
	return p
}

// pair returns an initiator A ("to-b") and a responder B ("from-a") that
// agree on everything; the mod functions change their configuration.
func pair(t testing.TB, modA, modB func(*generated.SecgwVrf_Vrf_Ike), optB func(*engine.Options)) (a, b *peer) {
	ikeA := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
	ikeB := vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24")
	if modA != nil {
		modA(ikeA)
	}
	if modB != nil {
		modB(ikeB)
	}
	return newPeer(t, ikeA, addrA, nil), newPeer(t, ikeB, addrB, optB)
}

// deliver hands the next datagram sent by from to the engine of to and
// returns it.
func deliver(t testing.TB, from, to *peer) engine.Datagram {
	t.Helper()
	d, ok := from.net.Next()
	if !ok {
		t.Fatal("no datagram to deliver")
	}
	to.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
	return d
}

// drop discards the next datagram sent by p.
func drop(t testing.TB, p *peer) engine.Datagram {
	t.Helper()
	d, ok := p.net.Next()
	if !ok {
		t.Fatal("no datagram to drop")
	}
	return d
}

func onlySA(t testing.TB, p *peer) (uint64, engine.IKESAInfo) {
	t.Helper()
	sas := p.e.IKESAs()
	if len(sas) != 1 {
		t.Fatalf("have %d IKE SAs, want 1", len(sas))
	}
	for k, v := range sas {
		return k, v
	}
	panic("unreachable")
}

// checkChildPair checks that A and B hold one child SA each, mirror images
// of each other: SPIs, keys, suite and selectors.
func checkChildPair(t testing.TB, a, b *peer) (ca, cb engine.ChildSA) {
	t.Helper()
	as, bs := a.dp.Children(), b.dp.Children()
	if len(as) != 1 || len(bs) != 1 {
		t.Fatalf("children: A has %d, B has %d, want 1 each", len(as), len(bs))
	}
	ca, cb = as[0], bs[0]
	if ca.InSPI != cb.OutSPI || ca.OutSPI != cb.InSPI {
		t.Errorf("SPIs do not pair: A in %08x out %08x, B in %08x out %08x", ca.InSPI, ca.OutSPI, cb.InSPI, cb.OutSPI)
	}
	if !bytes.Equal(ca.Out.Encr, cb.In.Encr) || !bytes.Equal(ca.In.Encr, cb.Out.Encr) ||
		!bytes.Equal(ca.Out.Integ, cb.In.Integ) || !bytes.Equal(ca.In.Integ, cb.Out.Integ) {
		t.Error("child SA keys do not pair")
	}
	if bytes.Equal(ca.Out.Encr, ca.In.Encr) {
		t.Error("both directions use the same key")
	}
	if ca.Suite != cb.Suite {
		t.Errorf("suites differ: %v vs %v", ca.Suite, cb.Suite)
	}
	if len(ca.LocalTS) != 1 || len(cb.RemoteTS) != 1 || !reflect.DeepEqual(ca.LocalTS, cb.RemoteTS) || !reflect.DeepEqual(ca.RemoteTS, cb.LocalTS) {
		t.Errorf("selectors do not pair: A %v/%v, B %v/%v", ca.LocalTS, ca.RemoteTS, cb.LocalTS, cb.RemoteTS)
	}
	return ca, cb
}

// establish runs the four messages of IKE_SA_INIT and IKE_AUTH.
func establish(t testing.TB, a, b *peer) {
	t.Helper()
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request: SA, KE, Ni, N(NAT_DETECTION_*), N(FRAG)
	deliver(t, b, a) // IKE_SA_INIT response: SA, KE, Nr, N(NAT_DETECTION_*), N(FRAG)
	deliver(t, a, b) // IKE_AUTH request: SK{IDi, IDr, AUTH, SA, TSi, TSr}
	deliver(t, b, a) // IKE_AUTH response: SK{IDr, AUTH, SA, TSi, TSr}
}

// tWriter sends log lines to the test log.
// tWriter sends log lines to the test's log until the test ends. The
// engines of a test are not closed and run real timers: one may fire, and
// log, after the test returned, when t.Log panics; those lines are
// dropped.
type tWriter struct {
	t  testing.TB
	mu *sync.Mutex
	// done is set, under mu, by the test's cleanup.
	done *bool
}

func newTWriter(t testing.TB) tWriter {
	w := tWriter{t: t, mu: new(sync.Mutex), done: new(bool)}
	t.Cleanup(func() {
		w.mu.Lock()
		*w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w tWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Helper()
		w.t.Log(string(bytes.TrimRight(b, "\n")))
	}
	return len(b), nil
}
