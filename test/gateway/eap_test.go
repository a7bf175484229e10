package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"secgw/test/charontest"
	"secgw/test/radiustest"
)

// Remote access with EAP (RFC 7296 §2.16) terminated at FreeRADIUS
// (remote-auth-method eap-radius): charon road warriors authenticate
// with EAP-MSCHAPv2 or EAP-TLS, secgwd relays their EAP messages to
// FreeRADIUS (RFC 3579), keys the final AUTH with the MSK of the
// Access-Accept (MS-MPPE keys, RFC 2548), gives the road warrior the
// Access-Accept's Framed-IP-Address (vip-pool radius) and reports the
// session to FreeRADIUS's accounting (RFC 2866).
//
//	10.1.0.1 [secgwd + FreeRADIUS on 127.0.0.1] 198.18.N.1 --veth-- 198.18.N.2 [charon rwN]

// radiusSecret is the shared secret of secgwd and FreeRADIUS.
const radiusSecret = "radius-secret-of-the-test"

// radiusUsers is FreeRADIUS's users file: alice (EAP-MSCHAPv2, her
// password) and carol (EAP-TLS, her certificate), each with a virtual
// IP and a DNS server for the configuration reply.
const radiusUsers = `alice	Cleartext-Password := "alice-password"
	Framed-IP-Address = 10.9.0.5,
	MS-Primary-DNS-Server = 10.1.0.53

carol
	Framed-IP-Address = 10.9.0.7
`

// eapLines configure secgwd's VPN "rw": any peer identity, EAP through
// the RADIUS servers, our PSK for our own AUTH, virtual IPs from the
// RADIUS attributes.
func eapLines(radius ...string) []string {
	return append(radius,
		"radius accounting true",
		"vpn rw local-id "+gwID,
		"vpn rw ike-policy pre-shared-key "+testPSK,
		"vpn rw ike-policy remote-auth-method eap-radius",
		"vpn rw ike-policy ike-proposal 1 "+suiteGCM.ourIKE,
		"vpn rw ipsec-policy esp-proposal 1 "+suiteGCM.ourESP,
		"vpn rw vip-pool radius",
		"vpn rw security-policy net local-ts subnet "+gwNet4)
}

// newEAPSetup creates secgwd's namespace and n road warriors
// (newWarriors) with the EAP plugins, and starts secgwd.
func newEAPSetup(t *testing.T, n int) (gwNS string, gw *gateway, rws []*roadWarrior) {
	t.Helper()
	requirePrerequisites(t)
	radiustest.RequirePrerequisites(t)
	for _, p := range []string{"eap-mschapv2", "eap-tls"} {
		if _, err := os.Stat("/usr/lib/ipsec/plugins/libstrongswan-" + p + ".so"); err != nil {
			t.Fatalf("gateway: charon's %s plugin is missing: run test/install-strongswan.sh (libcharon-extauth-plugins, libcharon-extra-plugins)", p)
		}
	}
	gwNS, rws = newWarriors(t, n, func(*roadWarrior) charontest.Options {
		return charontest.Options{Plugins: "eap-identity eap-mschapv2 eap-tls eap-md5", LogLevels: "ike = 2\ntls = 2"}
	})
	return gwNS, startGateway(t, gwNS), rws
}

// loadEAP gives the road warrior its connection "rw": local
// authentication by auth (eap-mschapv2 or eap-tls) as eapID with the
// settings extra, secgwd authenticated by the PSK; secrets are more
// entries of the secrets section.
func (r *roadWarrior) loadEAP(t *testing.T, auth, eapID, extra string, secrets ...string) {
	t.Helper()
	r.Load(t, r.conn(charontest.Auth{Method: auth, ID: eapID, EAPID: eapID, Extra: extra}, charontest.Auth{Method: "psk", ID: gwID},
		append([]string{charontest.PSKSecret("gw", testPSK, gwID)}, secrets...)...).String())
}

// TestSecgwdEAPMSCHAPv2: a road warrior authenticates with
// EAP-MSCHAPv2 through FreeRADIUS; it gets the Framed-IP-Address and
// DNS server of its Access-Accept as virtual IP (vip-pool radius) and
// passes traffic from it; FreeRADIUS's detail file records the
// session's Start and Stop with the virtual IP and the traffic. With a
// wrong password it is refused (AUTHENTICATION_FAILED).
func TestSecgwdEAPMSCHAPv2(t *testing.T) {
	t.Parallel()
	gwNS, gw, rws := newEAPSetup(t, 1)
	fr := radiustest.Start(t, gwNS, radiustest.Options{Secret: radiusSecret, Users: radiusUsers, EAPType: "mschapv2"})
	gw.configure(t, eapLines("radius server 127.0.0.1 secret "+radiusSecret)...)
	rw := rws[0]
	rw.loadEAP(t, "eap-mschapv2", "alice", "", charontest.EAPSecret("alice", "alice", "alice-password"))

	vip := rw.connect(t)
	if vip != netip.MustParseAddr("10.9.0.5") {
		t.Fatalf("virtual IP %s, want the Framed-IP-Address 10.9.0.5", vip)
	}
	if !strings.Contains(fr.ReadLog(), "EAP-MSCHAPv2") && !strings.Contains(fr.ReadLog(), "mschapv2") {
		t.Errorf("FreeRADIUS did not run EAP-MSCHAPv2")
	}
	ping(t, rw.ns, vip, gwInner4)
	get := `<get><filter type="subtree"><vrf xmlns="` + nsVRF + `"><name>main</name><ike xmlns="` + nsIKE + `"><ike-sa/></ike></vrf></filter></get>`
	if st := gw.rpc(t, get); !strings.Contains(st, "<remote-vip>10.9.0.5</remote-vip>") {
		t.Errorf("secgwd's state lacks remote-vip 10.9.0.5:\n%s", st)
	}
	if !eventually(5*time.Second, func() bool { return strings.Contains(fr.Detail(), "Acct-Status-Type = Start") }) {
		t.Errorf("no accounting Start in FreeRADIUS's detail file:\n%s", fr.Detail())
	}
	if out, err := rw.Swanctl("--terminate", "--ike", "rw", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --terminate: %v\n%s", err, out)
	}
	if !eventually(10*time.Second, func() bool { return strings.Contains(fr.Detail(), "Acct-Status-Type = Stop") }) {
		t.Fatalf("no accounting Stop in FreeRADIUS's detail file:\n%s", fr.Detail())
	}
	detail := fr.Detail()
	stop := detail[strings.LastIndex(detail, "Acct-Status-Type = Stop"):]
	for _, want := range []string{`User-Name = "alice"`, "Framed-IP-Address = 10.9.0.5", "Acct-Session-Id = "} {
		if strings.Count(detail, want) < 2 {
			t.Errorf("the detail file lacks %q in Start and Stop:\n%s", want, detail)
		}
	}
	if !regexpMatch(`Acct-Input-Packets = [1-9]`, stop) || !regexpMatch(`Acct-Output-Packets = [1-9]`, stop) || !regexpMatch(`Acct-Input-Octets = [1-9]`, stop) {
		t.Errorf("the Stop record does not count the ping's packets:\n%s", stop)
	}
	for _, s := range []string{radiusSecret, "alice-password", testPSK} {
		if strings.Contains(gw.readLog(), s) {
			t.Errorf("secgwd logged a secret (%.6s...)", s)
		}
	}

	// A wrong password: FreeRADIUS rejects, secgwd refuses.
	rw.loadEAP(t, "eap-mschapv2", "alice", "", charontest.EAPSecret("alice", "alice", "not-her-password"))
	rw.refused(t)
	if log := gw.readLog(); !strings.Contains(log, "rejected the peer") {
		t.Errorf("secgwd did not log the rejection:\n%s", tail(log, 20))
	}
}

// TestSecgwdEAPTLS: a road warrior authenticates with EAP-TLS (its
// certificate, of a CA FreeRADIUS trusts; FreeRADIUS's certificate, of
// the same CA, checked by charon) and gets its Framed-IP-Address.
func TestSecgwdEAPTLS(t *testing.T) {
	t.Parallel()
	gwNS, gw, rws := newEAPSetup(t, 1)
	pki := newTestPKI(t)
	fr := radiustest.Start(t, gwNS, radiustest.Options{Secret: radiusSecret, Users: radiusUsers, EAPType: "tls",
		TLS: &radiustest.TLSFiles{ServerCert: pki.serverCert, ServerKey: pki.serverKey, CA: pki.ca}})
	gw.configure(t, eapLines("radius server 127.0.0.1 secret "+radiusSecret)...)
	rw := rws[0]
	pki.giveCarol(t, rw)
	rw.loadEAP(t, "eap-tls", "carol", "certs = carol.pem\naaa_id = radius.example")
	if vip := rw.connect(t); vip != netip.MustParseAddr("10.9.0.7") {
		t.Errorf("virtual IP %s, want the Framed-IP-Address 10.9.0.7", vip)
	}
	if !strings.Contains(fr.ReadLog(), "eap_tls") {
		t.Errorf("FreeRADIUS did not run EAP-TLS")
	}
	ping(t, rw.ns, netip.MustParseAddr("10.9.0.7"), gwInner4)
}

// TestSecgwdRADIUSFailover: the first RADIUS server (priority 1) does
// not answer (nothing on its port): secgwd fails over to the second and
// the road warrior gets in; with FreeRADIUS stopped too, no server
// answers: secgwd logs why and refuses with AUTHENTICATION_FAILED.
func TestSecgwdRADIUSFailover(t *testing.T) {
	t.Parallel()
	gwNS, gw, rws := newEAPSetup(t, 1)
	fr := radiustest.Start(t, gwNS, radiustest.Options{Secret: radiusSecret, Users: radiusUsers, EAPType: "mschapv2"})
	gw.configure(t, eapLines(
		"radius server 127.0.0.2 priority 1 auth-port 1912 acct-port 1913 timeout 1 retries 1 secret "+radiusSecret,
		"radius server 127.0.0.1 priority 2 secret "+radiusSecret)...)
	rw := rws[0]
	rw.loadEAP(t, "eap-mschapv2", "alice", "", charontest.EAPSecret("alice", "alice", "alice-password"))
	rw.connect(t)
	if log := gw.readLog(); !strings.Contains(log, "failed over") || !strings.Contains(log, "127.0.0.2:1912") {
		t.Errorf("secgwd did not log the failover from 127.0.0.2:1912:\n%s", tail(log, 30))
	}
	if out, err := rw.Swanctl("--terminate", "--ike", "rw", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --terminate: %v\n%s", err, out)
	}

	fr.Stop()
	rw.refused(t)
	if log := gw.readLog(); !strings.Contains(log, "no AAA server answered") || !strings.Contains(log, "radius: no server answered") {
		t.Errorf("secgwd did not say that no RADIUS server answered:\n%s", tail(log, 30))
	}
}

// testPKI is the certificates of TestSecgwdEAPTLS, PEM-encoded: a CA,
// FreeRADIUS's certificate (radius.example) and carol's.
type testPKI struct {
	ca, serverCert, serverKey, clientCert, clientKey []byte
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "EAP test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, eku x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
	}
	var p testPKI
	p.ca = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.serverCert, p.serverKey = leaf(2, "radius.example", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf(3, "carol", x509.ExtKeyUsageClientAuth)
	return p
}

// giveCarol puts carol's certificate and key, and the CA, in rw's
// swanctl directories, for an EAP-TLS connection as carol.
func (p testPKI) giveCarol(t *testing.T, rw *roadWarrior) {
	t.Helper()
	for n, data := range map[string][]byte{"x509ca/ca.pem": p.ca, "x509/carol.pem": p.clientCert, "pkcs8/carol.key": p.clientKey} {
		if err := os.WriteFile(filepath.Join(rw.Dir, n), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// TestSecgwdEAPOnlyTLS: RFC 5998 with charon, which always offers
// EAP_ONLY_AUTHENTICATION: to a VPN without a credential of its own
// (no pre-shared-key, no certificate), secgwd sends no AUTH in its
// first response, and EAP-TLS, which authenticates FreeRADIUS to the
// road warrior, carries the whole authentication.
func TestSecgwdEAPOnlyTLS(t *testing.T) {
	t.Parallel()
	gwNS, gw, rws := newEAPSetup(t, 1)
	pki := newTestPKI(t)
	radiustest.Start(t, gwNS, radiustest.Options{Secret: radiusSecret, Users: radiusUsers, EAPType: "tls",
		TLS: &radiustest.TLSFiles{ServerCert: pki.serverCert, ServerKey: pki.serverKey, CA: pki.ca}})
	var lines []string
	for _, l := range eapLines("radius server 127.0.0.1 secret " + radiusSecret) {
		if !strings.Contains(l, "pre-shared-key") {
			lines = append(lines, l)
		}
	}
	gw.configure(t, lines...)
	rw := rws[0]
	pki.giveCarol(t, rw)
	rw.loadEAPOnly(t)
	if vip := rw.connect(t); vip != netip.MustParseAddr("10.9.0.7") {
		t.Errorf("virtual IP %s, want 10.9.0.7", vip)
	}
	if !strings.Contains(gw.readLog(), "eap-only=true") {
		t.Errorf("secgwd did not run EAP-only:\n%s", tail(gw.readLog(), 20))
	}
}

// loadEAPOnly is carol's EAP-TLS connection that accepts a gateway
// authenticated by EAP alone.
func (r *roadWarrior) loadEAPOnly(t *testing.T) {
	t.Helper()
	r.Load(t, r.conn(charontest.Auth{Method: "eap-tls", ID: "carol", EAPID: "carol", Extra: "certs = carol.pem\naaa_id = radius.example"},
		charontest.Auth{Method: "eap-tls", ID: gwID}).String())
}
