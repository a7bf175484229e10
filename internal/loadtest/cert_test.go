package loadtest

import (
	"strings"
	"testing"
	"time"
)

// certRun is a PKI directory and the profile and responder options of a
// certificate run.
func certRun(tb testing.TB) (Profile, ResponderOptions) {
	tb.Helper()
	dir := tb.TempDir()
	if err := WritePKI(dir); err != nil {
		tb.Fatal(err)
	}
	p := testProfile()
	c, err := LoadCertAuth(dir, PKIClient)
	if err != nil {
		tb.Fatal(err)
	}
	p.Cert = c
	o := respOptions()
	o.Cert = dir
	return p, o
}

// TestInprocCertificates: the generator and the engine responder
// authenticate each other with ECDSA P-256 certificates, each verifying
// the other's chain of two to the root (bench-ike CERT=1); a generator
// that trusts another root refuses the responder.
func TestInprocCertificates(t *testing.T) {
	p, o := certRun(t)
	h := newInproc(t, o)
	for i := range 3 {
		if _, err := h.establish(t, &p, i); err != nil {
			t.Fatalf("tunnel %d: %v", i, err)
		}
	}
	if s := h.r.Stats(); s.IKEUp != 3 {
		t.Errorf("responder: %d IKE SAs up, want 3", s.IKEUp)
	}
	// The responder's chain is verified once, then remembered.
	if n := p.Cert.chains.verifies.Load(); n != 1 {
		t.Errorf("generator verified the responder's chain %d times for 3 tunnels, want 1", n)
	}
	// A peer without RFC 7427: both sides use the classic ECDSA method
	// 9 (RFC 4754), the engine to sign as to verify.
	p.Cert.Classic = true
	if _, err := h.establish(t, &p, 5); err != nil {
		t.Fatalf("classic methods: %v", err)
	}
	p.Cert.Classic = false
	other, _ := certRun(t)
	p.Cert.Root = other.Cert.Root
	if _, err := h.establish(t, &p, 9); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("another root: %v", err)
	}
	if n := p.Cert.chains.verifies.Load(); n != 2 {
		t.Errorf("another root: %d chain verifications in all, want 2 (a miss)", n)
	}
}

// BenchmarkSetupCert is one IKE_SA_INIT + IKE_AUTH with the first child
// SA against the engine, ECDSA P-256 certificates with chains of two
// verified on both sides (BenchmarkSetupPSK is the same with the PSK).
func BenchmarkSetupCert(b *testing.B) {
	p, o := certRun(b)
	benchSetup(b, p, o)
}

// BenchmarkSetupPSK is BenchmarkSetupCert with the pre-shared key.
func BenchmarkSetupPSK(b *testing.B) {
	benchSetup(b, testProfile(), respOptions())
}

func benchSetup(b *testing.B, p Profile, o ResponderOptions) {
	h := newInproc(b, o)
	b.ResetTimer()
	for i := range b.N {
		if _, err := h.establish(b, &p, i); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifiedChainsExpiry: past the chain's validity the cache misses
// and the verification fails as without it.
func TestVerifiedChainsExpiry(t *testing.T) {
	p, _ := certRun(t)
	ders := [][]byte{p.Cert.Chain[0].Raw, p.Cert.Chain[1].Raw}
	var v verifiedChains
	now := time.Now()
	for range 2 {
		if _, err := v.verify(ders, p.Cert.Root, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.verify(ders, p.Cert.Root, now.Add(400*24*time.Hour)); err == nil {
		t.Error("chain verified 400 days on, past its one-year validity")
	}
	if n := v.verifies.Load(); n != 2 {
		t.Errorf("%d Verify calls, want 2 (one, a hit, then the expired miss)", n)
	}
}
