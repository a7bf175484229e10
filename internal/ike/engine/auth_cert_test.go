package engine_test

import (
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/pkitest"
)

// Certificate authentication (RFC 7296 §2.15, §3.6, §3.7; RFC 7427)
// between two engines: A ("to-b", a.example) initiates, B ("from-a",
// b.example) responds. Each side has its own certificate and trusts the
// CA of the other's.

// certSide is one gateway's certificate store: its certificate (with the
// intermediates it sends) and the CA it trusts for the peer.
type certSide struct {
	me    *pkitest.Cert
	inter []*pkitest.Cert
	trust *pkitest.Cert
	crls  [][]byte
}

func (s certSide) pki(t testing.TB) *config.PKI {
	chain := []*x509.Certificate{s.me.Cert}
	for _, c := range s.inter {
		chain = append(chain, c.Cert)
	}
	var crls []*x509.RevocationList
	for _, der := range s.crls {
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		crls = append(crls, l)
	}
	return &config.PKI{
		Certs: map[string]*config.Credential{"me": {Name: "me", Chain: chain, Key: s.me.Key}},
		CAs:   map[string]*config.CA{"ca": config.NewCA("ca", s.trust.Cert, crls)},
	}
}

// useCerts switches a gateway's VPNs to certificates both ways: its
// certificate "me", the peer's CA "ca", no PSK.
func useCerts(ike *generated.SecgwVrf_Vrf_Ike) {
	for _, v := range ike.Vpn {
		v.IkePolicy.PreSharedKey = nil
		v.IkePolicy.LocalAuthMethod = generated.SecgwIke_AuthMethod_certificate
		v.IkePolicy.RemoteAuthMethod = generated.SecgwIke_AuthMethod_certificate
		v.IkePolicy.Certificate = ptr("me")
		v.IkePolicy.CaCertificate = ptr("ca")
	}
}

// certRun is the outcome of IKE_SA_INIT and IKE_AUTH between A and B.
type certRun struct {
	a, b       *peer
	evA, evB   events
	logA, logB *logRecorder
}

// runCerts sets up A and B with their stores and runs the exchanges to
// the end, one datagram at a time (IKE_AUTH may be fragmented, RFC 7383).
func runCerts(t *testing.T, sa, sb certSide, modA, modB func(*generated.SecgwVrf_Vrf_Ike)) *certRun {
	t.Helper()
	r := &certRun{}
	var hookA, hookB func(*engine.Options)
	r.logA, hookA = recordLogs(t)
	r.logB, hookB = recordLogs(t)
	r.a, r.b = pairOpts(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
		useCerts(ike)
		if modA != nil {
			modA(ike)
		}
	}, func(ike *generated.SecgwVrf_Vrf_Ike) {
		useCerts(ike)
		if modB != nil {
			modB(ike)
		}
	}, func(o *engine.Options) {
		hookA(o)
		r.evA.hook()(o)
		o.Config.PKI = sa.pki(t)
	}, func(o *engine.Options) {
		hookB(o)
		r.evB.hook()(o)
		o.Config.PKI = sb.pki(t)
	})
	if err := r.a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40 && (r.a.net.Len() > 0 || r.b.net.Len() > 0); i++ {
		for r.a.net.Len() > 0 {
			deliver(t, r.a, r.b)
		}
		for r.b.net.Len() > 0 {
			deliver(t, r.b, r.a)
		}
	}
	return r
}

func (r *certRun) up(t *testing.T) {
	t.Helper()
	checkChildPair(t, r.a, r.b)
	for _, p := range []*peer{r.a, r.b} {
		if s := saState(t, p); s.State != "established" {
			t.Fatalf("IKE SA %s, want established", s.State)
		}
	}
}

// refused checks that B refused A's authentication for a reason
// containing why, and that A heard AUTHENTICATION_FAILED.
func (r *certRun) refused(t *testing.T, why string) {
	t.Helper()
	if n := len(r.a.e.IKESAs()) + len(r.b.e.IKESAs()); n != 0 {
		t.Errorf("%d IKE SAs left, want none", n)
	}
	var got string
	for _, e := range r.evB.list {
		if e.Kind == engine.IKEFailed {
			got = e.Reason
		}
	}
	if !strings.Contains(got, "AUTHENTICATION_FAILED") || !strings.Contains(got, why) {
		t.Errorf("B's failure %q, want AUTHENTICATION_FAILED and %q", got, why)
	}
	if l := r.logB.find("authentication of peer failed"); len(l) == 0 || !strings.Contains(l[0]["reason"], why) {
		t.Errorf("B's log %v, want a line with reason %q", l, why)
	}
	failedA := false
	for _, e := range r.evA.list {
		failedA = failedA || (e.Kind == engine.IKEFailed && strings.Contains(e.Reason, "AUTHENTICATION_FAILED"))
	}
	if !failedA {
		t.Errorf("A's events %s: no AUTHENTICATION_FAILED", r.evA.kinds())
	}
}

// twoCAs makes a CA per side and a certificate of type kt for each,
// with the DNS names of the pair's identities.
func twoCAs(t *testing.T, kt pkitest.KeyType) (sa, sb certSide) {
	caA, caB := pkitest.NewCA(t, "ca-a", kt), pkitest.NewCA(t, "ca-b", kt)
	a := caA.Issue(t, "a", kt, pkitest.Options{DNS: []string{"a.example"}})
	b := caB.Issue(t, "b", kt, pkitest.Options{DNS: []string{"b.example"}})
	return certSide{me: a, trust: caB}, certSide{me: b, trust: caA}
}

// TestCertAuthKeyTypes: every key type authenticates both roles with the
// Digital Signature method (RSA with RSASSA-PSS, ECDSA on each curve,
// Ed25519 per RFC 8420), and the child SA comes up.
func TestCertAuthKeyTypes(t *testing.T) {
	for _, kt := range []pkitest.KeyType{pkitest.RSA, pkitest.P256, pkitest.P384, pkitest.P521, pkitest.Ed25519} {
		t.Run(string(kt), func(t *testing.T) {
			sa, sb := twoCAs(t, kt)
			r := runCerts(t, sa, sb, nil, nil)
			r.up(t)
			for _, l := range [][]map[string]string{r.logA.find("authentication of peer with a certificate successful"),
				r.logB.find("authentication of peer with a certificate successful")} {
				if len(l) != 1 || l[0]["method"] != "14" {
					t.Errorf("authentication log %v, want one with method 14", l)
				}
			}
		})
	}
}

// TestCertAuthMixedKeys: each side's key differs (RSA against Ed25519),
// and the default identity is the certificate's subject DN when local-id
// is not set (ID_DER_ASN1_DN, as strongSwan sends).
func TestCertAuthMixedKeys(t *testing.T) {
	caA, caB := pkitest.NewCA(t, "ca-a", pkitest.P256), pkitest.NewCA(t, "ca-b", pkitest.RSA)
	a := caA.Issue(t, "a", pkitest.RSA, pkitest.Options{})
	b := caB.Issue(t, "b", pkitest.Ed25519, pkitest.Options{DNS: []string{"b.example"}})
	r := runCerts(t, certSide{me: a, trust: caB}, certSide{me: b, trust: caA}, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["to-b"].LocalId = nil
	}, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].RemoteId = ptr("O=secgw test, CN=a")
	})
	r.up(t)
	if got := saState(t, r.b).RemoteID.String(); got != "O=secgw test, CN=a" {
		t.Errorf("B sees peer %q, want the DN", got)
	}
}

// TestCertAuthChain: A's certificate is issued by an intermediate CA it
// sends in a second CERT payload; B trusts only the root.
func TestCertAuthChain(t *testing.T) {
	root := pkitest.NewCA(t, "root", pkitest.P256)
	inter := root.Issue(t, "inter", pkitest.P256, pkitest.Options{CA: true})
	a := inter.Issue(t, "a", pkitest.P256, pkitest.Options{DNS: []string{"a.example"}})
	caA := pkitest.NewCA(t, "ca-a", pkitest.P256)
	b := caA.Issue(t, "b", pkitest.P256, pkitest.Options{DNS: []string{"b.example"}})
	r := runCerts(t, certSide{me: a, inter: []*pkitest.Cert{inter}, trust: caA}, certSide{me: b, trust: root}, nil, nil)
	r.up(t)
	// Without the intermediate the chain does not build.
	r = runCerts(t, certSide{me: a, trust: caA}, certSide{me: b, trust: root}, nil, nil)
	r.refused(t, "does not chain to ca-certificate")
}

// TestCertAuthWrongIdentity: A claims a.example with a certificate for
// c.example only.
func TestCertAuthWrongIdentity(t *testing.T) {
	sa, sb := twoCAs(t, pkitest.P256)
	sa.me = sb.trust.Issue(t, "c", pkitest.P256, pkitest.Options{DNS: []string{"c.example"}, IPs: []net.IP{net.ParseIP("10.0.0.1")}})
	r := runCerts(t, sa, sb, nil, nil)
	r.refused(t, "identity a.example is not in certificate")
}

// TestCertAuthUnknownCA: A's certificate is from a CA B does not trust.
func TestCertAuthUnknownCA(t *testing.T) {
	sa, sb := twoCAs(t, pkitest.P256)
	sb.trust = pkitest.NewCA(t, "other", pkitest.P256)
	r := runCerts(t, sa, sb, nil, nil)
	r.refused(t, "does not chain to ca-certificate")
}

// TestCertAuthRevoked: A's certificate is on the CRL of its CA that B
// loaded.
func TestCertAuthRevoked(t *testing.T) {
	sa, sb := twoCAs(t, pkitest.P256)
	sb.crls = [][]byte{sb.trust.CRL(t, sa.me)}
	r := runCerts(t, sa, sb, nil, nil)
	r.refused(t, "is revoked by the CRL of ca")
	// A CRL that revokes another certificate lets A in.
	sb.crls = [][]byte{sb.trust.CRL(t, sb.trust.Issue(t, "x", pkitest.P256, pkitest.Options{}))}
	runCerts(t, sa, sb, nil, nil).up(t)
}

// TestCertAuthExpired: A's certificate ended an hour ago; B says so and
// counts it as certificate expired.
func TestCertAuthExpired(t *testing.T) {
	sa, sb := twoCAs(t, pkitest.P256)
	sa.me = sb.trust.Issue(t, "a", pkitest.P256, pkitest.Options{DNS: []string{"a.example"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	r := runCerts(t, sa, sb, nil, nil)
	r.refused(t, "certificate expired")
}

// TestCertAuthMalformedCert: A's CERT payload is not DER.
func TestCertAuthMalformedCert(t *testing.T) {
	sa, sb := twoCAs(t, pkitest.P256)
	bad := *sa.me.Cert
	bad.Raw = []byte{0x30, 0x82, 0x01}
	sa.me = &pkitest.Cert{Cert: &bad, Key: sa.me.Key}
	r := runCerts(t, sa, sb, nil, nil)
	r.refused(t, "malformed certificate in CERT payload 1")
}

// TestCertAuthTooLongChain: A sends its certificate and 6 intermediates:
// more CERT payloads than B looks at.
func TestCertAuthTooLongChain(t *testing.T) {
	root := pkitest.NewCA(t, "root", pkitest.P256)
	var inter []*pkitest.Cert
	issuer := root
	for range 6 {
		issuer = issuer.Issue(t, "inter", pkitest.P256, pkitest.Options{CA: true})
		inter = append([]*pkitest.Cert{issuer}, inter...)
	}
	a := issuer.Issue(t, "a", pkitest.P256, pkitest.Options{DNS: []string{"a.example"}})
	sa, sb := twoCAs(t, pkitest.P256)
	sb.trust = root
	r := runCerts(t, certSide{me: a, inter: inter, trust: sa.trust}, sb, nil, nil)
	r.refused(t, "more than 6 CERT payloads")
}

// TestCertAuthRevokedByIntermediate: the CRL that lists A's certificate
// is its intermediate CA's, loaded beside B's trust anchor.
func TestCertAuthRevokedByIntermediate(t *testing.T) {
	root := pkitest.NewCA(t, "root", pkitest.P256)
	inter := root.Issue(t, "inter", pkitest.P256, pkitest.Options{CA: true})
	a := inter.Issue(t, "a", pkitest.P256, pkitest.Options{DNS: []string{"a.example"}})
	sa, sb := twoCAs(t, pkitest.P256)
	sa.me, sa.inter = a, []*pkitest.Cert{inter}
	sb.trust, sb.crls = root, [][]byte{inter.CRL(t, a)}
	runCerts(t, sa, sb, nil, nil).refused(t, "is revoked by the CRL of ca")
	// A CRL in the intermediate's name that another key signed is not
	// believed.
	fake := pkitest.NewCA(t, "inter", pkitest.P256)
	fake.Cert.RawSubject = inter.Cert.RawSubject
	sb.crls = [][]byte{fake.CRL(t, a)}
	runCerts(t, sa, sb, nil, nil).up(t)
}

// TestCertAuthCachedChain: a second IKE SA from A with the same chain
// authenticates on B from the verified-chain cache (no second Verify),
// and both ends verify the peer's chain once.
func TestCertAuthCachedChain(t *testing.T) {
	root := pkitest.NewCA(t, "root", pkitest.P256)
	inter := root.Issue(t, "inter", pkitest.P256, pkitest.Options{CA: true})
	a := inter.Issue(t, "a", pkitest.P256, pkitest.Options{DNS: []string{"a.example"}})
	caA := pkitest.NewCA(t, "ca-a", pkitest.P256)
	b := caA.Issue(t, "b", pkitest.P256, pkitest.Options{DNS: []string{"b.example"}})
	r := runCerts(t, certSide{me: a, inter: []*pkitest.Cert{inter}, trust: caA}, certSide{me: b, trust: root}, nil, nil)
	r.up(t)
	if err := r.a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40 && (r.a.net.Len() > 0 || r.b.net.Len() > 0); i++ {
		for r.a.net.Len() > 0 {
			deliver(t, r.a, r.b)
		}
		for r.b.net.Len() > 0 {
			deliver(t, r.b, r.a)
		}
	}
	if n := len(r.logB.find("authentication of peer with a certificate successful")); n != 2 {
		t.Fatalf("B authenticated A %d times, want 2", n)
	}
	if va, vb := r.a.e.ChainVerifies(), r.b.e.ChainVerifies(); va != 1 || vb != 1 {
		t.Errorf("chain verifications: A %d, B %d; want 1 each (the second SA from the cache)", va, vb)
	}
}
