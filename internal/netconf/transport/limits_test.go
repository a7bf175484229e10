package transport

import (
	"fmt"
	"io"
	"secgw/internal/netconf/framing"
	"strings"
	"testing"

	"secgw/internal/rpcerr"
)

func TestCheckShape(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("<a>", n) + strings.Repeat("</a>", n) }
	cases := []struct {
		name      string
		msg       string
		depth     int
		elems     int
		wantError string
	}{
		{"flat", "<rpc><get/><x>t</x></rpc>", 2, 3, ""},
		{"depth at limit", deep(4), 4, -1, ""},
		{"depth over", deep(5), 4, -1, "deeper than 4"},
		{"unclosed", "<rpc>" + strings.Repeat("<a>", 100), 64, -1, "deeper than 64"},
		{"siblings", strings.Repeat("<a/>", 10), -1, 10, ""},
		{"too many", strings.Repeat("<a/>", 11), -1, 10, "more than 10 elements"},
		{"markup in comments and CDATA", "<r><!-- <a><a><a> --><![CDATA[<a><a><a>]]><?pi <a><a>?></r>", 1, 1, ""},
		{"quoted >", `<r a="x>y" b='<c>'><s/></r>`, 2, 2, ""},
		{"self-closing with attributes", `<r><s a="1" /></r>`, 1, 2, ""},
		{"end tags balance", "<a></a><a></a><a></a>", 1, 3, ""},
		{"doctype skipped", `<!DOCTYPE r><r/>`, 1, 1, ""},
	}
	for _, c := range cases {
		err := checkShape([]byte(c.msg), c.depth, c.elems)
		switch {
		case c.wantError == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantError != "" && (err == nil || !strings.Contains(err.Error(), c.wantError)):
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.wantError)
		}
	}
}

func TestCheckShapeAllocatesNothing(t *testing.T) {
	msg := []byte("<rpc>" + strings.Repeat("<a b='>'>x<!--c--></a>", 1000) + "</rpc>")
	if n := testing.AllocsPerRun(10, func() { _ = checkShape(msg, 128, 1<<20) }); n != 0 {
		t.Fatalf("checkShape allocates %v times", n)
	}
}

// TestUnclosedTagsTooBig sends a message of unclosed tags, in small:
// an <rpc> of unclosed tags. It must be answered with too-big carrying its
// message-id, without an XML decoder ever seeing it, and the session must
// go on.
func TestUnclosedTagsTooBig(t *testing.T) {
	_, addr := startServer(t, Config{Limits: Limits{MaxDepth: 64}})
	c := dial(t, addr)
	c.sendHello(CapBase11)
	c.send(`<rpc message-id="7" xmlns="` + NSBase + `"><get>` + strings.Repeat("<a>", 5000))
	r := wantError(t, c.recv(), rpcerr.TypeRPC, rpcerr.TagTooBig)
	if r.MessageID != "7" || !strings.Contains(r.Errors[0].Message, "deeper than 64") {
		t.Fatalf("reply %+v", r)
	}
	if p := parseReply(t, c.rpc("<get/>")).Probe; p == nil {
		t.Fatal("the session did not go on after too-big")
	}
}

// TestTooManyElements checks the element count the same way.
func TestTooManyElements(t *testing.T) {
	_, addr := startServer(t, Config{Limits: Limits{MaxElements: 100}})
	c := dial(t, addr)
	c.sendHello(CapBase10)
	r := wantError(t, c.rpc("<get>"+strings.Repeat("<a/>", 200)+"</get>"), rpcerr.TypeRPC, rpcerr.TagTooBig)
	if r.MessageID != "1" {
		t.Fatalf("reply %+v", r)
	}
}

// TestBufferedBudget holds a partial message in one session and sends a
// message in another that would take all sessions over MaxBuffered: the
// second is refused with resource-denied and closed; once the first is
// gone, the same message goes through.
func TestBufferedBudget(t *testing.T) {
	const budget = 2 << 20
	srv, addr := startServer(t, Config{MaxMessageSize: 4 << 20, Limits: Limits{MaxBuffered: budget}})
	holder := dial(t, addr)
	holder.sendHello(CapBase11)
	// A chunk header for 3 MiB, then 900 KiB of it.
	if _, err := io.WriteString(holder.stdin, "\n#3145728\n"+strings.Repeat("x", 900<<10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the partial message to be buffered", func() bool { return srv.Stats().Buffered >= 900<<10 })
	big := "<get/><!--" + strings.Repeat("y", 1200<<10) + "-->"

	c := dial(t, addr)
	c.sendHello(CapBase11)
	r := wantError(t, c.rpc(big), rpcerr.TypeRPC, rpcerr.TagResourceDenied)
	if !strings.Contains(r.Errors[0].Message, "memory for incoming messages") {
		t.Fatalf("error message %q", r.Errors[0].Message)
	}
	c.expectEOF()
	if b := srv.Stats().Buffered; b > budget {
		t.Fatalf("%d bytes buffered, over the budget of %d", b, budget)
	}

	holder.ssh.Close()
	waitFor(t, "the budget to be returned", func() bool { return srv.Stats().Buffered == 0 })
	c = dial(t, addr)
	c.sendHello(CapBase11)
	if p := parseReply(t, c.rpc(big)).Probe; p == nil {
		t.Fatal("the message was refused with the budget free")
	}
	waitFor(t, "the handled message's share to be returned", func() bool { return srv.Stats().Buffered == 0 })
}

// TestChunkMemoryFollowsData checks that a chunk header alone does not
// make the reader allocate the size it announces.
func TestChunkMemoryFollowsData(t *testing.T) {
	pr, pw := io.Pipe()
	acct := &account{b: &budget{limit: 1 << 30}}
	r := framing.NewChunkedReader(pr, 64<<20)
	r.SetBudget(acct)
	done := make(chan error, 1)
	go func() { _, err := r.ReadMessage(); done <- err }()
	if _, err := io.WriteString(pw, "\n#60000000\n"+strings.Repeat("z", 1000)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reader to take the data", func() bool { return acct.holding() > 0 })
	if h := acct.holding(); h > 1<<20 {
		t.Fatalf("%d bytes held after a 60 MB chunk header and 1000 bytes", h)
	}
	pw.Close()
	if err := <-done; err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadMessage: %v", err)
	}
}

// TestSessionsPerUser opens sessions as one user up to the limit: the
// next subsystem request is refused until one ends.
func TestSessionsPerUser(t *testing.T) {
	_, addr := startServer(t, Config{Limits: Limits{MaxSessionsPerUser: 2}})
	a, b := dial(t, addr), dial(t, addr)
	a.sendHello(CapBase11)
	b.sendHello(CapBase11)
	sc, err := dialSSH(addr, passwordConfig(testUser, testPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sess, err := sc.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestSubsystem("netconf"); err == nil {
		t.Fatal("a third session of the same user was accepted")
	}
	parseReply(t, a.rpc("<close-session/>"))
	a.expectEOF()
	waitFor(t, "a session to start", func() bool {
		s, err := sc.NewSession()
		if err != nil {
			return false
		}
		ok := s.RequestSubsystem("netconf") == nil
		if !ok {
			s.Close()
		}
		return ok
	})
	if p := parseReply(t, b.rpc("<get/>")).Probe; p == nil {
		t.Fatal(fmt.Sprint("session b broken"))
	}
}

// TestSessionReserve checks that a session holds its first
// sessionReserve bytes without the shared budget, so that small requests
// pass when others hold all of it.
func TestSessionReserve(t *testing.T) {
	b := &budget{limit: 100}
	a := &account{b: b}
	if !a.charge(sessionReserve) {
		t.Fatal("the reserve needs the budget")
	}
	if !a.charge(100) || b.used.Load() != 100 {
		t.Fatalf("charge beyond the reserve: budget used %d, want 100", b.used.Load())
	}
	if a.charge(1) {
		t.Fatal("charged over the budget")
	}
	other := &account{b: b}
	if !other.charge(sessionReserve) {
		t.Fatal("a small message of another session refused while the budget is full")
	}
	a.release(50)
	if b.used.Load() != 50 {
		t.Fatalf("after releasing 50: budget used %d", b.used.Load())
	}
	a.close()
	other.close()
	if b.used.Load() != 0 {
		t.Fatalf("after close: budget used %d", b.used.Load())
	}
}

// TestConnectionsAndChannelsPerUser checks that one user's authenticated
// connections are bounded by twice MaxSessionsPerUser and the channels of
// one connection by MaxSessionsPerUser.
func TestConnectionsAndChannelsPerUser(t *testing.T) {
	_, addr := startServer(t, Config{Limits: Limits{MaxSessionsPerUser: 2}})
	sc, err := dialSSH(addr, passwordConfig(testUser, testPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	for i := range 2 {
		if _, err := sc.NewSession(); err != nil {
			t.Fatalf("channel %d: %v", i+1, err)
		}
	}
	if _, err := sc.NewSession(); err == nil {
		t.Fatal("a third channel on one connection was accepted")
	}
	for i := range 3 {
		c, err := dialSSH(addr, passwordConfig(testUser, testPassword))
		if err != nil {
			t.Fatalf("connection %d: %v", i+2, err)
		}
		defer c.Close()
		// A channel accepted means the server counted the connection
		// (it counts before it serves channels): the fifth is then the
		// one over the limit, not a racing earlier one.
		if _, err := c.NewSession(); err != nil {
			t.Fatalf("connection %d: channel: %v", i+2, err)
		}
	}
	c, err := dialSSH(addr, passwordConfig(testUser, testPassword))
	if err == nil {
		defer c.Close()
		if _, err = c.NewSession(); err == nil {
			t.Fatal("a fifth connection of the user could open a channel")
		}
	}
}
