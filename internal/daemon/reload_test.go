package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"golang.org/x/crypto/ssh"

	"secgw/internal/ncclient"
)

// writeCert writes a self-signed certificate with serial and its key.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "metrics"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// servedSerial is the serial of the certificate the endpoint serves.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("tls dial %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestReloadMetricsTLS: Reload (SIGHUP) makes a TLS metrics endpoint
// serve the certificate now in its files, without a commit; files that
// no longer load leave the endpoint serving the previous one, and
// Reload says so.
func TestReloadMetricsTLS(t *testing.T) {
	tmp := t.TempDir()
	certFile, keyFile := filepath.Join(tmp, "cert.pem"), filepath.Join(tmp, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	d, err := New(Config{Dir: filepath.Join(tmp, "data"), Listen: "127.0.0.1:0", Dataplane: DataplaneFake})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	defer stop()
	s, err := ncclient.Dial(d.Addr().String(), &ssh.ClientConfig{User: "admin",
		Auth: []ssh.AuthMethod{ssh.Password(d.CreatedPassword())}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	port := freePort(t)
	for _, op := range []string{
		fmt.Sprintf(`<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>`+
			`<kpi xmlns="urn:secgw:yang:secgw-kpi"><prometheus><enabled>true</enabled><listen-address>127.0.0.1</listen-address>`+
			`<port>%d</port><tls><certificate-file>%s</certificate-file><key-file>%s</key-file></tls></prometheus></kpi></vrf></config></edit-config>`,
			port, certFile, keyFile),
		`<commit/>`,
	} {
		if _, err := s.Exec(gonetconf.RawMethod(op)); err != nil {
			t.Fatalf("%.40s: %v", op, err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if got := servedSerial(t, addr); got != 1 {
		t.Fatalf("serial %d served, want 1", got)
	}
	writeCert(t, certFile, keyFile, 2)
	if got := servedSerial(t, addr); got != 1 {
		t.Errorf("serial %d served before the reload, want 1 (files read at start)", got)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, addr); got != 2 {
		t.Errorf("serial %d served after the reload, want 2", got)
	}
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err == nil {
		t.Error("Reload with a broken key file reports no error")
	}
	if got := servedSerial(t, addr); got != 2 {
		t.Errorf("serial %d served after a failed reload, want 2 (kept)", got)
	}
}
