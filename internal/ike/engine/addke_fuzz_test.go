package engine_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// addKEConfig is the hybrid configuration of the fuzz targets: IKE with
// Curve25519 and ML-KEM-768, ESP with PFS Curve25519 and ML-KEM-1024,
// without fragmentation (the requests are sealed whole).
var addKEConfig = allOf(hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768}),
	hybridESP(keList{mlkem1024}), func(ike *generated.SecgwVrf_Vrf_Ike) {
		for _, v := range ike.Vpn {
			v.IkePolicy.Fragmentation = ptr(false)
		}
	})

// addKEStage brings A and B to where B waits for an IKE_INTERMEDIATE
// request (intermediate true: after IKE_SA_INIT) or for an IKE_FOLLOWUP_KE
// one (after the CREATE_CHILD_SA of a child SA rekey), and returns A's
// request as B receives it, the exchange still open, and the Message ID
// B expects.
func addKEStage(t testing.TB, intermediate bool) (a, b *peer, first wire.PayloadType, plain []byte, id uint32) {
	t.Helper()
	stopped := func(o *engine.Options) { o.Clock = stoppedClock{} }
	a, b = pairOpts(t, addKEConfig, addKEConfig, stopped, stopped)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	if !intermediate {
		deliver(t, a, b) // IKE_INTERMEDIATE request: SK{KEi(ML_KEM_768)}
		deliver(t, b, a) // IKE_INTERMEDIATE response: SK{KEr(ML_KEM_768)}
		deliver(t, a, b) // IKE_AUTH request
		deliver(t, b, a) // IKE_AUTH response
		a.e.RekeyChild(onlyChildUID(t, a))
		deliver(t, a, b) // CREATE_CHILD_SA request: SK{N(REKEY_SA), SA, Ni, KEi, TSi, TSr}
		deliver(t, b, a) // CREATE_CHILD_SA response: SK{SA, Nr, KEr, TSi, TSr, N(ADDITIONAL_KEY_EXCHANGE)}
	}
	d, ok := a.net.Next() // IKE_INTERMEDIATE or IKE_FOLLOWUP_KE request
	if !ok {
		t.Fatal("no request")
	}
	h, ps := open(t, b, d)
	plain, first, err := wire.AppendPayloadChain(nil, ps)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, first, plain, h.MessageID
}

// addKESeeds are the requests of both stages, for the corpus.
func addKESeeds(t testing.TB) map[string]fuzzSeed {
	seeds := map[string]fuzzSeed{}
	for name, inter := range map[string]bool{"intermediate": true, "followup": false} {
		_, _, first, plain, _ := addKEStage(t, inter)
		exch := uint8(0)
		if !inter {
			exch = 1
		}
		seeds[name] = fuzzSeed{plain, uint8(first), exch}
	}
	return seeds
}

// FuzzAddKEResponder feeds authenticated IKE_INTERMEDIATE (exch even) and
// IKE_FOLLOWUP_KE (exch odd) requests with arbitrary inner payloads to a
// responder waiting for one: it must not panic, whatever the KE payload
// and the link data hold. The checked-in corpus
// (testdata/fuzz/FuzzAddKEResponder) holds the real requests;
// `SECGW_WRITE_CORPUS=1 go test -run TestAddKECorpus` rewrites it.
func FuzzAddKEResponder(f *testing.F) {
	for _, s := range addKESeeds(quiet{f}) {
		f.Add(s.plain, s.first, s.exch)
	}
	f.Fuzz(func(t *testing.T, plain []byte, first, exch uint8) {
		synctest.Test(t, func(t *testing.T) {
			x := wire.ExchangeIKEIntermediate
			if exch%2 == 1 {
				x = wire.ExchangeIKEFollowupKE
			}
			a, b, _, _, id := addKEStage(quiet{t}, x == wire.ExchangeIKEIntermediate)
			spi := mustSPI(t, a)
			raw, err := a.e.SealForTest(spi, x, id, false, wire.PayloadType(first), plain)
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

// TestAddKECorpus keeps the checked-in corpus of FuzzAddKEResponder in
// step with the seeds (rewritten when SECGW_WRITE_CORPUS is set).
func TestAddKECorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzAddKEResponder")
	seeds := addKESeeds(quiet{t})
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
