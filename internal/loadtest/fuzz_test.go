package loadtest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"secgw/internal/golden"
	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
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

// intermediateTunnel returns a hybrid tunnel (x25519 + ML-KEM-768) that
// completed IKE_SA_INIT with h and waits for its IKE_INTERMEDIATE
// response, and that response.
func intermediateTunnel(tb testing.TB, h *inproc, p *Profile) (*tunnel, []byte) {
	tb.Helper()
	tn, err := newTunnel(p, 1, genAddr, respAddr, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	req, _ := tn.initRequest(p)
	m, err := wire.Parse(h.roundTrip(tb, genAddr, req))
	if err != nil {
		tb.Fatal(err)
	}
	if req, _, err = tn.handleInitResponse(p, m); err != nil {
		tb.Fatal(err)
	}
	return tn, h.roundTrip(tb, genAddr, req)
}

// TestWriteIntermediateCorpus writes, with -update, an IKE_INTERMEDIATE
// response of the engine carrying an ML-KEM-768 ciphertext to
// testdata/fuzz/FuzzIntermediateResponse.
func TestWriteIntermediateCorpus(t *testing.T) {
	if !golden.Update() {
		return
	}
	o, p := hybridSetup(t, ipsec.GroupCurve25519, ipsec.GroupMLKEM768)
	_, resp := intermediateTunnel(t, newInproc(t, o), &p)
	dir := filepath.Join("testdata", "fuzz", "FuzzIntermediateResponse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", resp)
	if err := os.WriteFile(filepath.Join(dir, "ike-intermediate-mlkem768"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzIntermediateResponse feeds arbitrary datagrams to a hybrid tunnel
// waiting for its IKE_INTERMEDIATE response (RFC 9242, RFC 9370): nothing
// may panic, and only the responder's genuine response (the seed added
// here) may advance the tunnel to IKE_AUTH. The checked-in corpus holds a
// real response of the engine (testdata/fuzz/FuzzIntermediateResponse),
// which does not authenticate under this run's keys.
func FuzzIntermediateResponse(f *testing.F) {
	o, p := hybridSetup(f, ipsec.GroupCurve25519, ipsec.GroupMLKEM768)
	tn, genuine := intermediateTunnel(f, newInproc(f, o), &p)
	f.Add(genuine)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := wire.Parse(data)
		if err != nil {
			return
		}
		// Each input starts from the same state: the keys are copied, as
		// a successful exchange clears them.
		k := *tn.keys
		for _, b := range []*[]byte{&k.SKd, &k.SKai, &k.SKar, &k.SKei, &k.SKer, &k.SKpi, &k.SKpr} {
			*b = bytes.Clone(*b)
		}
		a := &tunnel{idx: tn.idx, spii: tn.spii, spir: tn.spir, in: tn.in, out: tn.out, prf: tn.prf, keys: &k,
			ni: tn.ni, nr: tn.nr, initReq: tn.initReq, initResp: tn.initResp, childSPI: tn.childSPI,
			mid: tn.mid, ke: tn.ke, interPlain: tn.interPlain, interFirst: tn.interFirst}
		next, auth, err := a.handleIntermediateResponse(&p, m)
		if err == nil && (!bytes.Equal(data, genuine) || !auth || next == nil) {
			t.Fatalf("an unauthenticated message advanced the tunnel to IKE_AUTH: %x", data)
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
