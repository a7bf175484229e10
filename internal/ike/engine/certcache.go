package engine

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"secgw/internal/ike/config"
)

// The verified-chain cache. Parsing the peer's CERT payloads and building
// and verifying its chain to the trust anchor (x509.Certificate.Verify:
// one signature check per link) cost more than the AUTH signature itself
// (certcost_bench_test.go: 13 + 158 µs against 77 µs under ECDSA P-256
// with a chain of 2), and a gateway sees the same chains again and again:
// every SA of a peer, every rekey of its IKE SA. As strongSwan keeps the
// certificates it verified, the engine remembers, by the SHA-256 of the
// DER of each certificate received, the parsed chain and, per trust
// anchor, the path Verify built, valid while every certificate of the
// path is. What depends on the moment or on the configuration is checked
// on every SA, hit or not: the validity period of each certificate
// received (ErrCertExpired), revocation (CRL files and distribution
// points: a CRL that changes takes effect at once), the identity and the
// AUTH signature. A hit requires the very CA object of the configuration
// in use: a commit that loads another ca-certificate misses.

// certCacheSize bounds each map of the cache; past it, an entry picked by
// Go's random map order is dropped (a peer sending many distinct chains
// only makes itself miss).
const certCacheSize = 4096

// certCache is an engine's parsed and verified chains.
type certCache struct {
	mu sync.Mutex
	// parsed are decoded CERT payload lists, by chainKey.
	parsed map[[sha256.Size]byte][]*x509.Certificate
	// verified are the paths Verify built, by pathKey.
	verified map[[sha256.Size]byte]*verifiedPath
	// verifies counts the calls of x509.Certificate.Verify (tests and
	// benchmarks observe the hits by it).
	verifies atomic.Uint64
}

// verifiedPath is a chain that Verify accepted against ca.
type verifiedPath struct {
	ca   *config.CA
	path []*x509.Certificate
	// notBefore and notAfter bound the moment the path is valid: the
	// latest NotBefore and the earliest NotAfter of its certificates,
	// anchor included.
	notBefore, notAfter time.Time
}

// chainKey is the SHA-256 over the SHA-256 of each certificate's DER, in
// the order received.
func chainKey(ders [][]byte) [sha256.Size]byte {
	h := sha256.New()
	for _, d := range ders {
		s := sha256.Sum256(d)
		h.Write(s[:])
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// pathKey binds a chain key to a trust anchor's certificate.
func pathKey(chain [sha256.Size]byte, ca *config.CA) [sha256.Size]byte {
	a := sha256.Sum256(ca.Cert.Raw)
	return sha256.Sum256(append(chain[:], a[:]...))
}

// evictOne drops one entry of m when it is full.
func evictOne[V any](m map[[sha256.Size]byte]V) {
	if len(m) < certCacheSize {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}

// parse returns the certificates of ders (leaf first), parsed once per
// distinct list.
func (c *certCache) parse(ders [][]byte) ([]*x509.Certificate, [sha256.Size]byte, error) {
	key := chainKey(ders)
	c.mu.Lock()
	chain, ok := c.parsed[key]
	c.mu.Unlock()
	if ok {
		return chain, key, nil
	}
	chain = make([]*x509.Certificate, 0, len(ders))
	for i, d := range ders {
		x, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, key, fmt.Errorf("malformed certificate in CERT payload %d: %v", i+1, err)
		}
		chain = append(chain, x)
	}
	c.mu.Lock()
	if c.parsed == nil {
		c.parsed = map[[sha256.Size]byte][]*x509.Certificate{}
	}
	evictOne(c.parsed)
	c.parsed[key] = chain
	c.mu.Unlock()
	return chain, key, nil
}

// verify returns the shortest path from chain[0] to ca that
// x509.Certificate.Verify builds at now with chain[1:] as intermediates,
// from the cache when the same chain was verified against the same ca
// and every certificate of the path is still valid at now.
func (c *certCache) verify(key [sha256.Size]byte, ca *config.CA, chain []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	pk := pathKey(key, ca)
	c.mu.Lock()
	v, ok := c.verified[pk]
	if ok && (v.ca != ca || now.Before(v.notBefore) || now.After(v.notAfter)) {
		delete(c.verified, pk)
		ok = false
	}
	c.mu.Unlock()
	if ok {
		return v.path, nil
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	inter := x509.NewCertPool()
	for _, x := range chain[1:] {
		inter.AddCert(x)
	}
	c.verifies.Add(1)
	paths, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, err
	}
	v = &verifiedPath{ca: ca, path: shortest(paths)}
	for i, x := range v.path {
		if i == 0 || x.NotBefore.After(v.notBefore) {
			v.notBefore = x.NotBefore
		}
		if i == 0 || x.NotAfter.Before(v.notAfter) {
			v.notAfter = x.NotAfter
		}
	}
	c.mu.Lock()
	if c.verified == nil {
		c.verified = map[[sha256.Size]byte]*verifiedPath{}
	}
	evictOne(c.verified)
	c.verified[pk] = v
	c.mu.Unlock()
	return v.path, nil
}
