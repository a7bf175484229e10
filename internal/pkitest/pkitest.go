// Package pkitest makes test PKIs with crypto/x509: CAs, intermediate CAs,
// end-entity certificates of every key type IKE authenticates with, CRLs,
// and their PEM files. Tests only; every certificate is fresh.
package pkitest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// KeyType is the key of a certificate: "rsa" (2048 bits), "p256",
// "p384", "p521" or "ed25519".
type KeyType string

// Key types.
const (
	RSA     KeyType = "rsa"
	P256    KeyType = "p256"
	P384    KeyType = "p384"
	P521    KeyType = "p521"
	Ed25519 KeyType = "ed25519"
)

// Cert is a certificate with its private key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Options are the names and validity of an issued certificate.
type Options struct {
	DNS    []string
	IPs    []net.IP
	Emails []string
	// NotBefore and NotAfter default to an hour ago and a day ahead.
	NotBefore, NotAfter time.Time
	// CA makes an intermediate CA.
	CA bool
	// CRL is a CRL distribution point URL.
	CRL string
}

var serial atomic.Int64

// NewKey makes a private key of type kt.
func NewKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kt {
	case RSA:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case P256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case P521:
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case Ed25519:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("pkitest: unknown key type %q", kt)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewCA makes a self-signed root CA "CN=name" with a key of type kt.
func NewCA(t testing.TB, name string, kt KeyType) *Cert {
	t.Helper()
	k := NewKey(t, kt)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"secgw test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: c, Key: k}
}

// Issue makes a certificate "CN=cn, O=secgw test" with a key of type kt,
// signed by ca.
func (ca *Cert) Issue(t testing.TB, cn string, kt KeyType, o Options) *Cert {
	t.Helper()
	k := NewKey(t, kt)
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(serial.Add(1)),
		Subject:        pkix.Name{CommonName: cn, Organization: []string{"secgw test"}},
		NotBefore:      o.NotBefore,
		NotAfter:       o.NotAfter,
		DNSNames:       o.DNS,
		IPAddresses:    o.IPs,
		EmailAddresses: o.Emails,
		KeyUsage:       x509.KeyUsageDigitalSignature,
	}
	if o.CA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if o.CRL != "" {
		tmpl.CRLDistributionPoints = []string{o.CRL}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, k.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: c, Key: k}
}

// CRL is a DER CRL of ca that revokes the given certificates.
func (ca *Cert) CRL(t testing.TB, revoked ...*Cert) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, r := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.Cert.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(serial.Add(1)), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// CertPEM is the certificate in PEM.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM is the private key in PKCS #8 PEM.
func (c *Cert) KeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// CRLPEM is a DER CRL in PEM.
func CRLPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// Write writes data to path with mode perm, failing the test on error.
func Write(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}
