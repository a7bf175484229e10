package transport

import (
	"encoding/xml"
	"fmt"
	"secgw/internal/netconf/framing"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"secgw/internal/rpcerr"
)

func TestHelloExchange(t *testing.T) {
	for _, tc := range []struct {
		name    string
		caps    []string
		chunked bool
	}{
		{"base 1.0 and 1.1", []string{CapBase10, CapBase11}, true},
		{"base 1.1 only", []string{CapBase11}, true},
		{"base 1.0 only", []string{CapBase10, testCap}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServer(t, Config{})
			c := dial(t, addr)
			if c.hello.SessionID == 0 {
				t.Fatal("server hello has no session-id")
			}
			for _, want := range []string{CapBase10, CapBase11, testCap} {
				if !hasCap(c.hello.Capabilities, want) {
					t.Fatalf("server hello lacks %q: %q", want, c.hello.Capabilities)
				}
			}
			c.sendHello(tc.caps...)
			// The client's reader now expects the negotiated framing; the
			// reply can only be read if the server switched too.
			if _, ok := c.r.(*framing.ChunkedReader); ok != tc.chunked {
				t.Fatalf("client framing chunked=%v, want %v", ok, tc.chunked)
			}
			for i := 1; i <= 3; i++ {
				r := parseReply(t, c.rpc("<get/>"))
				if r.MessageID != fmt.Sprint(i) || r.Probe == nil {
					t.Fatalf("reply %d: %+v", i, r)
				}
				p := r.Probe
				if p.Session != c.hello.SessionID || p.Op != "get" || p.NS != NSBase || p.User != testUser || p.Role != testRole {
					t.Fatalf("handler saw %+v", *p)
				}
			}
		})
	}
}

// TestReplyEchoesAttributes uses the example of RFC 6241 §4.2: every
// attribute of <rpc>, namespace declarations included, is returned on
// <rpc-reply>. The request is sent in several chunks.
func TestReplyEchoesAttributes(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := dial(t, addr)
	c.sendHello(CapBase10, CapBase11)
	c.w.(*framing.ChunkedWriter).MaxChunk = 7
	c.send(`<rpc message-id="101" xmlns="` + NSBase + `" xmlns:ex="http://example.net/content/1.0" ex:user-id="fred"><lock/></rpc>`)
	msg := c.recv()
	want := `<rpc-reply xmlns="` + NSBase + `" message-id="101" xmlns:ex="http://example.net/content/1.0" ex:user-id="fred"><ok/></rpc-reply>`
	if msg != want {
		t.Fatalf("reply\n%s\nwant\n%s", msg, want)
	}
	r := parseReply(t, msg)
	found := false
	for _, a := range r.Attrs {
		if a.Name == (xml.Name{Space: "http://example.net/content/1.0", Local: "user-id"}) && a.Value == "fred" {
			found = true
		}
	}
	if !found || r.OK == nil {
		t.Fatalf("reply %+v lacks ex:user-id or <ok/>", r)
	}
}

// TestPrefixedRPC sends <rpc> with a namespace prefix, as ncclient does.
func TestPrefixedRPC(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := dial(t, addr)
	c.sendHello(CapBase10, CapBase11)
	c.send(`<nc:rpc xmlns:nc="` + NSBase + `" message-id="urn:uuid:1"><nc:get/></nc:rpc>`)
	r := parseReply(t, c.recv())
	if r.MessageID != "urn:uuid:1" || r.Probe == nil || r.Probe.NS != NSBase {
		t.Fatalf("reply %+v", r)
	}
}

func TestMissingMessageID(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := dial(t, addr)
	c.sendHello(CapBase10, CapBase11)
	c.send(`<rpc xmlns="` + NSBase + `" other="x"><get/></rpc>`)
	r := wantError(t, c.recv(), rpcerr.TypeRPC, rpcerr.TagMissingAttribute)
	if info := r.Errors[0].Info; info.BadAttribute != "message-id" || info.BadElement != "rpc" {
		t.Fatalf("error-info %+v", info)
	}
	if v, ok := r.attr("other"); r.MessageID != "" || !ok || v != "x" {
		t.Fatalf("attributes not echoed as sent: %+v", r.Attrs)
	}
	if r := parseReply(t, c.rpc("<get/>")); r.Probe == nil {
		t.Fatal("session unusable after the error")
	}
}

// badMessages are answered with malformed-message (base:1.1) or
// operation-failed (base:1.0), and the session goes on.
var badMessages = []struct{ name, msg, echoedID string }{
	{"not XML", "this is not XML", ""},
	{"white space only", "  \n ", ""},
	{"unclosed element", `<rpc message-id="1" xmlns="` + NSBase + `"><get></rpc>`, ""},
	{"not an rpc", `<get-config message-id="1" xmlns="` + NSBase + `"/>`, ""},
	{"rpc without namespace", `<rpc message-id="1"><get/></rpc>`, ""},
	{"rpc in another namespace", `<rpc message-id="1" xmlns="urn:other"><get/></rpc>`, ""},
	{"no operation", `<rpc message-id="7" xmlns="` + NSBase + `"/>`, "7"},
	{"two operations", `<rpc message-id="8" xmlns="` + NSBase + `"><get/><get/></rpc>`, "8"},
	{"text in rpc", `<rpc message-id="1" xmlns="` + NSBase + `">hello<get/></rpc>`, ""},
	{"two roots", `<rpc message-id="1" xmlns="` + NSBase + `"><get/></rpc><rpc/>`, ""},
	{"text after root", `<rpc message-id="1" xmlns="` + NSBase + `"><get/></rpc>x`, ""},
	{"DTD", `<!DOCTYPE rpc [<!ENTITY e "x">]><rpc message-id="1" xmlns="` + NSBase + `"><get/></rpc>`, ""},
	{"duplicate attribute", `<rpc message-id="1" message-id="2" xmlns="` + NSBase + `"><get/></rpc>`, ""},
	{"undefined entity", `<rpc message-id="1" xmlns="` + NSBase + `"><get>&nope;</get></rpc>`, ""},
	{"non-UTF-8 encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><rpc message-id="1" xmlns="` + NSBase + `"><get/></rpc>`, ""},
}

func TestMalformedMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps []string
		tag  string
	}{
		{"base 1.1", []string{CapBase10, CapBase11}, rpcerr.TagMalformedMessage},
		{"base 1.0", []string{CapBase10}, rpcerr.TagOperationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServer(t, Config{})
			c := dial(t, addr)
			c.sendHello(tc.caps...)
			for _, bad := range badMessages {
				c.send(bad.msg)
				r := wantError(t, c.recv(), rpcerr.TypeRPC, tc.tag)
				if r.MessageID != bad.echoedID {
					t.Errorf("%s: message-id %q, want %q", bad.name, r.MessageID, bad.echoedID)
				}
				if r.Errors[0].Message == "" {
					t.Errorf("%s: no error-message", bad.name)
				}
			}
			if r := parseReply(t, c.rpc("<get/>")); r.Probe == nil {
				t.Fatal("session unusable after the errors")
			}
		})
	}
}

func TestHandlerPanicAndEmptyReply(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := dial(t, addr)
	c.sendHello(CapBase11)
	r := wantError(t, c.rpc("<boom/>"), rpcerr.TypeApplication, rpcerr.TagOperationFailed)
	if r.MessageID != "1" {
		t.Fatalf("message-id %q", r.MessageID)
	}
	if r := parseReply(t, c.rpc("<lock/>")); r.OK == nil {
		t.Fatal("empty handler reply is not <ok/>")
	}
}

func TestBadClientHello(t *testing.T) {
	for _, tc := range []struct{ name, hello string }{
		{"session-id", `<hello xmlns="` + NSBase + `"><capabilities><capability>` + CapBase11 +
			`</capability></capabilities><session-id>4</session-id></hello>`},
		{"no base capability", helloMsg(testCap)},
		{"no capabilities", `<hello xmlns="` + NSBase + `"/>`},
		{"malformed XML", `<hello xmlns="` + NSBase + `"><capabilities>`},
		{"wrong namespace", `<hello><capabilities><capability>` + CapBase10 + `</capability></capabilities></hello>`},
		{"rpc instead of hello", `<rpc message-id="1" xmlns="` + NSBase + `"><get/></rpc>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startServer(t, Config{})
			c := dial(t, addr)
			c.send(tc.hello)
			c.expectEOF()
			waitFor(t, "session removal", func() bool { return len(srv.Sessions()) == 0 })
		})
	}
}

// TestSubsystemRefused checks that only the netconf subsystem is served:
// shell, exec, pty-req and other subsystems are refused, env is declined
// without closing the channel.
func TestSubsystemRefused(t *testing.T) {
	_, addr := startServer(t, Config{})
	sc, err := dialSSH(addr, passwordConfig(testUser, testPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	for _, tc := range []struct {
		name string
		try  func(*ssh.Session) error
	}{
		{"shell", func(s *ssh.Session) error { return s.Shell() }},
		{"exec", func(s *ssh.Session) error { return s.Start("id") }},
		{"pty", func(s *ssh.Session) error { return s.RequestPty("xterm", 24, 80, nil) }},
		{"sftp", func(s *ssh.Session) error { return s.RequestSubsystem("sftp") }},
		{"netconf-like", func(s *ssh.Session) error { return s.RequestSubsystem("netconf2") }},
	} {
		s, err := sc.NewSession()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := tc.try(s); err == nil {
			t.Errorf("%s was accepted", tc.name)
		}
		s.Close()
	}
	// Other channel types are rejected.
	if _, _, err := sc.OpenChannel("direct-tcpip", nil); err == nil {
		t.Error("direct-tcpip channel accepted")
	}
	// env is declined, but the channel can still start netconf.
	s, err := sc.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Setenv("LANG", "C"); err == nil {
		t.Error("env request accepted")
	}
	s.Close()
	c := startNetconf(t, sc)
	c.sendHello(CapBase11)
	if r := parseReply(t, c.rpc("<get/>")); r.Probe == nil {
		t.Fatal("netconf after refusals failed")
	}
}

func TestAuthentication(t *testing.T) {
	signer := newTestSigner(t)
	srv, addr := startServer(t, Config{Auth: testAuth(signer.PublicKey())})
	for _, cfg := range []*ssh.ClientConfig{
		passwordConfig(testUser, "wrong"),
		passwordConfig("nobody", testPassword),
		{User: "operator", Auth: []ssh.AuthMethod{ssh.PublicKeys(newTestSigner(t))}, HostKeyCallback: ssh.InsecureIgnoreHostKey()},
	} {
		if sc, err := dialSSH(addr, cfg); err == nil {
			sc.Close()
			t.Errorf("user %q authenticated with bad credentials", cfg.User)
		} else if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("user %q: %v", cfg.User, err)
		}
	}
	sc, err := dialSSH(addr, &ssh.ClientConfig{User: "operator", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatalf("public key: %v", err)
	}
	c := startNetconf(t, sc)
	c.sendHello(CapBase11)
	r := parseReply(t, c.rpc("<get/>"))
	if r.Probe == nil || r.Probe.User != "op" || r.Probe.Role != "operator-role" {
		t.Fatalf("reply %+v", r)
	}
	infos := srv.Sessions()
	if len(infos) != 1 || infos[0].User != "op" || infos[0].Role != "operator-role" || infos[0].ID != c.hello.SessionID {
		t.Fatalf("Sessions() = %+v", infos)
	}
}
