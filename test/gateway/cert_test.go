package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"secgw/internal/pkitest"
	"secgw/test/charontest"
)

// Certificate authentication between secgwd and charon (kernel-libipsec),
// configured over NETCONF: a test root CA made here with crypto/x509, an
// intermediate CA per side, each side's certificate sent with its
// intermediate (two CERT payloads) and verified to the root by the other.

// certPKI is the test PKI of one run: root, the two intermediates and
// the two end-entity certificates.
type certPKI struct {
	root, gwCA, chCA, gw, ch *pkitest.Cert
}

func newCertPKI(t *testing.T, kt pkitest.KeyType) *certPKI {
	p := &certPKI{root: pkitest.NewCA(t, "secgw test root", kt)}
	p.gwCA = p.root.Issue(t, "gw intermediate", kt, pkitest.Options{CA: true})
	p.chCA = p.root.Issue(t, "charon intermediate", kt, pkitest.Options{CA: true})
	p.gw = p.gwCA.Issue(t, gwID, kt, pkitest.Options{DNS: []string{gwID}})
	p.ch = p.chCA.Issue(t, charonID, kt, pkitest.Options{DNS: []string{charonID}})
	return p
}

// loadPKIFile writes a file of secgwd's certificate store by the
// load-pki-file RPC.
func (g *gateway) loadPKIFile(t *testing.T, name string, content []byte) {
	t.Helper()
	reply := g.rpc(t, `<load-pki-file xmlns="`+nsIKE+`"><file>`+name+`</file><content>`+string(content)+`</content></load-pki-file>`)
	if !strings.Contains(reply, "<ok/>") {
		t.Fatalf("gateway: load-pki-file %s: %s", name, reply)
	}
}

// useCertificates loads secgwd's certificate (with its intermediate),
// key and the root into its store and switches the VPN to certificates
// both ways; crls are more crl-file entries of the root.
func (st *setup) useCertificates(t *testing.T, p *certPKI, crls ...string) {
	t.Helper()
	st.gw.loadPKIFile(t, "gw.crt", append(p.gw.CertPEM(), p.gwCA.CertPEM()...))
	st.gw.loadPKIFile(t, "gw.key", p.gw.KeyPEM(t))
	st.gw.loadPKIFile(t, "root.crt", p.root.CertPEM())
	lines := []string{"pki certificate gw certificate-file gw.crt private-key-file gw.key",
		"pki ca-certificate root certificate-file root.crt"}
	for _, c := range crls {
		lines = append(lines, "pki ca-certificate root crl-file "+c)
	}
	lines = append(lines, "vpn "+ourVPNName+" ike-policy local-auth-method certificate remote-auth-method certificate certificate gw ca-certificate root")
	st.gw.configure(t, lines...)
	// charon's credentials, in the directories next to its swanctl.conf.
	for f, data := range map[string][]byte{
		"x509/charon.crt":    p.ch.CertPEM(),
		"x509ca/inter.crt":   p.chCA.CertPEM(),
		"x509ca/root.crt":    p.root.CertPEM(),
		"private/charon.key": p.ch.KeyPEM(t),
	} {
		pkitest.Write(t, filepath.Join(st.ch.Dir, f), data, 0o600)
	}
	conf := swanctlConf(st.s, testPSK, charonChildren(st.policies...)...)
	conf = strings.Replace(conf, "\t\tlocal {\n\t\t\tauth = psk\n", "\t\tlocal {\n\t\t\tauth = pubkey\n\t\t\tcerts = charon.crt\n", 1)
	conf = strings.Replace(conf, "\t\tremote {\n\t\t\tauth = psk\n", "\t\tremote {\n\t\t\tauth = pubkey\n", 1)
	st.ch.Load(t, conf)
}

// newCertSetup is newSetup with charon's strongswan.conf extra.
func newCertSetup(t *testing.T, extra string) *setup {
	t.Helper()
	requirePrerequisites(t)
	top := newTopology(t)
	st := &setup{top: top, gw: startGateway(t, top.gw), s: suiteGCM, policies: []policy{policy4},
		ch: &charon{charontest.Start(t, top.charon, charontest.Options{Extra: extra})}}
	st.gw.configure(t, ourVPN(ourVPNName, suiteGCM, testPSK, policy4)...)
	return st
}

// TestCertificates: for ECDSA P-256, RSA with RSASSA-PSS (charon's
// rsa_pss) and Ed25519 chains, secgwd initiates and then charon does;
// each time both log the certificate authentication of the other, traffic
// passes, and secgwd's certificate-state lists the loaded certificates
// with the VPN using them. No private key appears in get-config.
func TestCertificates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kt     pkitest.KeyType
		extra  string
		charon string // how charon logs secgwd's signature
	}{
		{pkitest.P256, "", "ECDSA_WITH_SHA256_DER"},
		{pkitest.RSA, "rsa_pss = yes", "RSA_EMSA_PSS"},
		{pkitest.Ed25519, "", "ED25519"},
	} {
		t.Run(string(c.kt), func(t *testing.T) {
			p := newCertPKI(t, c.kt)
			st := newCertSetup(t, c.extra)
			st.useCertificates(t, p)
			// secgwd initiates.
			st.gwInitiate(t, policy4)
			st.checkAgree(t, policy4.name)
			ping(t, st.top.gw, gwInner4, charonIn4)
			chLog := st.ch.ReadLog()
			if !regexp.MustCompile(`authentication of '` + gwID + `' with \S*` + regexp.QuoteMeta(c.charon) + `\S* successful`).MatchString(chLog) {
				t.Errorf("charon did not log secgwd's %s authentication:\n%s", c.charon, tailLines(chLog, 30))
			}
			if !strings.Contains(chLog, `received end entity cert "O=secgw test, CN=`+gwID+`"`) ||
				!strings.Contains(chLog, `received issuer cert "O=secgw test, CN=gw intermediate"`) {
				t.Errorf("charon did not receive secgwd's certificate and intermediate:\n%s", tailLines(chLog, 30))
			}
			if !strings.Contains(st.gw.readLog(), "authentication of peer with a certificate successful") {
				t.Error("secgwd did not log charon's certificate authentication")
			}
			// charon initiates.
			st.gw.mustCLI(t, "", "flush", "ike", "ike-sa", "vpn", ourVPNName)
			st.ch.initiate(t, policy4.name)
			st.checkAgree(t, policy4.name)
			ping(t, st.top.gw, gwInner4, charonIn4)

			state := st.gw.rpc(t, `<get><filter type="subtree"><vrf xmlns="`+nsVRF+`"><name>main</name><ike xmlns="`+nsIKE+`"><pki/></ike></vrf></filter></get>`)
			for _, want := range []string{"<name>certificate gw</name>", "<subject>O=secgw test, CN=" + gwID + "</subject>",
				"<issuer>O=secgw test, CN=gw intermediate</issuer>", "<used-by>" + ourVPNName + "</used-by>", "<name>ca-certificate root</name>",
				"<validity>valid</validity>"} {
				if !strings.Contains(state, want) {
					t.Errorf("certificate-state lacks %s:\n%s", want, state)
				}
			}
			show := st.gw.mustCLI(t, "", "show", "ike", "certificates")
			if !strings.Contains(show, "certificate gw\n  subject  \"O=secgw test, CN="+gwID+"\"\n  issuer   \"O=secgw test, CN=gw intermediate\"\n") ||
				!strings.Contains(show, ", valid\n  used by  "+ourVPNName+"\n") {
				t.Errorf("show ike certificates:\n%s", show)
			}
			cfg := st.gw.rpc(t, `<get-config><source><running/></source></get-config>`)
			key := string(p.gw.KeyPEM(t))
			if strings.Contains(cfg, "PRIVATE KEY") || strings.Contains(cfg, strings.Split(key, "\n")[1]) {
				t.Error("get-config holds the private key")
			}
			if strings.Contains(st.gw.readLog(), strings.Split(key, "\n")[1]) {
				t.Error("secgwd logged the private key")
			}
			if fi, err := os.Stat(filepath.Join(st.gw.dir, "data", "pki", "gw.key")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("gw.key: %v, mode %v; want 0600", err, fi)
			}
		})
	}
}

// TestCertificateRevoked: charon's certificate is on its intermediate
// CA's CRL, which secgwd loads as a crl-file: charon's IKE_AUTH is
// refused with AUTHENTICATION_FAILED, and secgwd's log says which
// certificate was revoked.
func TestCertificateRevoked(t *testing.T) {
	t.Parallel()
	p := newCertPKI(t, pkitest.P256)
	st := newCertSetup(t, "")
	st.gw.loadPKIFile(t, "inter.crl", pkitest.CRLPEM(p.chCA.CRL(t, p.ch)))
	st.useCertificates(t, p, "inter.crl")
	out, err := st.ch.Swanctl("--initiate", "--child", policy4.name, "--timeout", "10")
	if err == nil {
		t.Fatalf("charon with a revoked certificate got in:\n%s", out)
	}
	if !strings.Contains(out, "AUTHENTICATION_FAILED") {
		t.Errorf("charon's initiate says:\n%s\nwant AUTHENTICATION_FAILED", out)
	}
	want := fmt.Sprintf(`certificate \"O=secgw test, CN=%s\" (serial %s) is revoked`, charonID, p.ch.Cert.SerialNumber)
	if !eventually(5*time.Second, func() bool { return strings.Contains(st.gw.readLog(), want) }) {
		t.Errorf("secgwd's log lacks %s:\n%s", want, tailLines(st.gw.readLog(), 20))
	}
}

func tailLines(s string, n int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// certVPN is the certificate VPN of one of two secgwd (local and remote
// swapped on the other): its store holds its certificate with its
// intermediate, its key and the root.
func certVPN(t *testing.T, g *gateway, me, inter, root *pkitest.Cert, local, remote, localID, remoteID, localNet, remoteNet string) {
	t.Helper()
	g.loadPKIFile(t, "me.crt", append(me.CertPEM(), inter.CertPEM()...))
	g.loadPKIFile(t, "me.key", me.KeyPEM(t))
	g.loadPKIFile(t, "root.crt", root.CertPEM())
	p := "vpn site "
	g.configure(t,
		"pki certificate me certificate-file me.crt private-key-file me.key",
		"pki ca-certificate root certificate-file root.crt",
		p+"local-address "+local+" remote-address "+remote,
		p+"local-id "+localID+" remote-id "+remoteID,
		p+"ike-policy local-auth-method certificate remote-auth-method certificate certificate me ca-certificate root",
		p+"ike-policy ike-proposal 1 "+suiteGCM.ourIKE,
		p+"ipsec-policy esp-proposal 1 "+suiteGCM.ourESP,
		p+"security-policy "+policy4.name+" local-ts subnet "+localNet,
		p+"security-policy "+policy4.name+" remote-ts subnet "+remoteNet)
}

// TestCertificatesSecgwd: two secgwd authenticate each other with
// certificates of one root CA through an intermediate each, of different
// key types (RSA, signing with RSASSA-PSS, and Ed25519), configured over
// NETCONF: the site-to-site tunnel comes up, ping and TCP pass both
// ways, and an IKE SA rekey keeps it.
func TestCertificatesSecgwd(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	root := pkitest.NewCA(t, "secgw test root", pkitest.P384)
	interA := root.Issue(t, "site a intermediate", pkitest.P384, pkitest.Options{CA: true})
	interB := root.Issue(t, "site b intermediate", pkitest.P384, pkitest.Options{CA: true})
	a := interA.Issue(t, gwID, pkitest.RSA, pkitest.Options{DNS: []string{gwID}})
	b := interB.Issue(t, charonID, pkitest.Ed25519, pkitest.Options{DNS: []string{charonID}})
	top := newTopology(t)
	gw := startGateway(t, top.gw)
	peer := startGateway(t, top.charon)
	certVPN(t, gw, a, interA, root, gwOuter.String(), charonOuter.String(), gwID, charonID, gwNet4, charonNet4)
	certVPN(t, peer, b, interB, root, charonOuter.String(), gwOuter.String(), charonID, gwID, charonNet4, gwNet4)
	out := gw.mustCLI(t, "", "cmd", "ike", "initiate", "child-sa", "security-policy", policy4.name)
	if !strings.Contains(out, "established") {
		t.Fatalf("cmd ike initiate:\n%s", out)
	}
	ping(t, top.gw, gwInner4, charonIn4)
	tcpEcho(t, top.gw, gwInner4, top.charon, charonIn4)
	ping(t, top.charon, charonIn4, gwInner4)
	for name, g := range map[string]*gateway{"initiator": gw, "responder": peer} {
		if !strings.Contains(g.readLog(), `msg="authentication of peer with a certificate successful"`) ||
			!strings.Contains(g.readLog(), "method=14") {
			t.Errorf("%s did not log the peer's certificate authentication with method 14", name)
		}
	}
	peer.mustCLI(t, "", "cmd", "ike", "rekey", "ike-sa", "vpn", "site")
	if !eventually(10*time.Second, func() bool {
		return strings.Contains(peer.readLog(), "IKE SA rekeyed") && strings.Contains(gw.readLog(), "IKE SA rekeyed")
	}) {
		t.Fatalf("IKE SA not rekeyed")
	}
	ping(t, top.charon, charonIn4, gwInner4)
}
