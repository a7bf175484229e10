package config

import (
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"time"
)

// AuthMethod is local-auth-method / remote-auth-method: how one side of
// an IKE SA authenticates (RFC 7296 §2.15).
type AuthMethod uint8

// Authentication methods the engine acts on.
const (
	// AuthPSK is pre-shared-key (the default): AUTH method 2.
	AuthPSK AuthMethod = iota
	// AuthCert is certificate: an X.509 certificate in CERT payloads and
	// a signature AUTH (methods 1, 9, 10, 11, 14).
	AuthCert
	// AuthEAP is remote-auth-method eap-radius: the peer authenticates by
	// EAP relayed to the RADIUS servers (VPN.RemoteAAA, engine/eap.go).
	AuthEAP
)

// CertNames are a VPN's certificate and ca-certificate: the names of its
// local certificate and of the trust anchor of the peer's in Config.PKI.
type CertNames struct {
	Certificate, CACertificate string
}

// PKI is the certificate store the engine authenticates with: the local
// certificates with their private keys and the CAs, by the names VPNs use
// in certificate and ca-certificate. The daemon loads it (files under
// its data directory, the model's PEM) and sets it on the Config; the
// engine only reads it.
type PKI struct {
	// Certs are the local certificates, by name.
	Certs map[string]*Credential
	// CAs are the trust anchors, by name.
	CAs map[string]*CA
	// NearExpiry is how long before its end a certificate is logged as
	// near expiry (and shown so in the state).
	NearExpiry time.Duration
}

// Credential is a local certificate, its chain and its private key.
type Credential struct {
	Name string
	// Chain is the certificate first, then the intermediate CAs that
	// lead to the trust anchor, each sent in its own CERT payload (RFC
	// 7296 §3.6).
	Chain []*x509.Certificate
	// Key is the private key of Chain[0]. Never log it.
	Key crypto.Signer
}

// CA is a trust anchor: a CA certificate a VPN names in ca-certificate,
// with the revocation lists it issued.
type CA struct {
	Name string
	Cert *x509.Certificate
	// KeyHash is the SHA-1 hash of the CA's SubjectPublicKeyInfo, as a
	// CERTREQ names it (RFC 7296 §3.7).
	KeyHash [sha1.Size]byte
	// CRLs are the revocation lists of crl-file: this CA's (signature
	// checked at load) or an intermediate CA's below it (checked against
	// the issuer of a verified path).
	CRLs []*x509.RevocationList
	// Revocation answers whether a certificate of this CA's chains is
	// revoked beyond CRLs (a CRL fetched from a distribution point,
	// fetch-crl); nil: CRLs only.
	Revocation Revocation
}

// NewCA returns the trust anchor of cert with its CERTREQ hash.
func NewCA(name string, cert *x509.Certificate, crls []*x509.RevocationList) *CA {
	return &CA{Name: name, Cert: cert, KeyHash: sha1.Sum(cert.RawSubjectPublicKeyInfo), CRLs: crls}
}

// Revocation says whether a certificate is revoked by a source beyond the
// CA's own CRL list. Revoked is called on an engine worker: it must not
// block (a fetch it needs runs in the background, and meanwhile the
// status is unknown).
type Revocation interface {
	// Revoked reports whether cert, issued by issuer, is revoked, and
	// whether the status is known at all.
	Revoked(cert, issuer *x509.Certificate) (revoked, known bool)
}
