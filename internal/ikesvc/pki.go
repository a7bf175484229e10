package ikesvc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
)

// The certificate store (secgw-ike-pki.yang): the files the pki container
// names are read from Options.PKIDir at each commit that has a pki
// container, checked (chains, key pairs, CRL signatures, key file modes),
// and handed to the engine as config.PKI. Errors refuse the commit and
// name the entry and file; they never hold a key's bytes.

// maxPKIFile bounds what one file of the store may hold.
const maxPKIFile = 1 << 20

// preparePKI loads the store of ike into cfg.PKI and checks that the
// certificate and ca-certificate of the VPNs name loaded entries: the
// fresh VPNs (those the commit resolved) when the store has the same
// names as prev's, every VPN when they changed, so that a commit costs
// what it changes.
func (s *Service) preparePKI(ike *generated.SecgwVrf_Vrf_Ike, cfg *config.Config, prev *config.PKI, fresh []*config.VPN) error {
	cfg.PKI = nil
	var p *generated.SecgwVrf_Vrf_Ike_Pki
	if ike != nil {
		p = ike.Pki
	}
	if p != nil && (len(p.Certificate) > 0 || len(p.CaCertificate) > 0) {
		pki, err := s.loadPKI(p)
		if err != nil {
			return fmt.Errorf("ike: pki %w", err)
		}
		cfg.PKI = pki
	}
	vpns := fresh
	if !sameNames(prev, cfg.PKI) {
		vpns = cfg.VPNs
	}
	for _, v := range vpns {
		if v.Certs == nil {
			continue
		}
		if n := v.Certs.Certificate; n != "" && (cfg.PKI == nil || cfg.PKI.Certs[n] == nil) {
			return fmt.Errorf("ike: vpn %s: certificate %q is not in pki certificate", v.Name, n)
		}
		if n := v.Certs.CACertificate; n != "" && (cfg.PKI == nil || cfg.PKI.CAs[n] == nil) {
			return fmt.Errorf("ike: vpn %s: ca-certificate %q is not in pki ca-certificate", v.Name, n)
		}
	}
	return nil
}

// sameNames reports whether two stores have the same entry names.
func sameNames(a, b *config.PKI) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Certs) != len(b.Certs) || len(a.CAs) != len(b.CAs) {
		return false
	}
	for n := range a.Certs {
		if b.Certs[n] == nil {
			return false
		}
	}
	for n := range a.CAs {
		if b.CAs[n] == nil {
			return false
		}
	}
	return true
}

func (s *Service) loadPKI(p *generated.SecgwVrf_Vrf_Ike_Pki) (*config.PKI, error) {
	days := uint16(30)
	if p.NearExpiryDays != nil {
		days = *p.NearExpiryDays
	}
	pki := &config.PKI{Certs: map[string]*config.Credential{}, CAs: map[string]*config.CA{},
		NearExpiry: time.Duration(days) * 24 * time.Hour}
	for name, c := range p.Certificate {
		chain, err := s.readCerts(c.GetCertificateFile())
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", name, err)
		}
		key, err := s.readKey(c.GetPrivateKeyFile())
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", name, err)
		}
		if !samePublic(chain[0].PublicKey, key.Public()) {
			return nil, fmt.Errorf("certificate %s: private-key-file %s is not the key of %s", name, c.GetPrivateKeyFile(), c.GetCertificateFile())
		}
		pki.Certs[name] = &config.Credential{Name: name, Chain: chain, Key: key}
		s.logExpiry("certificate "+name, chain[0], pki.NearExpiry)
	}
	for name, c := range p.CaCertificate {
		certs, err := s.readCerts(c.GetCertificateFile())
		if err != nil {
			return nil, fmt.Errorf("ca-certificate %s: %w", name, err)
		}
		var crls []*x509.RevocationList
		for _, f := range c.CrlFile {
			crl, err := s.readCRL(f, certs[0])
			if err != nil {
				return nil, fmt.Errorf("ca-certificate %s: %w", name, err)
			}
			crls = append(crls, crl)
		}
		ca := config.NewCA(name, certs[0], crls)
		if c.FetchCrl != nil && *c.FetchCrl {
			ca.Revocation = s.crlFetcher()
		}
		pki.CAs[name] = ca
		s.logExpiry("ca-certificate "+name, certs[0], pki.NearExpiry)
	}
	return pki, nil
}

// logExpiry logs a certificate that has ended or ends within near.
func (s *Service) logExpiry(what string, c *x509.Certificate, near time.Duration) {
	switch v := validity(c, time.Now(), near); v {
	case "expired":
		s.log.Warn("pki: certificate expired or not yet valid", "entry", what, "subject", config.DNString(c.RawSubject),
			"not-before", c.NotBefore.UTC().Format(time.RFC3339), "not-after", c.NotAfter.UTC().Format(time.RFC3339))
	case "near-expiry":
		s.log.Warn("pki: certificate near expiry", "entry", what, "subject", config.DNString(c.RawSubject),
			"not-after", c.NotAfter.UTC().Format(time.RFC3339))
	}
}

// validity is the certificate-state validity of c at now.
func validity(c *x509.Certificate, now time.Time, near time.Duration) string {
	switch {
	case now.After(c.NotAfter) || now.Before(c.NotBefore):
		return "expired"
	case near > 0 && c.NotAfter.Sub(now) < near:
		return "near-expiry"
	}
	return "valid"
}

// pkiPath is the path of a file of the store; the YANG pattern already
// keeps names to one component.
func (s *Service) pkiPath(name string) (string, error) {
	if s.o.PKIDir == "" {
		return "", errors.New("no pki directory (secgwd -dir)")
	}
	if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return "", fmt.Errorf("bad file name %q", name)
	}
	return filepath.Join(s.o.PKIDir, name), nil
}

func (s *Service) readFile(name string) ([]byte, os.FileInfo, error) {
	path, err := s.pkiPath(name)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("file %s: %w", name, errors.Unwrap(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() > maxPKIFile {
		return nil, nil, fmt.Errorf("file %s: larger than %d bytes", name, maxPKIFile)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return nil, nil, fmt.Errorf("file %s: %w", name, err)
	}
	return b, fi, nil
}

// readCerts reads a PEM file of certificates (or one DER certificate).
func (s *Service) readCerts(name string) ([]*x509.Certificate, error) {
	b, _, err := s.readFile(name)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("file %s: certificate %d: %v", name, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("file %s: no certificate (PEM CERTIFICATE or DER)", name)
		}
		out = append(out, c)
	}
	return out, nil
}

// readKey reads a private key file, refusing one that others than its
// owner may read.
func (s *Service) readKey(name string) (crypto.Signer, error) {
	b, fi, err := s.readFile(name)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("private-key-file %s: mode %04o: it must be 0600 or stricter", name, fi.Mode().Perm())
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("private-key-file %s: no PEM block", name)
	}
	defer clear(blk.Bytes)
	var k any
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("private-key-file %s: PEM type %q is not a private key", name, blk.Type)
	}
	if err != nil {
		// The parser's error never holds key bytes; say which file.
		return nil, fmt.Errorf("private-key-file %s: does not decode", name)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("private-key-file %s: key type %T is not supported", name, k)
}

// readCRL reads a CRL file (PEM or DER) and checks it is ca's.
func (s *Service) readCRL(name string, ca *x509.Certificate) (*x509.RevocationList, error) {
	b, _, err := s.readFile(name)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("crl-file %s: %v", name, err)
	}
	// The CA's own CRL is checked now; an intermediate CA's (another
	// issuer) when a path through it is verified.
	if bytes.Equal(crl.RawIssuer, ca.RawSubject) {
		if err := crl.CheckSignatureFrom(ca); err != nil {
			return nil, fmt.Errorf("crl-file %s: not signed by the CA: %v", name, err)
		}
	}
	return crl, nil
}

func samePublic(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	x, ok := a.(eq)
	return ok && x.Equal(b)
}

// PKIFile is the input of the load-pki-file RPC (secgw-ike-pki.yang).
type PKIFile struct {
	File    string `yang:"file"`
	Content string `yang:"content"`
}

// LoadPKIFile writes a file of the certificate store with mode 0600, by
// a temporary file and a rename: a commit that names it loads it.
func (s *Service) LoadPKIFile(_ context.Context, f PKIFile) (Result, error) {
	path, err := s.pkiPath(f.File)
	if err != nil {
		return Result{}, fmt.Errorf("ike: load-pki-file: %w", err)
	}
	if err := os.MkdirAll(s.o.PKIDir, 0o700); err != nil {
		return Result{}, fmt.Errorf("ike: load-pki-file: %w", err)
	}
	tmp, err := os.CreateTemp(s.o.PKIDir, ".load-*")
	if err != nil {
		return Result{}, fmt.Errorf("ike: load-pki-file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write([]byte(f.Content))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return Result{}, fmt.Errorf("ike: load-pki-file %s: %w", f.File, err)
	}
	s.log.Info("pki: file loaded", "file", f.File, "bytes", len(f.Content))
	return Result{Count: 1, Messages: []string{"loaded " + f.File}}, nil
}

// pkiState is the certificate-state list: every loaded certificate and
// CA with its validity and the VPNs that name it.
func pkiState(cfg *config.Config, now time.Time) *generated.SecgwVrf_Vrf_Ike_Pki {
	if cfg == nil || cfg.PKI == nil {
		return nil
	}
	users := map[string][]string{}
	for _, v := range cfg.VPNs {
		if v.Certs == nil {
			continue
		}
		if v.Certs.Certificate != "" {
			users["certificate "+v.Certs.Certificate] = append(users["certificate "+v.Certs.Certificate], v.Name)
		}
		if v.Certs.CACertificate != "" {
			users["ca-certificate "+v.Certs.CACertificate] = append(users["ca-certificate "+v.Certs.CACertificate], v.Name)
		}
	}
	out := &generated.SecgwVrf_Vrf_Ike_Pki{CertificateState: map[string]*generated.SecgwVrf_Vrf_Ike_Pki_CertificateState{}}
	add := func(name string, c *x509.Certificate) {
		v := validity(c, now, cfg.PKI.NearExpiry)
		st := &generated.SecgwVrf_Vrf_Ike_Pki_CertificateState{Name: ptr(name), Subject: ptr(config.DNString(c.RawSubject)),
			Issuer: ptr(config.DNString(c.RawIssuer)), NotBefore: ptr(c.NotBefore.UTC().Format(time.RFC3339)),
			NotAfter: ptr(c.NotAfter.UTC().Format(time.RFC3339)), UsedBy: users[name]}
		switch v {
		case "expired":
			st.Validity = generated.SecgwVrf_Vrf_Ike_Pki_CertificateState_Validity_expired
		case "near-expiry":
			st.Validity = generated.SecgwVrf_Vrf_Ike_Pki_CertificateState_Validity_near_expiry
		default:
			st.Validity = generated.SecgwVrf_Vrf_Ike_Pki_CertificateState_Validity_valid
		}
		slices.Sort(st.UsedBy)
		out.CertificateState[name] = st
	}
	for n, c := range cfg.PKI.Certs {
		add("certificate "+n, c.Chain[0])
	}
	for n, c := range cfg.PKI.CAs {
		add("ca-certificate "+n, c.Cert)
	}
	return out
}
