package engine

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

// Certificate authentication (RFC 7296 §2.15, §3.6, §3.7; RFC 7427): the
// AUTH payload is a signature with the private key of the signer's
// certificate, which CERT payloads carry with its chain; the verifier
// builds the chain to the VPN's ca-certificate with crypto/x509, checks
// revocation and validity, and that the ID payload is one the certificate
// names.

// Bounds on what a peer may make us parse and verify.
const (
	// maxCertPayloads is the most CERT payloads of one IKE_AUTH message
	// we look at: the certificate and its intermediates. More is refused.
	maxCertPayloads = 6
	// maxChainLen is the longest chain accepted, anchor included.
	maxChainLen = 6
)

// ErrCertExpired is the reason of a failure because the peer's
// certificate (or one of its chain) is past its validity: counted apart
// (certificate-expired) from other authentication failures.
var ErrCertExpired = errors.New("certificate expired")

// certHandshake is the certificate state of an IKE SA in IKE_SA_INIT and
// IKE_AUTH.
type certHandshake struct {
	// peerHashes are the peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427
	// §4); nil when it sent none (classic methods only).
	peerHashes []wire.HashAlgorithm
	// peerCAs are the CA key hashes of the peer's CERTREQ payloads
	// (RFC 7296 §3.7).
	peerCAs [][]byte
	// chain is the peer's CERT payloads decoded (leaf first), kept
	// while the responder tries its candidate VPNs; chainErr why they
	// do not decode.
	chain    []*x509.Certificate
	chainKey [sha256.Size]byte
	chainErr error
	parsed   bool
	// why is the last reason a certificate did not authenticate the
	// peer, for the log and the failure counters.
	why error
	// checked memoizes the outcome of the checks against one trust
	// anchor (chain, revocation, validity, identity, signature: all the
	// same whatever VPN names the anchor), so that a responder trying
	// many candidate VPNs verifies each anchor once.
	checked map[*config.CA]error
}

// usesCerts reports whether v authenticates either side by certificate.
func usesCerts(v *config.VPN) bool {
	return v.LocalAuth == config.AuthCert || v.RemoteAuth == config.AuthCert
}

// certInitPayloads are what IKE_SA_INIT carries for certificates when one
// of vpns uses them: SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4) and, from
// the responder, a CERTREQ naming the CAs it trusts (RFC 7296 §1.2:
// "[CERTREQ]" in the IKE_SA_INIT response).
func (sa *ikeSA) certInitPayloads(responder bool, vpns ...*config.VPN) []wire.Payload {
	if !slices.ContainsFunc(vpns, usesCerts) {
		return nil
	}
	ps := []wire.Payload{wire.SignatureHashAlgorithms(ikecrypto.OurHashAlgorithms...)}
	if responder {
		ps = append(ps, sa.certReq(vpns...)...)
	}
	return ps
}

// certReq is the CERTREQ for the CAs of the VPNs that verify the peer by
// certificate, or nothing (RFC 7296 §3.7: the SHA-1 hashes of the CAs'
// SubjectPublicKeyInfo, concatenated).
func (sa *ikeSA) certReq(vpns ...*config.VPN) []wire.Payload {
	pki := sa.w.e.config().PKI
	if pki == nil {
		return nil
	}
	var hashes []byte
	seen := map[[20]byte]bool{}
	for _, v := range vpns {
		if v.RemoteAuth != config.AuthCert || v.Certs == nil {
			continue
		}
		if ca := pki.CAs[v.Certs.CACertificate]; ca != nil && !seen[ca.KeyHash] {
			seen[ca.KeyHash] = true
			hashes = append(hashes, ca.KeyHash[:]...)
			sa.log().Debug("sending cert request", "ca", config.DNString(ca.Cert.RawSubject))
		}
	}
	if hashes == nil {
		return nil
	}
	return []wire.Payload{&wire.CertRequest{Encoding: wire.CertX509Signature, Authorities: hashes}}
}

// certReceived records the peer's SIGNATURE_HASH_ALGORITHMS and CERTREQ
// payloads of an IKE_SA_INIT or IKE_AUTH message.
func (sa *ikeSA) certReceived(ps []wire.Payload) {
	if sa.handshake == nil {
		return
	}
	if n := wire.FindNotify(ps, wire.NotifySignatureHashAlgorithms); n != nil {
		if algs, ok := n.HashAlgorithms(); ok {
			sa.cert.peerHashes = algs
		}
	}
	for _, p := range ps {
		cr, ok := p.(*wire.CertRequest)
		if !ok || cr.Encoding != wire.CertX509Signature {
			continue
		}
		if hs, ok := cr.Hashes(); ok && len(sa.cert.peerCAs)+len(hs) <= 64 {
			sa.cert.peerCAs = append(sa.cert.peerCAs, hs...)
			for _, h := range hs {
				sa.log().Debug("received cert request", "ca-hash", fmt.Sprintf("%x", h))
			}
		}
	}
}

// credential returns v's local certificate, or an error saying what is
// missing.
func (sa *ikeSA) credential(v *config.VPN) (*config.Credential, error) {
	pki := sa.w.e.config().PKI
	if v.Certs == nil || v.Certs.Certificate == "" {
		return nil, fmt.Errorf("vpn %s: local-auth-method certificate without certificate", v.Name)
	}
	if pki == nil || pki.Certs[v.Certs.Certificate] == nil || pki.Certs[v.Certs.Certificate].Key == nil {
		return nil, fmt.Errorf("vpn %s: certificate %q is not loaded (or has no private key)", v.Name, v.Certs.Certificate)
	}
	return pki.Certs[v.Certs.Certificate], nil
}

// certIdentity is the identity we send under certificates when local-id
// is not set: the certificate's subject (ID_DER_ASN1_DN), as strongSwan
// does; false when v does not authenticate by certificate.
func (sa *ikeSA) certIdentity(v *config.VPN) (config.Identity, bool) {
	if v.LocalAuth != config.AuthCert {
		return config.Identity{}, false
	}
	c, err := sa.credential(v)
	if err != nil {
		return config.Identity{}, false
	}
	return config.Identity{Type: wire.IDDERASN1DN, Data: c.Chain[0].RawSubject}, true
}

// localAuth is our AUTH payload over the signed octets, preceded by the
// CERT payloads of our chain under certificates: the method v's
// local-auth-method says (RFC 7296 §2.15).
func (sa *ikeSA) localAuth(v *config.VPN, octets []byte) ([]wire.Payload, error) {
	if v.LocalAuth != config.AuthCert {
		return []wire.Payload{&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: ikecrypto.AuthPSK(sa.prf(), v.PSK, octets)}}, nil
	}
	c, err := sa.credential(v)
	if err != nil {
		return nil, err
	}
	m, data, err := ikecrypto.SignAuth(c.Key, sa.cert.peerHashes, octets, sa.w.e.o.Rand)
	if err != nil {
		return nil, fmt.Errorf("vpn %s: %w", v.Name, err)
	}
	ps := make([]wire.Payload, 0, len(c.Chain)+1)
	for _, x := range c.Chain {
		ps = append(ps, &wire.Certificate{Encoding: wire.CertX509Signature, Data: x.Raw})
	}
	sa.log().Info("authentication of myself with a certificate", "subject", config.DNString(c.Chain[0].RawSubject), "method", int(m))
	return append(ps, &wire.Auth{Method: m, Data: data}), nil
}

// verifyPeerAuth checks the peer's AUTH over the signed octets (RFC 7296
// §2.15) with the method v's remote-auth-method says: the PSK's MIC, or
// the signature of a certificate that chains to v's ca-certificate and
// names id.
func (sa *ikeSA) verifyPeerAuth(v *config.VPN, ps []wire.Payload, id *wire.Identification, auth *wire.Auth, octets []byte) error {
	if v.RemoteAuth != config.AuthCert {
		if auth.Method != wire.AuthSharedKeyMIC || len(v.PSK) == 0 || !ikecrypto.VerifyAuthPSK(sa.prf(), v.PSK, octets, auth.Data) {
			return errors.New("peer AUTH does not verify")
		}
		return nil
	}
	pki := sa.w.e.config().PKI
	var ca *config.CA
	if pki != nil && v.Certs != nil {
		ca = pki.CAs[v.Certs.CACertificate]
	}
	if ca != nil {
		if err, ok := sa.cert.checked[ca]; ok {
			return err
		}
	}
	err := sa.verifyCert(v, ps, id, auth, octets)
	if ca != nil {
		if sa.cert.checked == nil {
			sa.cert.checked = map[*config.CA]error{}
		}
		sa.cert.checked[ca] = err
	}
	return err
}

// verifyCert is verifyPeerAuth's certificate check, once per anchor.
func (sa *ikeSA) verifyCert(v *config.VPN, ps []wire.Payload, id *wire.Identification, auth *wire.Auth, octets []byte) error {
	leaf, err := sa.peerCertificate(v, ps, id)
	if err != nil {
		return err
	}
	if err := ikecrypto.VerifyAuth(leaf.PublicKey, auth.Method, auth.Data, octets); err != nil {
		return err
	}
	sa.log().Info("authentication of peer with a certificate successful", "subject", config.DNString(leaf.RawSubject),
		"issuer", config.DNString(leaf.RawIssuer), "method", int(auth.Method))
	return nil
}

// peerCertificate decodes the peer's CERT payloads once per IKE SA and
// checks them against v: the chain to v's trust anchor, revocation,
// validity, and the identity.
func (sa *ikeSA) peerCertificate(v *config.VPN, ps []wire.Payload, id *wire.Identification) (*x509.Certificate, error) {
	if !sa.cert.parsed {
		sa.cert.parsed = true
		sa.cert.chain, sa.cert.chainKey, sa.cert.chainErr = sa.w.e.decodeCerts(ps)
	}
	if sa.cert.chainErr != nil {
		return nil, sa.cert.chainErr
	}
	pki := sa.w.e.config().PKI
	var ca *config.CA
	if pki != nil && v.Certs != nil {
		ca = pki.CAs[v.Certs.CACertificate]
	}
	if ca == nil {
		return nil, fmt.Errorf("vpn %s: no ca-certificate loaded to verify the peer", v.Name)
	}
	chain := sa.cert.chain
	leaf := chain[0]
	now := time.Now()
	for _, c := range chain {
		if now.After(c.NotAfter) {
			return nil, fmt.Errorf("%w: %q ended %s", ErrCertExpired, config.DNString(c.RawSubject), c.NotAfter.UTC().Format(time.RFC3339))
		}
		if now.Before(c.NotBefore) {
			return nil, fmt.Errorf("certificate %q not valid before %s", config.DNString(c.RawSubject), c.NotBefore.UTC().Format(time.RFC3339))
		}
	}
	path, err := sa.w.e.certs.verify(sa.cert.chainKey, ca, chain, now)
	if err != nil {
		var ua x509.UnknownAuthorityError
		if errors.As(err, &ua) {
			return nil, fmt.Errorf("certificate %q does not chain to ca-certificate %s (%q)", config.DNString(leaf.RawSubject), ca.Name, config.DNString(ca.Cert.RawSubject))
		}
		return nil, fmt.Errorf("certificate %q: %v", config.DNString(leaf.RawSubject), err)
	}
	if len(path) > maxChainLen {
		return nil, fmt.Errorf("certificate %q: chain of %d certificates, at most %d", config.DNString(leaf.RawSubject), len(path), maxChainLen)
	}
	if err := revoked(ca, path); err != nil {
		return nil, err
	}
	if !certNames(leaf, id) {
		return nil, fmt.Errorf("identity %s is not in certificate %q", config.Identity{Type: id.IDType, Data: id.Data}, config.DNString(leaf.RawSubject))
	}
	if pki.NearExpiry > 0 && leaf.NotAfter.Sub(now) < pki.NearExpiry {
		sa.log().Warn("peer certificate near expiry", "subject", config.DNString(leaf.RawSubject), "not-after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return leaf, nil
}

// decodeCerts decodes the X.509 CERT payloads of a message, leaf first
// (RFC 7296 §3.6: "the first certificate provided MUST contain the public
// key used to verify the AUTH field"), through the engine's cache of
// parsed chains (certcache.go); the key is that of the chain's DER.
func (e *Engine) decodeCerts(ps []wire.Payload) ([]*x509.Certificate, [sha256.Size]byte, error) {
	var ders [][]byte
	for _, p := range ps {
		c, ok := p.(*wire.Certificate)
		if !ok {
			continue
		}
		if c.Encoding != wire.CertX509Signature {
			return nil, [sha256.Size]byte{}, fmt.Errorf("CERT encoding %d is not supported (only X.509 signature, 4)", c.Encoding)
		}
		if len(ders) == maxCertPayloads {
			return nil, [sha256.Size]byte{}, fmt.Errorf("more than %d CERT payloads", maxCertPayloads)
		}
		ders = append(ders, c.Data)
	}
	if len(ders) == 0 {
		return nil, [sha256.Size]byte{}, errors.New("no certificate (CERT payload) from the peer")
	}
	return e.certs.parse(ders)
}

func shortest(paths [][]*x509.Certificate) []*x509.Certificate {
	best := paths[0]
	for _, p := range paths[1:] {
		if len(p) < len(best) {
			best = p
		}
	}
	return best
}

// revoked checks every certificate of path but the anchor: against the
// CRLs of the anchor's crl-file list that its issuer signed (the
// anchor's, or an intermediate CA's of the verified path), and against
// the anchor's Revocation (distribution points, fetch-crl). An unknown status passes, as with
// strongSwan's default: only a certificate known to be revoked fails.
func revoked(ca *config.CA, path []*x509.Certificate) error {
	for i := 0; i+1 < len(path); i++ {
		c, issuer := path[i], path[i+1]
		for _, crl := range ca.CRLs {
			if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
				continue
			}
			if !bytes.Equal(issuer.Raw, ca.Cert.Raw) && crl.CheckSignatureFrom(issuer) != nil {
				continue // the anchor's own CRLs were checked at load
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(c.SerialNumber) == 0 {
					return fmt.Errorf("certificate %q (serial %s) is revoked by the CRL of %s", config.DNString(c.RawSubject), c.SerialNumber, ca.Name)
				}
			}
		}
		if ca.Revocation != nil {
			if r, known := ca.Revocation.Revoked(c, issuer); known && r {
				return fmt.Errorf("certificate %q (serial %s) is revoked by its distribution point's CRL", config.DNString(c.RawSubject), c.SerialNumber)
			}
		}
	}
	return nil
}

// certNames reports whether the certificate names the identity of an ID
// payload: the subject for ID_DER_ASN1_DN, a subjectAltName for the others
// (RFC 7296 §3.5 and RFC 4945 §3.1 leave the binding to policy; this is
// the usual one).
func certNames(c *x509.Certificate, id *wire.Identification) bool {
	switch id.IDType {
	case wire.IDDERASN1DN:
		return bytes.Equal(c.RawSubject, id.Data) || config.DNEqual(c.RawSubject, id.Data)
	case wire.IDFQDN:
		return slices.ContainsFunc(c.DNSNames, func(n string) bool { return strings.EqualFold(n, string(id.Data)) })
	case wire.IDRFC822Addr:
		return slices.ContainsFunc(c.EmailAddresses, func(n string) bool { return strings.EqualFold(n, string(id.Data)) })
	case wire.IDIPv4Addr, wire.IDIPv6Addr:
		a, ok := netip.AddrFromSlice(id.Data)
		return ok && slices.ContainsFunc(c.IPAddresses, func(ip net.IP) bool {
			b, ok := netip.AddrFromSlice(ip)
			return ok && b.Unmap() == a.Unmap()
		})
	}
	return false
}
