// Package radiustest runs Debian's FreeRADIUS as a test AAA server: one
// daemon per test, in a network namespace, with its own configuration
// directory (a copy of Debian's /etc/freeradius/3.0 with the test's
// clients.conf, users file, EAP settings and certificates), run as
// `freeradius -X -d DIR` so that it logs every packet to a file of the
// test and writes its accounting detail files under DIR.
//
// The users file (mods-config/files/authorize) of a test is the
// FreeRADIUS side of secgw's remote-auth-method eap-radius, e.g.:
//
//	alice  Cleartext-Password := "alice-password"
//	       Framed-IP-Address = 10.9.0.5
//
// EAP-MSCHAPv2 and EAP-MD5 check Cleartext-Password; EAP-TLS checks the
// client certificate against the CA (Options.TLS) and needs no password.
package radiustest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"secgw/internal/poll"
	"secgw/test/gwtest"
)

// Path is Debian's FreeRADIUS daemon; Conf its configuration.
const (
	Path = "/usr/sbin/freeradius"
	Conf = "/etc/freeradius/3.0"
)

// Options are what a test's FreeRADIUS holds.
type Options struct {
	// Clients are the lines inside clients.conf's client block, besides
	// ipaddr (Client) and secret.
	Client, Secret string
	// Users is the users file (mods-config/files/authorize).
	Users string
	// EAPType is the eap module's default_eap_type (md5, mschapv2, tls).
	EAPType string
	// TLS, if set, are the PEM files of EAP-TLS: the server's
	// certificate and key, and the CA that signs the clients'.
	TLS *TLSFiles
	// Port is the authentication port (the accounting port is Port+1);
	// 0: 1812.
	Port int
}

// TLSFiles are PEM-encoded certificate material for EAP-TLS.
type TLSFiles struct {
	ServerCert, ServerKey, CA []byte
}

// Server is one FreeRADIUS daemon.
type Server struct {
	NS, Dir, Log string
	cmd          *exec.Cmd
}

// RequirePrerequisites fails the test when FreeRADIUS is missing; it
// never skips (test/install-deps.sh installs it).
func RequirePrerequisites(t testing.TB) {
	t.Helper()
	for _, f := range []string{Path, filepath.Join(Conf, "radiusd.conf")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("radiustest: missing %s: install Debian's freeradius (test/install-deps.sh)", f)
		}
	}
}

// Start writes the configuration and starts FreeRADIUS in namespace ns;
// it returns once the daemon is ready to process requests. t.Cleanup
// stops it and, when the test failed, logs the tail of its log.
func Start(t testing.TB, ns string, o Options) *Server {
	t.Helper()
	RequirePrerequisites(t)
	dir := t.TempDir()
	s := &Server{NS: ns, Dir: dir, Log: filepath.Join(dir, "radiusd.out")}
	if out, err := exec.Command("cp", "-rL", Conf+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("radiustest: copying %s: %v\n%s", Conf, err, out)
	}
	if err := s.configure(o); err != nil {
		t.Fatalf("radiustest: %v", err)
	}
	log, err := os.Create(s.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	s.cmd = exec.Command("ip", "netns", "exec", ns, Path, "-X", "-d", dir)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("radiustest: starting freeradius: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("freeradius log (%s), last lines:\n%s", s.Log, gwtest.Tail(s.ReadLog(), 120))
		}
	})
	if !poll.Until(15*time.Second, func() bool { return strings.Contains(s.ReadLog(), "Ready to process requests") }) {
		t.Fatalf("radiustest: freeradius did not start:\n%s", gwtest.Tail(s.ReadLog(), 60))
	}
	return s
}

// Stop stops the daemon.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// ReadLog returns the daemon's debug output so far.
func (s *Server) ReadLog() string {
	b, _ := os.ReadFile(s.Log)
	return string(b)
}

// Detail returns the accounting detail files' content so far (the
// detail module of the default site writes one file per client and day
// under radacct).
func (s *Server) Detail() string {
	var b strings.Builder
	filepath.Walk(filepath.Join(s.Dir, "log", "radacct"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		return nil
	})
	return b.String()
}

func (s *Server) configure(o Options) error {
	dir := s.Dir
	conf := filepath.Join(dir, "radiusd.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	text := string(b)
	for _, r := range []struct{ re, to string }{
		{`(?m)^raddbdir = .*$`, "raddbdir = " + dir},
		{`(?m)^logdir = .*$`, "logdir = " + filepath.Join(dir, "log")},
		{`(?m)^run_dir = .*$`, "run_dir = " + filepath.Join(dir, "run")},
		// Root all along: the test's directory is not the freerad
		// user's.
		{`(?m)^(\s*)user = `, "${1}#user = "},
		{`(?m)^(\s*)group = `, "${1}#group = "},
	} {
		text = regexp.MustCompile(r.re).ReplaceAllString(text, r.to)
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return err
	}
	for _, d := range []string{"log", "run", filepath.Join("log", "radacct")} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	client := o.Client
	if client == "" {
		client = "127.0.0.0/8"
	}
	clients := fmt.Sprintf("client secgw {\n\tipaddr = %s\n\tsecret = %s\n\trequire_message_authenticator = yes\n}\n", client, o.Secret)
	if err := os.WriteFile(filepath.Join(dir, "clients.conf"), []byte(clients), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "mods-config", "files", "authorize"), []byte(o.Users), 0o600); err != nil {
		return err
	}
	if o.Port != 0 {
		site := filepath.Join(dir, "sites-enabled", "default")
		b, err := os.ReadFile(site)
		if err != nil {
			return err
		}
		// The default site's listen sections: port 0 is the
		// services' (1812, 1813), the first auth, the second acct.
		n := 0
		text := regexp.MustCompile(`(?m)^(\s*)port = 0$`).ReplaceAllStringFunc(string(b), func(m string) string {
			n++
			if n > 2 {
				return m
			}
			return strings.Replace(m, "port = 0", fmt.Sprintf("port = %d", o.Port+n-1), 1)
		})
		if err := os.WriteFile(site, []byte(text), 0o600); err != nil {
			return err
		}
	}
	eap := filepath.Join(dir, "mods-enabled", "eap")
	b, err = os.ReadFile(eap)
	if err != nil {
		return err
	}
	text = string(b)
	if o.EAPType != "" {
		// The first default_eap_type is the eap module's own (the
		// others are those of ttls and peap inside).
		if loc := regexp.MustCompile(`default_eap_type = \w+`).FindStringIndex(text); loc != nil {
			text = text[:loc[0]] + "default_eap_type = " + o.EAPType + text[loc[1]:]
		}
	}
	if o.TLS != nil {
		files := map[string][]byte{"server.pem": o.TLS.ServerCert, "server.key": o.TLS.ServerKey, "ca.pem": o.TLS.CA}
		for n, data := range files {
			if err := os.WriteFile(filepath.Join(dir, "certs", n), data, 0o600); err != nil {
				return err
			}
		}
		for _, r := range []struct{ re, to string }{
			{`(?m)^(\s*)private_key_password = .*$`, "${1}#private_key_password"},
			{`(?m)^(\s*)private_key_file = .*$`, "${1}private_key_file = " + filepath.Join(dir, "certs", "server.key")},
			{`(?m)^(\s*)certificate_file = .*$`, "${1}certificate_file = " + filepath.Join(dir, "certs", "server.pem")},
			{`(?m)^(\s*)ca_file = .*$`, "${1}ca_file = " + filepath.Join(dir, "certs", "ca.pem")},
		} {
			text = regexp.MustCompile(r.re).ReplaceAllString(text, r.to)
		}
	}
	return os.WriteFile(eap, []byte(text), 0o600)
}
