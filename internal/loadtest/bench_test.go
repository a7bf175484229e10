package loadtest

import (
	"crypto/rand"
	"runtime"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/resolve"
	"secgw/internal/ike/wire"
)

// The benchmarks run whole tunnels in process (no sockets) and time one
// side only, with the timer stopped while the other side works:
//
//	go test -run '^$' -bench . -benchtime 10000x ./internal/loadtest
//
// BenchmarkInitiatorLean against BenchmarkInitiatorEngine is why the
// generator does not use the engine as initiator; BenchmarkResponder is
// the engine's cost per setup and, as heap-B/SA, the live heap each
// established IKE SA with its child SA holds (b.N SAs stay established).

// leanSetup establishes tunnel i with the lean initiator; timed says
// which side's work runs with the timer on.
func leanSetup(b *testing.B, h *inproc, p *Profile, i int, timeInitiator bool) {
	on, off := b.StartTimer, b.StopTimer
	if !timeInitiator {
		on, off = b.StopTimer, b.StartTimer
	}
	on()
	t, err := newTunnel(p, i, genAddr, respAddr, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	req, err := t.initRequest(p)
	if err != nil {
		b.Fatal(err)
	}
	off()
	resp := h.roundTrip(b, genAddr, req)
	on()
	m, err := wire.Parse(resp)
	if err != nil {
		b.Fatal(err)
	}
	req, _, err = t.handleInitResponse(p, m)
	if err != nil {
		b.Fatal(err)
	}
	off()
	resp = h.roundTrip(b, genAddr, req)
	on()
	if m, err = wire.Parse(resp); err != nil {
		b.Fatal(err)
	}
	if err := t.handleAuthResponse(p, m); err != nil {
		b.Fatal(err)
	}
	t.settle()
	off()
}

// BenchmarkInitiatorLean times the generator's initiator per tunnel.
func BenchmarkInitiatorLean(b *testing.B) {
	h := newInproc(b, respOptions())
	p := testProfile()
	b.ReportAllocs()
	b.StopTimer()
	for i := range b.N {
		leanSetup(b, h, &p, i, true)
	}
}

// BenchmarkResponder times the engine as responder per tunnel and reports
// the heap held per established SA.
func BenchmarkResponder(b *testing.B) {
	h := newInproc(b, respOptions())
	p := testProfile()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		leanSetup(b, h, &p, i, false)
	}
	b.StopTimer()
	if st := h.r.Stats(); st.Established() != int64(b.N) || st.ChildUp != int64(b.N) {
		b.Fatalf("responder: %+v", st)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/SA")
	runtime.KeepAlive(h)
}

// initiatorEngine is an engine configured with one VPN towards the
// responder, as the generator would be if it used the engine.
func initiatorEngine(b *testing.B) (*engine.Engine, *memConn) {
	aead := []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128}
	v := &generated.SecgwVrf_Vrf_Ike_Vpn{
		Name: ptr("to-load"), LocalAddress: ptr(genAddr.Addr().String()), RemoteAddress: ptr(respAddr.Addr().String()),
		LocalId: ptr("user1@load.test"),
		IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{PreSharedKey: ptr(testPSK),
			IkeProposal: map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{1: {Id: ptr(uint8(1)), AeadAlg: aead,
				PrfAlg:  []generated.E_SecgwIke_PrfAlgorithm{generated.SecgwIke_PrfAlgorithm_hmac_sha256},
				DhGroup: []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_ecp256}}}},
		IpsecPolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{
			EspProposal: map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{1: {Id: ptr(uint8(1)), AeadAlg: aead}}},
		SecurityPolicy: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{"net": {Name: ptr("net"),
			LocalTs:  &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs{Subnet: ptr("10.200.0.1/32")},
			RemoteTs: &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_RemoteTs{Subnet: ptr("0.0.0.0/0")}}},
	}
	cfg, err := resolve.Config(&generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"to-load": v}})
	if err != nil {
		b.Fatal(err)
	}
	c := &memConn{}
	return engine.New(engine.Options{VRF: "gen", Config: cfg, LocalAddr: genAddr.Addr(), Conn: c,
		Dataplane: discard{&Responder{failures: map[string]int64{}}}}), c
}

// BenchmarkInitiatorEngine times the engine as initiator per tunnel.
func BenchmarkInitiatorEngine(b *testing.B) {
	h := newInproc(b, respOptions())
	ei, ci := initiatorEngine(b)
	// towards swaps a datagram's ends for the other engine.
	towards := func(d engine.Datagram) engine.Datagram {
		return engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data}
	}
	one := func(ds []engine.Datagram) engine.Datagram {
		if len(ds) != 1 {
			b.Fatalf("%d datagrams sent, want 1", len(ds))
		}
		return ds[0]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := ei.Initiate("to-load"); err != nil {
			b.Fatal(err)
		}
		for range 2 { // IKE_SA_INIT, IKE_AUTH
			req := one(ci.take())
			b.StopTimer()
			h.r.e.HandleDatagram(towards(req))
			resp := one(h.conn.take())
			b.StartTimer()
			ei.HandleDatagram(towards(resp))
		}
	}
	b.StopTimer()
	if st := h.r.Stats(); st.ChildUp != int64(b.N) {
		b.Fatalf("responder: %+v", st)
	}
}
