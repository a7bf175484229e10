package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestCLIPath turns error-path instance identifiers into the CLI's
// paths.
func TestCLIPath(t *testing.T) {
	for in, want := range map[string]string{
		"/vrf:vrf[vrf:name='main']/ike:ike/ike:vpn[ike:name='hq']/ike:local-address": "/ vrf main ike vpn hq local-address",
		"/vrf[name='main']/ike/vpn[name='head quarters']":                            `/ vrf main ike vpn "head quarters"`,
		"/vrf[name='main']/ike/vpn[name=\"a/b]\"]/vip-request[.='::']":               "/ vrf main ike vpn a/b] vip-request ::",
		"/vrf[name='main']/ike/ike-policy-template[name='t']/ike-proposal[id='1']":   "/ vrf main ike ike-policy-template t ike-proposal 1",
		"/":             "/",
		"vrf/ike":       "",
		"/vrf[name=x]":  "",
		"/vrf[name='x'": "",
	} {
		if got := cliPath(in); got != want {
			t.Errorf("cliPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCommitOp checks the <commit> the options make.
func TestCommitOp(t *testing.T) {
	for _, c := range []struct {
		opt  CommitOptions
		want string
	}{
		{CommitOptions{}, `<commit></commit>`},
		{CommitOptions{Confirmed: true}, `<commit><confirmed/></commit>`},
		{CommitOptions{Confirmed: true, Timeout: 90 * time.Second, Comment: `a <b> & "c"`},
			`<commit><confirmed/><confirm-timeout>90</confirm-timeout><comment xmlns="urn:secgw:yang:secgw-config">a &lt;b&gt; &amp; &#34;c&#34;</comment></commit>`},
	} {
		if got := commitOp(c.opt); got != c.want {
			t.Errorf("%+v: %s, want %s", c.opt, got, c.want)
		}
	}
}

// TestConfigModeLocks: configuration mode locks the candidate then
// running, and releases them in the reverse order on exit and at the
// end of the session; the commit words reach the backend.
func TestConfigModeLocks(t *testing.T) {
	s := loadSchema(t)
	m := newMem(t, s, nil, nil)
	var buf bytes.Buffer
	c := New(s, m, &buf)
	mustRun(t, c, &buf, "edit running")
	mustRun(t, c, &buf, "/ vrf main ike global-options threads 3")
	mustRun(t, c, &buf, `commit comment "three threads"`)
	mustRun(t, c, &buf, "exit")
	mustRun(t, c, &buf, "edit running")
	if _, err := c.End(); err != nil {
		t.Fatal(err)
	}
	want := "lock candidate,lock running,unlock running,unlock candidate,lock candidate,lock running,unlock running,unlock candidate"
	if got := strings.Join(m.locks, ","); got != want {
		t.Errorf("locks %s, want %s", got, want)
	}
	if len(m.commits) != 1 || m.commits[0].Comment != "three threads" || m.commits[0].Confirmed {
		t.Errorf("commits %+v", m.commits)
	}
	for _, c2 := range []struct{ line, want string }{
		{"commit now", `unexpected word "now" after commit`},
		{"commit comment", "commit comment needs a text"},
		{"commit confirmed 0", "seconds from 1"},
		{"commit check confirmed", "commit check only validates"},
		{"rollback", "rollback takes one commit id"},
		{"rollback x", "a commit id is a number"},
	} {
		mustRun(t, c, &buf, "edit running")
		if err := c.Run(c2.line); err == nil || !strings.Contains(err.Error(), c2.want) {
			t.Errorf("%s: %v, want %q", c2.line, err, c2.want)
		}
		mustRun(t, c, &buf, "exit discard")
	}
}

// lockingBackend refuses locks as secgwd does when another session
// holds them.
type lockingBackend struct {
	*memBackend
	refuse map[string]error
}

func (l lockingBackend) Lock(target string) error {
	if err := l.refuse[target]; err != nil {
		return err
	}
	return l.memBackend.Lock(target)
}

// TestLockRefused: configuration mode is refused, with the holder's
// session and user, and no lock stays taken when the second one fails.
func TestLockRefused(t *testing.T) {
	s := loadSchema(t)
	m := newMem(t, s, nil, nil)
	held := RPCErrors{{Type: "protocol", Tag: "lock-denied", Message: "the running datastore is locked by session 7 (user alice)",
		Info: map[string]string{"session-id": "7"}}}
	var buf bytes.Buffer
	c := New(s, lockingBackend{m, map[string]error{"running": held}}, &buf)
	err := c.Run("edit running")
	want := "configuration mode is taken: NETCONF session 7 (user alice) holds the lock of the running datastore"
	if err == nil || !strings.Contains(err.Error(), want) || c.InConfig() {
		t.Fatalf("edit running: %v (config mode %v)", err, c.InConfig())
	}
	if got := strings.Join(m.locks, ","); got != "lock candidate,unlock candidate" {
		t.Errorf("locks %s", got)
	}
	dirty := RPCErrors{{Type: "protocol", Tag: "lock-denied", Message: "the candidate holds uncommitted changes of session 4: commit or discard them first",
		Info: map[string]string{"session-id": "0"}}}
	c = New(s, lockingBackend{m, map[string]error{"candidate": dirty}}, &buf)
	if err := c.Run("edit running"); err == nil || !strings.Contains(err.Error(), "configuration mode is not available: the candidate holds uncommitted changes of session 4") {
		t.Errorf("edit running on a dirty candidate: %v", err)
	}
	other := errors.New("cli: the server closed the session")
	c = New(s, lockingBackend{m, map[string]error{"candidate": other}}, &buf)
	if err := c.Run("edit running"); !errors.Is(err, other) {
		t.Errorf("edit running on a lost session: %v", err)
	}
}

// TestDiff compares two configurations as 'show config diff' prints
// them.
func TestDiff(t *testing.T) {
	s := loadSchema(t)
	m := newMem(t, s, []byte(`<vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name><ike xmlns="urn:secgw:yang:secgw-ike">`+
		`<vpn><name>a</name><remote-address>192.0.2.1</remote-address><vip-request>0.0.0.0</vip-request></vpn>`+
		`<vpn><name>b</name><security-policy><name>p</name><local-ts><subnet>10.0.0.0/8</subnet></local-ts></security-policy></vpn>`+
		`</ike></vrf>`), nil)
	var buf bytes.Buffer
	c := New(s, m, &buf)
	if out := mustRun(t, c, &buf, "show config diff"); out != "No uncommitted changes.\n" {
		t.Errorf("no changes: %q", out)
	}
	mustRun(t, c, &buf, "edit running")
	for _, l := range []string{
		"/ vrf main ike vpn a remote-address 192.0.2.2",
		"/ vrf main ike vpn a vip-request ::",
		"del / vrf main ike vpn a vip-request 0.0.0.0",
		"/ vrf main ike vpn b security-policy p local-ts subnet 10.1.0.0/16",
		"/ vrf main ike vpn c description new",
	} {
		mustRun(t, c, &buf, l)
	}
	want := `  vrf main
      ike
          vpn a
-             remote-address 192.0.2.1
+             remote-address 192.0.2.2
-             vip-request 0.0.0.0
+             vip-request ::
              ..
          vpn b
              security-policy p
-                 local-ts subnet 10.0.0.0/8
+                 local-ts subnet 10.1.0.0/16
                  ..
              ..
+         vpn c
+             description new
+             ..
          ..
      ..
`
	if out := mustRun(t, c, &buf, "compare"); out != want {
		t.Errorf("compare:\n%s\nwant:\n%s%s", out, want, diff(out, want))
	}
}

// TestValuesCheckedAsTyped: a value outside the model's value space is
// refused when typed, naming the path as typed and what the model
// accepts, and the candidate is not touched; a secret's value is never
// repeated.
func TestValuesCheckedAsTyped(t *testing.T) {
	s := loadSchema(t)
	m := newMem(t, s, nil, nil)
	var buf bytes.Buffer
	c := New(s, m, &buf)
	mustRun(t, c, &buf, "edit running")
	for line, want := range map[string]string{
		"/ vrf main ike global-options retransmit-tries 101":                   `cli: / vrf main ike global-options retransmit-tries: bad value "101": out of range 0..100`,
		"/ vrf main ike vpn v local-address 300.1.1.1":                         `cli: / vrf main ike vpn v local-address: bad value "300.1.1.1": expected ipv4-address|ipv6-address`,
		"/ vrf main ike vpn v security-policy p local-ts subnet 10.0.0.0/33":   `cli: / vrf main ike vpn v security-policy p local-ts subnet: bad value "10.0.0.0/33": expected ipv4-prefix|ipv6-prefix`,
		`/ vrf main ike vpn v ike-policy pre-shared-key ""`:                    `cli: / vrf main ike vpn v ike-policy pre-shared-key: the value is not valid (string length 1..1024)`,
		"/ vrf main ike ipsec-policy-template t esp-proposal 1 enc-alg aes999": `"aes999" is not one of aes128-cbc,`,
	} {
		err := c.Run(line)
		if err == nil || !strings.HasPrefix(err.Error(), want) && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", line, err, want)
		}
	}
	if len(m.requests) != 0 {
		t.Errorf("the candidate was edited: %q", m.requests)
	}
}
