package loadtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

// Certificate runs (bench-ike CERT=1): both sides authenticate with ECDSA
// P-256 certificates issued by an intermediate CA of one root, and each
// verifies the other's chain of two (certificate and intermediate, sent
// in two CERT payloads) to the root.

// The files of a certificate run's directory (WritePKI): root.crt; for
// each side ("gw" the responders', "client" the generator's) NAME.crt
// (the certificate, then its intermediate), NAME.key (PKCS #8, 0600),
// and NAME-leaf.crt and NAME-inter.crt apart (charon's x509/ and x509ca/).
const (
	PKIRoot   = "root.crt"
	PKIGW     = "gw"
	PKIClient = "client"
)

// CertAuth is one side's certificate authentication: its chain, key and
// the root it verifies the other's chain against.
type CertAuth struct {
	Chain []*x509.Certificate
	Key   crypto.Signer
	Root  *x509.Certificate
	// rootHash is the root's CERTREQ hash (RFC 7296 §3.7).
	rootHash [sha1.Size]byte
	// chains are the responder chains verified (verify).
	chains verifiedChains
	// Classic plays a peer without RFC 7427: no SIGNATURE_HASH_ALGORITHMS
	// sent, and the classic ECDSA method (9, RFC 4754) whatever the
	// responder announced.
	Classic bool
}

// WritePKI makes the test PKI of a certificate run in dir.
func WritePKI(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	root, rootKey, err := issue("load root", nil, nil, true)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, PKIRoot), "CERTIFICATE", root.Raw, 0o644); err != nil {
		return err
	}
	for _, side := range []struct{ name, id string }{{PKIGW, "gw.load.test"}, {PKIClient, "client.load.test"}} {
		inter, interKey, err := issue(side.name+" intermediate", root, rootKey, true)
		if err != nil {
			return err
		}
		leaf, key, err := issue(side.id, inter, interKey, false)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}),
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.Raw})...)
		for _, f := range []struct {
			name string
			data []byte
			mode os.FileMode
		}{
			{side.name + ".crt", chain, 0o644},
			{side.name + ".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600},
			{side.name + "-leaf.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o644},
			{side.name + "-inter.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.Raw}), 0o644},
		} {
			if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
				return err
			}
		}
	}
	return nil
}

var pkiSerial = big.NewInt(time.Now().UnixNano())

// issue makes a P-256 certificate "CN=cn" signed by parent (self-signed
// when nil), valid for a year: beyond secgwd's default near-expiry-days
// (30), which would otherwise log a warning for every tunnel of a run,
// a cost that a gateway's ordinary certificates do not have.
func issue(cn string, parent *x509.Certificate, parentKey crypto.Signer, ca bool) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	pkiSerial.Add(pkiSerial, big.NewInt(1))
	tmpl := &x509.Certificate{SerialNumber: new(big.Int).Set(pkiSerial), Subject: pkix.Name{CommonName: cn, Organization: []string{"secgw load"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: ca, IsCA: ca}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.DNSNames = []string{cn}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

// LoadCertAuth reads the side ("gw" or "client") of the PKI in dir.
func LoadCertAuth(dir, side string) (*CertAuth, error) {
	chain, err := readCerts(filepath.Join(dir, side+".crt"))
	if err != nil {
		return nil, err
	}
	roots, err := readCerts(filepath.Join(dir, PKIRoot))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, side+".key"))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("loadtest: %s.key: no PEM", side)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %s.key: %v", side, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("loadtest: %s.key: not a signing key", side)
	}
	return &CertAuth{Chain: chain, Key: key, Root: roots[0], rootHash: sha1.Sum(roots[0].RawSubjectPublicKeyInfo)}, nil
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("loadtest: %s: %v", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("loadtest: %s: no certificate", path)
	}
	return out, nil
}

// PKI is the engine's certificate store of the responder side.
func (c *CertAuth) PKI() *config.PKI {
	return &config.PKI{
		Certs: map[string]*config.Credential{PKIGW: {Name: PKIGW, Chain: c.Chain, Key: c.Key}},
		CAs:   map[string]*config.CA{"root": config.NewCA("root", c.Root, nil)},
	}
}

// initPayloads is what the generator's IKE_SA_INIT request adds:
// SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4).
func (c *CertAuth) initPayloads() []wire.Payload {
	if c.Classic {
		return nil
	}
	return []wire.Payload{wire.SignatureHashAlgorithms(ikecrypto.OurHashAlgorithms...)}
}

// authPayloads are the generator's IKE_AUTH payloads before the child
// SA: IDi (the certificate's subject), CERT (certificate, intermediate),
// CERTREQ (the root: charon sends its certificates only when asked),
// AUTH.
func (c *CertAuth) authPayloads(t *tunnel, peerHashes []wire.HashAlgorithm) ([]wire.Payload, error) {
	idi := &wire.Identification{IDType: wire.IDDERASN1DN, Data: c.Chain[0].RawSubject}
	body, _ := idi.AppendBody(nil)
	if c.Classic {
		peerHashes = nil
	}
	m, data, err := ikecrypto.SignAuth(c.Key, peerHashes, t.signedOctets(t.keys.SKpi, t.initReq, t.nr, body), nil)
	if err != nil {
		return nil, err
	}
	ps := []wire.Payload{idi}
	for _, x := range c.Chain {
		ps = append(ps, &wire.Certificate{Encoding: wire.CertX509Signature, Data: x.Raw})
	}
	return append(ps, &wire.CertRequest{Encoding: wire.CertX509Signature, Authorities: c.rootHash[:]},
		&wire.Auth{Method: m, Data: data}), nil
}

// verify checks the responder's chain to the root (crypto/x509) and its
// AUTH signature over so. The chain is parsed and verified once per
// distinct chain and root (verifiedChains): the generator shares the
// CPUs with the responder it measures, and a responder sends the same
// chain to every tunnel; the AUTH signature is verified every time.
func (c *CertAuth) verify(ps []wire.Payload, auth *wire.Auth, so []byte) error {
	var ders [][]byte
	for _, p := range ps {
		if cp, ok := p.(*wire.Certificate); ok && cp.Encoding == wire.CertX509Signature && len(ders) < 6 {
			ders = append(ders, cp.Data)
		}
	}
	if len(ders) == 0 {
		return errors.New("no CERT from the responder")
	}
	pub, err := c.chains.verify(ders, c.Root, time.Now())
	if err != nil {
		return err
	}
	if c.Classic && auth.Method != wire.AuthECDSASHA256P256 {
		return fmt.Errorf("AUTH method %d to a peer without SIGNATURE_HASH_ALGORITHMS, want 9", auth.Method)
	}
	return ikecrypto.VerifyAuth(pub, auth.Method, auth.Data, so)
}

// verifiedChains remembers the chains a generator verified: by the
// SHA-256 of their certificates' DER and of the root, the leaf's public
// key, while every certificate of the verified path is valid.
type verifiedChains struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]verifiedChain
	// verifies counts the calls of x509.Certificate.Verify.
	verifies atomic.Uint64
}

type verifiedChain struct {
	pub                 crypto.PublicKey
	notBefore, notAfter time.Time
}

// maxVerifiedChains bounds the cache (a generator meets a few chains).
const maxVerifiedChains = 64

// verify returns the public key of ders[0] once the chain ders verifies
// to root at now.
func (v *verifiedChains) verify(ders [][]byte, root *x509.Certificate, now time.Time) (crypto.PublicKey, error) {
	h := sha256.New()
	for _, d := range append(ders, root.Raw) {
		s := sha256.Sum256(d)
		h.Write(s[:])
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	v.mu.Lock()
	e, ok := v.m[key]
	v.mu.Unlock()
	if ok && !now.Before(e.notBefore) && !now.After(e.notAfter) {
		return e.pub, nil
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for _, d := range ders {
		x, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, err
		}
		certs = append(certs, x)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, x := range certs[1:] {
		inter.AddCert(x)
	}
	v.verifies.Add(1)
	paths, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, err
	}
	e = verifiedChain{pub: certs[0].PublicKey, notBefore: certs[0].NotBefore, notAfter: certs[0].NotAfter}
	for _, x := range paths[0] {
		if x.NotBefore.After(e.notBefore) {
			e.notBefore = x.NotBefore
		}
		if x.NotAfter.Before(e.notAfter) {
			e.notAfter = x.NotAfter
		}
	}
	v.mu.Lock()
	if v.m == nil {
		v.m = map[[sha256.Size]byte]verifiedChain{}
	}
	if len(v.m) >= maxVerifiedChains {
		for k := range v.m {
			delete(v.m, k)
			break
		}
	}
	v.m[key] = e
	v.mu.Unlock()
	return e.pub, nil
}
