package transport

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"secgw/internal/netconf/framing"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"secgw/internal/rpcerr"
)

// hookHandler registers an OnClose hook on <lock> and otherwise behaves
// like probeHandler.
func hookHandler(rec *recorder) Handler {
	return HandlerFunc(func(ctx context.Context, s *Session, rpc *RPC) []byte {
		if rpc.Operation.Local == "lock" {
			s.OnClose(func() { rec.add(fmt.Sprintf("closed %d", s.ID())) })
			return nil
		}
		return probeHandler(ctx, s, rpc)
	})
}

func TestCloseSession(t *testing.T) {
	rec := &recorder{}
	srv, addr := startServer(t, Config{Handler: hookHandler(rec)})
	c := dial(t, addr)
	c.sendHello(CapBase10, CapBase11)
	c.rpc("<lock/>")
	if r := parseReply(t, c.rpc("<close-session/>")); r.OK == nil || r.MessageID != "2" {
		t.Fatalf("close-session reply %+v", r)
	}
	c.expectEOF()
	waitFor(t, "session removal", func() bool { return len(srv.Sessions()) == 0 })
	if got := rec.list(); !slices.Equal(got, []string{fmt.Sprint("closed ", c.hello.SessionID)}) {
		t.Fatalf("hooks: %q", got)
	}
}

func TestKill(t *testing.T) {
	rec := &recorder{}
	srv, addr := startServer(t, Config{Handler: hookHandler(rec)})
	victim := dial(t, addr)
	victim.sendHello(CapBase11)
	victim.rpc("<lock/>")
	other := dial(t, addr)
	other.sendHello(CapBase10)

	infos := srv.Sessions()
	if len(infos) != 2 || infos[0].ID != victim.hello.SessionID || infos[1].ID != other.hello.SessionID {
		t.Fatalf("Sessions() = %+v", infos)
	}
	for _, in := range infos {
		if in.User != testUser || in.Role != testRole || in.RemoteAddr == nil || time.Since(in.Start) > time.Minute {
			t.Fatalf("session info %+v", in)
		}
	}
	if err := srv.Kill(victim.hello.SessionID); err != nil {
		t.Fatal(err)
	}
	// The hooks ran before Kill returned.
	if got := rec.list(); !slices.Equal(got, []string{fmt.Sprint("closed ", victim.hello.SessionID)}) {
		t.Fatalf("hooks after Kill: %q", got)
	}
	victim.expectEOF()
	if err := srv.Kill(victim.hello.SessionID); err == nil || !strings.HasPrefix(err.Error(), "netconf: ") {
		t.Fatalf("second Kill: %v", err)
	}
	if infos := srv.Sessions(); len(infos) != 1 || infos[0].ID != other.hello.SessionID {
		t.Fatalf("Sessions() after Kill = %+v", infos)
	}
	if r := parseReply(t, other.rpc("<get/>")); r.Probe == nil {
		t.Fatal("other session affected by Kill")
	}
}

// TestKillCancelsRunningRPC kills a session whose handler is blocked.
func TestKillCancelsRunningRPC(t *testing.T) {
	started := make(chan *Session, 1)
	handler := HandlerFunc(func(ctx context.Context, s *Session, rpc *RPC) []byte {
		started <- s
		<-ctx.Done()
		return nil
	})
	srv, addr := startServer(t, Config{Handler: handler})
	c := dial(t, addr)
	c.sendHello(CapBase11)
	c.send(`<rpc message-id="1" xmlns="` + NSBase + `"><slow/></rpc>`)
	s := <-started
	if err := srv.Kill(s.ID()); err != nil {
		t.Fatal(err)
	}
	if s.Context().Err() == nil {
		t.Fatal("context not cancelled")
	}
	c.expectEOF()
	if err := s.Notify([]byte("<x/>")); err != ErrSessionClosed {
		t.Fatalf("Notify after kill: %v", err)
	}
}

func TestHelloTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	srv, addr := startServer(t, Config{HelloTimeout: timeout})

	// A client that never sends its hello.
	start := time.Now()
	c := dial(t, addr)
	c.expectEOF()
	if d := time.Since(start); d < timeout {
		t.Fatalf("session ended after %v, before the hello timeout", d)
	}
	waitFor(t, "session removal", func() bool { return len(srv.Sessions()) == 0 })

	// A client that connects but never speaks SSH.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	if _, err := io.ReadAll(nc); err != nil {
		t.Fatalf("silent TCP client: %v", err)
	}

	// An SSH client that opens a channel but never starts a subsystem.
	sc, err := dialSSH(addr, passwordConfig(testUser, testPassword))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.NewSession(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, "idle SSH connection close", func() { _ = sc.Wait() })
}

// waitDone runs f and fails if it does not return within testTimeout.
func waitDone(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestMaxMessageSize(t *testing.T) {
	const limit = 1024
	for _, tc := range []struct {
		name string
		caps []string
		send func(c *client)
		tag  string
	}{
		{"chunked header", []string{CapBase11}, func(c *client) {
			fmt.Fprintf(c.stdin, "\n#%d\n", limit+1)
		}, rpcerr.TagMalformedMessage},
		{"chunked total", []string{CapBase11}, func(c *client) {
			w := c.w.(*framing.ChunkedWriter)
			w.MaxChunk = 100
			c.send(`<rpc message-id="1" xmlns="` + NSBase + `"><get>` + strings.Repeat(" ", limit) + `</get></rpc>`)
		}, rpcerr.TagMalformedMessage},
		{"end-of-message", []string{CapBase10}, func(c *client) {
			_, _ = io.WriteString(c.stdin, strings.Repeat("x", 2*limit))
		}, rpcerr.TagOperationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServer(t, Config{MaxMessageSize: limit})
			c := dial(t, addr)
			c.sendHello(tc.caps...)
			// A message of exactly the limit is fine.
			op := "<get>" + strings.Repeat(" ", limit-len(`<rpc message-id="1" xmlns="`+NSBase+`"><get></get></rpc>`)) + "</get>"
			if r := parseReply(t, c.rpc(op)); r.Probe == nil {
				t.Fatalf("message of exactly the limit refused: %+v", r)
			}
			tc.send(c)
			r := wantError(t, c.recv(), rpcerr.TypeRPC, tc.tag)
			if !strings.Contains(r.Errors[0].Message, "maximum size") {
				t.Fatalf("error-message %q", r.Errors[0].Message)
			}
			c.expectEOF()
		})
	}
}

func TestMalformedChunkEndsSession(t *testing.T) {
	for _, frame := range []string{"\n#0\n", "\n#012\n", "#5\n<rpc>", "\n##\n", "\n#4294967296\n"} {
		_, addr := startServer(t, Config{})
		c := dial(t, addr)
		c.sendHello(CapBase11)
		_, _ = io.WriteString(c.stdin, frame)
		wantError(t, c.recv(), rpcerr.TypeRPC, rpcerr.TagMalformedMessage)
		c.expectEOF()
	}
}

func TestConcurrentSessions(t *testing.T) {
	const n = 50
	// One user from one address: lift the limits per user and per source.
	srv, addr := startServer(t, Config{Limits: Limits{MaxSessionsPerUser: -1, MaxUnauthenticatedPerSource: -1}})
	ready, proceed := make(chan struct{}, n), make(chan struct{})
	ids := make(chan uint32, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := dial(t, addr)
			if i%2 == 0 {
				c.sendHello(CapBase10, CapBase11)
			} else {
				c.sendHello(CapBase10)
			}
			ready <- struct{}{}
			<-proceed
			for j := 1; j <= 5; j++ {
				r := parseReply(t, c.rpc("<get/>"))
				if r.MessageID != fmt.Sprint(j) || r.Probe == nil || r.Probe.Session != c.hello.SessionID {
					t.Errorf("session %d reply %d: %+v", c.hello.SessionID, j, r)
					return
				}
			}
			ids <- c.hello.SessionID
		})
	}
	for range n {
		<-ready
	}
	if got := len(srv.Sessions()); got != n {
		t.Errorf("Sessions() lists %d sessions, want %d", got, n)
	}
	close(proceed)
	wg.Wait()
	close(ids)
	seen := map[uint32]bool{}
	for id := range ids {
		if id == 0 || seen[id] {
			t.Fatalf("session-id %d zero or repeated", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Fatalf("%d sessions completed, want %d", len(seen), n)
	}
}

func TestSessionIDsIncrease(t *testing.T) {
	_, addr := startServer(t, Config{})
	for want := uint32(1); want <= 4; want++ {
		c := dial(t, addr)
		if c.hello.SessionID != want {
			t.Fatalf("session-id %d, want %d", c.hello.SessionID, want)
		}
		c.ssh.Close()
	}
}

func TestMaxSessions(t *testing.T) {
	srv, addr := startServer(t, Config{MaxSessions: 2})
	a, b := dial(t, addr), dial(t, addr)
	sc, err := dialSSH(addr, passwordConfig(testUser, testPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	s, err := sc.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestSubsystem("netconf"); err == nil {
		t.Fatal("third session accepted with MaxSessions 2")
	}
	if err := srv.Kill(a.hello.SessionID); err != nil {
		t.Fatal(err)
	}
	c := startNetconf(t, sc) // a slot is free again
	c.sendHello(CapBase11)
	b.sendHello(CapBase11)
	for _, cl := range []*client{b, c} {
		if r := parseReply(t, cl.rpc("<get/>")); r.Probe == nil {
			t.Fatalf("reply %+v", r)
		}
	}
}

func TestHostKeyPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "netconf_host_ed25519")
	fingerprint := func() string {
		var got ssh.PublicKey
		_, addr := startServer(t, Config{HostKeyFile: path})
		cfg := passwordConfig(testUser, testPassword)
		cfg.HostKeyCallback = func(_ string, _ net.Addr, k ssh.PublicKey) error { got = k; return nil }
		sc, err := dialSSH(addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		sc.Close()
		if got.Type() != ssh.KeyAlgoED25519 {
			t.Fatalf("host key type %s", got.Type())
		}
		return ssh.FingerprintSHA256(got)
	}
	first := fingerprint()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %04o, want 0600", fi.Mode().Perm())
	}
	if second := fingerprint(); second != first {
		t.Fatalf("host key changed across restarts: %s then %s", first, second)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("stray files next to the host key: %v", entries)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewServer(Config{HostKeyFile: path, Auth: testAuth(), Handler: HandlerFunc(probeHandler)})
	if err == nil || !strings.HasPrefix(err.Error(), "netconf: ") {
		t.Fatalf("world-readable host key: err = %v", err)
	}
}

// TestNotifyInterleaving sends notifications from another goroutine while
// RPCs are answered: every message must arrive whole and replies in order.
func TestNotifyInterleaving(t *testing.T) {
	const notifications, rpcs = 200, 50
	var wg sync.WaitGroup
	handler := HandlerFunc(func(ctx context.Context, s *Session, rpc *RPC) []byte {
		if rpc.Operation.Local == "create-subscription" {
			wg.Go(func() {
				for i := range notifications {
					if err := s.Notify(fmt.Appendf(nil, `<event xmlns="urn:test:ev"><n>%d</n></event>`, i)); err != nil {
						t.Errorf("Notify: %v", err)
						return
					}
				}
			})
		}
		return probeHandler(ctx, s, rpc)
	})
	_, addr := startServer(t, Config{Handler: handler})
	for _, caps := range [][]string{{CapBase11}, {CapBase10}} {
		c := dial(t, addr)
		c.sendHello(caps...)
		go func() {
			for i := 1; i <= rpcs; i++ {
				c.send(fmt.Sprintf(`<rpc message-id="%d" xmlns="%s"><%s/></rpc>`, i, NSBase,
					map[bool]string{true: "create-subscription", false: "get"}[i == 1]))
			}
		}()
		gotN, nextID := 0, 1
		for gotN < notifications || nextID <= rpcs {
			msg := c.recv()
			var root struct {
				XMLName   xml.Name
				MessageID string `xml:"message-id,attr"`
				EventTime string `xml:"eventTime"`
				N         int    `xml:"event>n"`
			}
			if err := xml.Unmarshal([]byte(msg), &root); err != nil {
				t.Fatalf("message %q: %v", msg, err)
			}
			switch root.XMLName {
			case xml.Name{Space: NSNotification, Local: "notification"}:
				if _, err := time.Parse(time.RFC3339Nano, root.EventTime); err != nil || root.N != gotN {
					t.Fatalf("notification %q: %v, want n=%d", msg, err, gotN)
				}
				gotN++
			case xml.Name{Space: NSBase, Local: "rpc-reply"}:
				if root.MessageID != fmt.Sprint(nextID) {
					t.Fatalf("reply %s out of order, want %d", root.MessageID, nextID)
				}
				nextID++
			default:
				t.Fatalf("unexpected message %q", msg)
			}
		}
		wg.Wait()
	}
}

func TestServerClose(t *testing.T) {
	rec := &recorder{}
	srv, addr := startServer(t, Config{Handler: hookHandler(rec)})
	c := dial(t, addr)
	c.sendHello(CapBase11)
	c.rpc("<lock/>")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rec.list(); len(got) != 1 {
		t.Fatalf("hooks after Close: %q", got)
	}
	c.expectEOF()
	if len(srv.Sessions()) != 0 {
		t.Fatal("sessions left after Close")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); err != ErrServerClosed {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("listener still open after Close")
	}
}

func TestNewServerValidates(t *testing.T) {
	key := filepath.Join(t.TempDir(), "k")
	for _, cfg := range []Config{
		{Auth: testAuth(), Handler: HandlerFunc(probeHandler)},
		{HostKeyFile: key, Handler: HandlerFunc(probeHandler)},
		{HostKeyFile: key, Auth: testAuth()},
		{HostKeyFile: key, Auth: testAuth(), Handler: HandlerFunc(probeHandler), MaxSessions: -1},
	} {
		if _, err := NewServer(cfg); err == nil || !strings.HasPrefix(err.Error(), "netconf: ") {
			t.Errorf("NewServer(%+v): %v", cfg, err)
		}
	}
	srv, err := NewServer(Config{HostKeyFile: key, Auth: testAuth(), Handler: HandlerFunc(probeHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if srv.cfg.Addr != ":830" || srv.cfg.MaxMessageSize != 16<<20 || srv.cfg.HelloTimeout != 30*time.Second || srv.cfg.IdleTimeout != 0 {
		t.Fatalf("defaults: %+v", srv.cfg)
	}
}
