package engine

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"secgw/internal/ike/config"
	"secgw/internal/pkitest"
)

// certCacheChain is a chain of 2 under a root: the DER of a leaf and its
// intermediate, and the root's trust anchor.
func certCacheChain(t *testing.T) (ders [][]byte, root, leaf *pkitest.Cert, ca *config.CA) {
	root = pkitest.NewCA(t, "root", pkitest.P256)
	inter := root.Issue(t, "inter", pkitest.P256, pkitest.Options{CA: true})
	leaf = inter.Issue(t, "a", pkitest.P256, pkitest.Options{DNS: []string{"a.example"}})
	return [][]byte{leaf.Cert.Raw, inter.Cert.Raw}, root, leaf, config.NewCA("ca", root.Cert, nil)
}

// TestCertCacheHitSkipsVerify: the second verification of the same chain
// against the same anchor neither parses nor calls Verify, and gives the
// same path.
func TestCertCacheHitSkipsVerify(t *testing.T) {
	ders, _, _, ca := certCacheChain(t)
	var c certCache
	now := time.Now()
	chain1, k1, err := c.parse(ders)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := c.verify(k1, ca, chain1, now)
	if err != nil {
		t.Fatal(err)
	}
	chain2, k2, err := c.parse(ders)
	if err != nil || k2 != k1 || chain2[0] != chain1[0] {
		t.Fatalf("second parse: %v, same key %v, same certificate %v", err, k2 == k1, chain2[0] == chain1[0])
	}
	p2, err := c.verify(k2, ca, chain2, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n := c.verifies.Load(); n != 1 {
		t.Errorf("Verify called %d times, want 1 (the second a hit)", n)
	}
	if len(p1) != 3 || len(p2) != 3 || p2[2] != ca.Cert {
		t.Errorf("paths of %d and %d certificates, want 3 ending at the anchor", len(p1), len(p2))
	}
}

// TestCertCacheMisses: an expired chain, another CA object (a commit),
// another anchor and another chain all go through Verify again; the
// expired one fails there as it would without the cache.
func TestCertCacheMisses(t *testing.T) {
	ders, root, _, ca := certCacheChain(t)
	var c certCache
	now := time.Now()
	chain, k, err := c.parse(ders)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.verify(k, ca, chain, now); err != nil {
		t.Fatal(err)
	}
	// Past the leaf's NotAfter (a day ahead): a miss, and Verify refuses.
	if _, err := c.verify(k, ca, chain, now.Add(48*time.Hour)); err == nil {
		t.Error("chain verified two days on, past its NotAfter")
	}
	if n := c.verifies.Load(); n != 2 {
		t.Errorf("expired: Verify called %d times, want 2", n)
	}
	// The same root loaded again by a commit: another CA object misses.
	ca2 := config.NewCA("ca", root.Cert, nil)
	if _, err := c.verify(k, ca2, chain, now); err != nil {
		t.Fatal(err)
	}
	if n := c.verifies.Load(); n != 3 {
		t.Errorf("new CA object: Verify called %d times, want 3", n)
	}
	// Another anchor: a miss that fails.
	other := config.NewCA("other", pkitest.NewCA(t, "other", pkitest.P256).Cert, nil)
	if _, err := c.verify(k, other, chain, now); err == nil {
		t.Error("chain verified against an unrelated anchor")
	}
	if n := c.verifies.Load(); n != 4 {
		t.Errorf("other anchor: Verify called %d times, want 4", n)
	}
	// A chain without its intermediate is another key, and fails.
	short, ks, err := c.parse(ders[:1])
	if err != nil || ks == k {
		t.Fatalf("parse of the leaf alone: %v, same key %v", err, ks == k)
	}
	if _, err := c.verify(ks, ca2, short, now); err == nil {
		t.Error("leaf without its intermediate verified")
	}
}

// TestCertCacheRevokedOnHit: revocation is checked on the cached path of
// every SA: a certificate revoked after its chain was cached is refused.
func TestCertCacheRevokedOnHit(t *testing.T) {
	ders, _, leaf, ca := certCacheChain(t)
	var c certCache
	chain, k, err := c.parse(ders)
	if err != nil {
		t.Fatal(err)
	}
	path, err := c.verify(k, ca, chain, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := revoked(ca, path); err != nil {
		t.Fatal(err)
	}
	ca.Revocation = revokeAll{leaf.Cert}
	path, err = c.verify(k, ca, chain, time.Now())
	if err != nil || c.verifies.Load() != 1 {
		t.Fatalf("hit: %v, %d Verify calls", err, c.verifies.Load())
	}
	if err := revoked(ca, path); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked certificate on a cached path: %v", err)
	}
}

// TestCertCacheBounded: the maps hold at most certCacheSize entries.
func TestCertCacheBounded(t *testing.T) {
	var c certCache
	ders, _, _, _ := certCacheChain(t)
	for i := 0; i < certCacheSize+10; i++ {
		d := append([]byte(nil), ders[0]...)
		d = append(d, byte(i), byte(i>>8)) // trailing data: a parse error, never cached
		if _, _, err := c.parse([][]byte{d}); err == nil {
			t.Fatal("certificate with trailing data parsed")
		}
	}
	if len(c.parsed) != 0 {
		t.Errorf("%d failed parses cached", len(c.parsed))
	}
	c.parsed = map[[32]byte][]*x509.Certificate{}
	for i := 0; i < certCacheSize+10; i++ {
		k := [32]byte{byte(i), byte(i >> 8)}
		evictOne(c.parsed)
		c.parsed[k] = nil
	}
	if len(c.parsed) != certCacheSize {
		t.Errorf("%d entries, want %d", len(c.parsed), certCacheSize)
	}
}

// revokeAll is a Revocation (a distribution point's CRL) that revokes
// the given certificates.
type revokeAll []*x509.Certificate

func (r revokeAll) Revoked(c, _ *x509.Certificate) (bool, bool) {
	for _, x := range r {
		if x.Equal(c) {
			return true, true
		}
	}
	return false, true
}
