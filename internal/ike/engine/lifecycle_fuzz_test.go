package engine_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// lifecycleSeeds are the inner payload chains of the requests the
// lifecycle sends, as B receives them after IKE_AUTH: child SA rekey
// with and without PFS, IKE SA rekey, new child SA, deletes,
// INVALID_SPI.
func lifecycleSeeds(t testing.TB) map[string]fuzzSeed {
	seeds := map[string]fuzzSeed{}
	g := chain(pfs(generated.SecgwIke_DhGroup_ecp256), addPolicy("net2", "10.1.0.0/16", "10.2.0.0/16"))
	gB := chain(pfs(generated.SecgwIke_DhGroup_ecp256), addPolicy("net2", "10.2.0.0/16", "10.1.0.0/16"))
	for _, tc := range []struct {
		name string
		mods [2]func(*generated.SecgwVrf_Vrf_Ike)
		do   func(a *peer)
	}{
		{"child-rekey", [2]func(*generated.SecgwVrf_Vrf_Ike){}, func(a *peer) { a.e.RekeyChild(onlyChildUID(t, a)) }},
		{"child-rekey-pfs", [2]func(*generated.SecgwVrf_Vrf_Ike){g, gB}, func(a *peer) {
			a.e.RekeyChild(saState(t, a).Children[0].UniqueID)
		}},
		{"ike-rekey", [2]func(*generated.SecgwVrf_Vrf_Ike){}, func(a *peer) { a.e.RekeyIKE(saState(t, a).UniqueID) }},
		{"new-child", [2]func(*generated.SecgwVrf_Vrf_Ike){g, gB}, func(a *peer) { a.e.InitiateChild("net2") }},
		{"delete-child", [2]func(*generated.SecgwVrf_Vrf_Ike){}, func(a *peer) { a.e.DeleteChildByUID(onlyChildUID(t, a)) }},
		{"delete-ike", [2]func(*generated.SecgwVrf_Vrf_Ike){}, func(a *peer) { a.e.DeleteIKE(mustSPI(t, a)) }},
		{"invalid-spi", [2]func(*generated.SecgwVrf_Vrf_Ike){respondBadSPI(1), nil}, func(a *peer) {
			a.e.UnknownSPI(addrA, addrB, a.dp.Children()[0].InSPI)
		}},
	} {
		// A clock that never fires: the seeds' engines are left with a
		// request outstanding, whose retransmission must not run.
		stopped := func(o *engine.Options) { o.Clock = stoppedClock{} }
		a, b := pairOpts(t, tc.mods[0], tc.mods[1], stopped, stopped)
		establish(t, a, b)
		tc.do(a)
		d, _ := a.net.Next()
		h, ps := open(t, b, d)
		plain, first, err := wire.AppendPayloadChain(nil, ps)
		if err != nil {
			t.Fatal(err)
		}
		seeds[tc.name] = fuzzSeed{plain, uint8(first), uint8(h.Exchange)}
	}
	return seeds
}

type fuzzSeed struct {
	plain       []byte
	first, exch uint8
}

// FuzzLifecycleResponder feeds authenticated CREATE_CHILD_SA and
// INFORMATIONAL requests with arbitrary inner payloads to an engine with
// an established IKE SA and child SA: whatever they hold, the engine must
// not panic, and what it answers must be a well-formed response. The
// checked-in corpus (testdata/fuzz/FuzzLifecycleResponder) holds the
// requests of the lifecycle; `SECGW_WRITE_CORPUS=1 go test -run
// TestLifecycleCorpus` rewrites it.
func FuzzLifecycleResponder(f *testing.F) {
	for _, s := range lifecycleSeeds(f) {
		f.Add(s.plain, s.first, s.exch)
	}
	f.Fuzz(func(t *testing.T, plain []byte, first, exch uint8) {
		synctest.Test(t, func(t *testing.T) {
			a, b := pair(quiet{t}, nil, nil, nil)
			establish(quiet{t}, a, b)
			x := wire.ExchangeCreateChildSA
			if exch%2 == 1 {
				x = wire.ExchangeInformational
			}
			raw, err := a.e.SealForTest(mustSPI(t, a), x, 2, false, wire.PayloadType(first), plain)
			if err != nil {
				return
			}
			b.e.HandleDatagram(engine.Datagram{Local: netip.AddrPortFrom(addrB, engine.PortIKE),
				Remote: netip.AddrPortFrom(addrA, engine.PortIKE), Data: raw})
			for _, d := range takeAll(b) {
				a.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
			}
			takeAll(a)
		})
	})
}

// TestLifecycleCorpus keeps the checked-in corpus of
// FuzzLifecycleResponder in step with the seeds (rewritten when
// SECGW_WRITE_CORPUS is set).
func TestLifecycleCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzLifecycleResponder")
	seeds := lifecycleSeeds(quiet{t})
	if os.Getenv("SECGW_WRITE_CORPUS") != "" {
		os.MkdirAll(dir, 0o755)
		for name, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%q)\nbyte(%q)\n", s.plain, rune(s.first), rune(s.exch))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name := range seeds {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("corpus entry %s missing: %v", name, err)
		}
	}
}

// stoppedClock is a Clock whose timers never fire.
type stoppedClock struct{}

func (stoppedClock) AfterFunc(time.Duration, func()) func() bool { return func() bool { return true } }
