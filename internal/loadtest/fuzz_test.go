package loadtest

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"secgw/internal/golden"
	"secgw/internal/ike/wire"
)

// TestWriteFuzzCorpus writes, with -update, an IKE_SA_INIT
// response, a COOKIE challenge and an IKE_AUTH response of the engine to
// testdata/fuzz/FuzzTunnelResponse.
func TestWriteFuzzCorpus(t *testing.T) {
	if !golden.Update() {
		return
	}
	o := respOptions()
	o.CookieThreshold = 1
	h := newInproc(t, o)
	p := testProfile()
	// A half-open SA, so that the next initiator is challenged.
	first, _ := newTunnel(&p, 9, genAddr, respAddr, rand.Reader)
	req, _ := first.initRequest(&p)
	init := h.roundTrip(t, genAddr, req)
	tn, _ := newTunnel(&p, 0, genAddr, respAddr, rand.Reader)
	req, _ = tn.initRequest(&p)
	cookie := h.roundTrip(t, genAddr, req)
	m, _ := wire.Parse(cookie)
	req, _, _ = tn.handleInitResponse(&p, m)
	m, _ = wire.Parse(h.roundTrip(t, genAddr, req))
	req, _, err := tn.handleInitResponse(&p, m)
	if err != nil {
		t.Fatal(err)
	}
	auth := h.roundTrip(t, genAddr, req)
	dir := filepath.Join("testdata", "fuzz", "FuzzTunnelResponse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"ike-sa-init": init, "cookie": cookie, "ike-auth": auth} {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzTunnelResponse feeds arbitrary datagrams, as the responder could
// send them, to a tunnel waiting for its IKE_SA_INIT response and to one
// waiting for its IKE_AUTH response: nothing may panic, and garbage must
// not establish a tunnel. The checked-in corpus holds real responses of
// the engine (testdata/fuzz/FuzzTunnelResponse).
func FuzzTunnelResponse(f *testing.F) {
	h := newInproc(f, respOptions())
	p := testProfile()
	// A tunnel that completed IKE_SA_INIT, to try IKE_AUTH responses on.
	auth, err := newTunnel(&p, 1, genAddr, respAddr, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	req, _ := auth.initRequest(&p)
	resp := h.roundTrip(f, genAddr, req)
	m, err := wire.Parse(resp)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(resp)
	if _, _, err := auth.handleInitResponse(&p, m); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := wire.Parse(data)
		if err != nil {
			return
		}
		init, err := newTunnel(&p, 0, genAddr, respAddr, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		init.initRequest(&p)
		init.handleInitResponse(&p, m)
		// Each input starts from the same state.
		a := &tunnel{spii: auth.spii, spir: auth.spir, in: auth.in, out: auth.out, prf: auth.prf,
			keys: auth.keys, initResp: auth.initResp, ni: auth.ni}
		if err := a.handleAuthResponse(&p, m); err == nil {
			t.Fatalf("an unauthenticated message established the tunnel: %x", data)
		}
	})
}

// FuzzParseProcStats: any /proc contents parse or fail cleanly.
func FuzzParseProcStats(f *testing.F) {
	f.Add([]byte(sampleStat), []byte(sampleStatus))
	f.Fuzz(func(t *testing.T, stat, status []byte) {
		ps, err := parseProcStats(stat, status)
		if err == nil && (ps.CPU < 0 || ps.RSS < 0) {
			t.Fatalf("negative stats %+v", ps)
		}
	})
}

// FuzzParseAddrs: any address list parses within the bound or fails.
func FuzzParseAddrs(f *testing.F) {
	for _, s := range []string{"10.98.1.1-10.98.1.250", "10.98.1.0/24,fd00::1", "fd00::/120"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		as, err := ParseAddrs(spec)
		if err == nil && (len(as) == 0 || len(as) > maxAddrs) {
			t.Fatalf("%q: %d addresses", spec, len(as))
		}
		for _, a := range as {
			if !a.IsValid() {
				t.Fatalf("%q: invalid address", spec)
			}
		}
	})
}
