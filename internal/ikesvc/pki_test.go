package ikesvc

import (
	"context"
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/pkitest"
)

// certDevice is device() with certificate authentication both ways: the
// pki container names gw.crt/gw.key and ca.crt (with crls).
func certDevice(name, local, remote, localID, remoteID, localTS, remoteTS string, crls ...string) *generated.Device {
	dev := device(name, local, remote, localID, remoteID, localTS, remoteTS)
	ike := dev.Vrf["main"].Ike
	ip := ike.Vpn[name].IkePolicy
	ip.PreSharedKey = nil
	ip.LocalAuthMethod, ip.RemoteAuthMethod = generated.SecgwIke_AuthMethod_certificate, generated.SecgwIke_AuthMethod_certificate
	ip.Certificate, ip.CaCertificate = ptr2("gw"), ptr2("ca")
	ike.Pki = &generated.SecgwVrf_Vrf_Ike_Pki{
		Certificate: map[string]*generated.SecgwVrf_Vrf_Ike_Pki_Certificate{"gw": {
			Name: ptr2("gw"), CertificateFile: ptr2("gw.crt"), PrivateKeyFile: ptr2("gw.key")}},
		CaCertificate: map[string]*generated.SecgwVrf_Vrf_Ike_Pki_CaCertificate{"ca": {
			Name: ptr2("ca"), CertificateFile: ptr2("ca.crt"), CrlFile: crls}},
	}
	return dev
}

// pkiService is a service whose store is a fresh directory holding its
// certificate (chain), key and the CA it trusts; the key is written by
// the load-pki-file RPC.
func pkiService(t *testing.T, port uint16, me *pkitest.Cert, chain []*pkitest.Cert, trust *pkitest.Cert) (*Service, string) {
	dir := t.TempDir()
	s := New(Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace", PortIKE: port, PortNATT: port + 1,
		PKIDir: dir, Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	t.Cleanup(func() { s.Close() })
	pem := me.CertPEM()
	for _, c := range chain {
		pem = append(pem, c.CertPEM()...)
	}
	pkitest.Write(t, filepath.Join(dir, "gw.crt"), pem, 0o644)
	pkitest.Write(t, filepath.Join(dir, "ca.crt"), trust.CertPEM(), 0o644)
	if _, err := s.LoadPKIFile(context.Background(), PKIFile{File: "gw.key", Content: string(me.KeyPEM(t))}); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// TestPKIServices: two services authenticate each other with
// certificates read from their pki directories (A's through an
// intermediate CA), the state lists the certificates with their users,
// and a commit naming an unknown entry, a key of mode 0644, a key that
// is not the certificate's or a CRL of another CA is refused.
func TestPKIServices(t *testing.T) {
	root := pkitest.NewCA(t, "root", pkitest.P256)
	inter := root.Issue(t, "inter", pkitest.P256, pkitest.Options{CA: true})
	caB := pkitest.NewCA(t, "ca-b", pkitest.RSA)
	certA := inter.Issue(t, "a", pkitest.P256, pkitest.Options{DNS: []string{"a.example"}})
	certB := caB.Issue(t, "b", pkitest.RSA, pkitest.Options{DNS: []string{"b.example"},
		NotAfter: time.Now().Add(5 * 24 * time.Hour)})
	a, dirA := pkiService(t, 16510, certA, []*pkitest.Cert{inter}, caB)
	b, _ := pkiService(t, 16510, certB, nil, root)
	if err := b.Start(certDevice("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	runA := certDevice("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	if err := a.Start(runA); err != nil {
		t.Fatal(err)
	}
	out, err := a.Call(context.Background(), xml.Name{Space: NS, Local: "initiate"},
		[]byte(`<initiate xmlns="urn:secgw:yang:secgw-ike"><ike-sa><vpn>to-b</vpn></ike-sa></initiate>`))
	if err != nil || !strings.Contains(string(out), "established between 127.0.0.1[a.example]...127.0.0.2[b.example]") {
		t.Fatalf("initiate: %v\n%s", err, out)
	}
	st := b.State(false).Pki.CertificateState
	gw, ca := st["certificate gw"], st["ca-certificate ca"]
	if gw == nil || ca == nil {
		t.Fatalf("certificate-state %v", st)
	}
	if *gw.Subject != "O=secgw test, CN=b" || *gw.Issuer != "O=secgw test, CN=ca-b" || strings.Join(gw.UsedBy, ",") != "from-a" ||
		gw.Validity != generated.SecgwVrf_Vrf_Ike_Pki_CertificateState_Validity_near_expiry {
		t.Errorf("certificate gw state: subject %s issuer %s used-by %v validity %v", *gw.Subject, *gw.Issuer, gw.UsedBy, gw.Validity)
	}
	if *ca.Subject != "O=secgw test, CN=root" || ca.Validity != generated.SecgwVrf_Vrf_Ike_Pki_CertificateState_Validity_valid {
		t.Errorf("ca state: %s %v", *ca.Subject, ca.Validity)
	}

	for _, c := range []struct {
		name string
		mod  func(*generated.Device)
		want string
	}{
		{"unknown certificate", func(d *generated.Device) { d.Vrf["main"].Ike.Vpn["to-b"].IkePolicy.Certificate = ptr2("nope") },
			`certificate "nope" is not in pki certificate`},
		{"key mode", func(*generated.Device) { os.Chmod(filepath.Join(dirA, "gw.key"), 0o644) }, "mode 0644: it must be 0600 or stricter"},
		{"other key", func(*generated.Device) {
			pkitest.Write(t, filepath.Join(dirA, "gw.key"), certB.KeyPEM(t), 0o600)
		}, "private-key-file gw.key is not the key of gw.crt"},
		{"crl of another CA", func(d *generated.Device) {
			// The CA's name, another key.
			pkitest.Write(t, filepath.Join(dirA, "other.crl"), pkitest.CRLPEM(pkitest.NewCA(t, "ca-b", pkitest.P256).CRL(t)), 0o644)
			d.Vrf["main"].Ike.Pki.CaCertificate["ca"].CrlFile = []string{"other.crl"}
		}, "crl-file other.crl: not signed by the CA"},
	} {
		pkitest.Write(t, filepath.Join(dirA, "gw.key"), certA.KeyPEM(t), 0o600)
		dev := certDevice("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
		c.mod(dev)
		err := a.Prepare(txOf(7, runA, dev))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: commit error %v, want %q", c.name, err, c.want)
		}
		if err == nil {
			a.Abort(txOf(7, runA, dev))
			continue
		}
		if strings.Contains(err.Error(), "BEGIN") {
			t.Errorf("%s: the error holds PEM: %v", c.name, err)
		}
	}
}

func txOf(id uint64, old, new *generated.Device) *datastore.Tx {
	return &datastore.Tx{ID: id, Old: old, New: new}
}

// TestCRLFetch: a CA with fetch-crl answers "unknown" at first sight of
// a distribution point, fetches it in the background, then knows the
// certificate it lists as revoked; a CRL signed by another CA is not
// believed.
func TestCRLFetch(t *testing.T) {
	ca := pkitest.NewCA(t, "ca", pkitest.P256)
	var crl []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(crl) }))
	defer srv.Close()
	revoked := ca.Issue(t, "r", pkitest.P256, pkitest.Options{CRL: srv.URL + "/ca.crl"})
	good := ca.Issue(t, "g", pkitest.P256, pkitest.Options{CRL: srv.URL + "/ca.crl"})
	crl = ca.CRL(t, revoked)
	s := newServiceOn(t, Options{Dataplane: enginetest.NewDataplane()})
	c := s.crlFetcher()
	if r, known := c.Revoked(revoked.Cert, ca.Cert); r || known {
		t.Fatalf("first sight: revoked %v known %v, want unknown", r, known)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, known := c.Revoked(revoked.Cert, ca.Cert)
		if known {
			if !r {
				t.Error("listed certificate not revoked")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("CRL never fetched")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r, known := c.Revoked(good.Cert, ca.Cert); r || !known {
		t.Errorf("good certificate: revoked %v known %v", r, known)
	}
	other := pkitest.NewCA(t, "other", pkitest.P256)
	if r, _ := c.Revoked(revoked.Cert, other.Cert); r {
		t.Error("a CRL believed for another issuer")
	}
}

// TestCertExpiredCounted: an authentication refused because the peer's
// certificate expired is counted as certificate-expired (both roles'
// reasons, as the engine words them), not as authentication-failed.
func TestCertExpiredCounted(t *testing.T) {
	var st stats
	for _, reason := range []string{
		`AUTHENTICATION_FAILED sent: certificate expired: "CN=a,O=secgw test" ended 2026-12-07T16:00:00Z`,
		`engine: AUTHENTICATION_FAILED: certificate expired: "CN=b,O=secgw test" ended 2026-12-07T16:00:00Z`,
		"AUTHENTICATION_FAILED sent: identity a.example is not in certificate",
	} {
		st.count(engine.Event{Kind: engine.IKEFailed, VPN: "vpn0", Reason: reason})
	}
	var s generated.SecgwVrf_Vrf_Ike_Statistics
	st.fill(&s)
	exp := s.Failure[generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_certificate_expired]
	auth := s.Failure[generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_authentication_failed]
	if exp == nil || *exp.Count != 2 || auth == nil || *auth.Count != 1 {
		t.Errorf("failures certificate-expired %+v, authentication-failed %+v; want 2 and 1", exp, auth)
	}
}
