package loadtest

import (
	"strings"
	"testing"
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
