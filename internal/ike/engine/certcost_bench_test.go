package engine_test

import (
	"crypto/rand"
	"crypto/x509"
	"testing"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
	"secgw/internal/pkitest"
)

// The parts of a responder's per-SA cost under ECDSA P-256 certificates
// with a chain of 2 (the certificate and an intermediate under the
// trusted root, as make bench-ike-cert runs): parsing the CERT payloads,
// building and verifying the chain (x509.Certificate.Verify), signing our
// AUTH and verifying the peer's. `go test -bench CertCost` shows which
// one dominates; the verified-chain cache (certcache.go) removes the
// first two from every SA after the first of a chain.

func certCostChain(b *testing.B) (root, inter, leaf *pkitest.Cert) {
	root = pkitest.NewCA(b, "root", pkitest.P256)
	inter = root.Issue(b, "inter", pkitest.P256, pkitest.Options{CA: true})
	leaf = inter.Issue(b, "a", pkitest.P256, pkitest.Options{DNS: []string{"a.example"}})
	return
}

func BenchmarkCertCostParse(b *testing.B) {
	_, inter, leaf := certCostChain(b)
	for i := 0; i < b.N; i++ {
		for _, der := range [][]byte{leaf.Cert.Raw, inter.Cert.Raw} {
			if _, err := x509.ParseCertificate(der); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkCertCostChainVerify(b *testing.B) {
	root, inter, leaf := certCostChain(b)
	for i := 0; i < b.N; i++ {
		roots, inters := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(root.Cert)
		inters.AddCert(inter.Cert)
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCertCostSign(b *testing.B) {
	_, _, leaf := certCostChain(b)
	octets := make([]byte, 600)
	for i := 0; i < b.N; i++ {
		if _, _, err := ikecrypto.SignAuth(leaf.Key, []wire.HashAlgorithm{wire.HashSHA2_256}, octets, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCertCostVerifyAuth(b *testing.B) {
	_, _, leaf := certCostChain(b)
	octets := make([]byte, 600)
	m, sig, err := ikecrypto.SignAuth(leaf.Key, []wire.HashAlgorithm{wire.HashSHA2_256}, octets, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ikecrypto.VerifyAuth(leaf.Cert.PublicKey, m, sig, octets); err != nil {
			b.Fatal(err)
		}
	}
}
