package transport

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// addrConn is a connection with a chosen remote address, for the limits
// per source.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// dialFrom is pipeListener.dial with the server seeing the connection
// come from addr ("10.0.0.1:40000").
func (l *pipeListener) dialFrom(addr string) net.Conn {
	client, mid1 := net.Pipe()
	mid2, server := net.Pipe()
	closeAll := func() { mid1.Close(); mid2.Close() }
	go func() { _, _ = io.Copy(mid2, mid1); closeAll() }()
	go func() { _, _ = io.Copy(mid1, mid2); closeAll() }()
	l.conns <- addrConn{server, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))}
	return client
}

// idle is a connection that never speaks; closed reports when the server
// closed it.
type idle struct {
	nc     net.Conn
	closed chan time.Time
}

func openIdle(l *pipeListener, addr string) *idle {
	c := &idle{nc: l.dialFrom(addr), closed: make(chan time.Time, 1)}
	go func() {
		_, _ = io.Copy(io.Discard, c.nc) // the server's version line, then EOF
		c.closed <- time.Now()
	}()
	return c
}

func (c *idle) isClosed() bool {
	select {
	case at := <-c.closed:
		c.closed <- at
		return true
	default:
		return false
	}
}

// TestPreauthPerSource checks that a source over its limit of
// unauthenticated connections is refused at once, and only that source.
func TestPreauthPerSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, ln, done := startPipeServer(t, Config{Limits: Limits{MaxUnauthenticatedPerSource: 3}})
		var conns []*idle
		for range 3 {
			conns = append(conns, openIdle(ln, "10.0.0.1:40000"))
			synctest.Wait() // admitted in this order
		}
		extra := openIdle(ln, "10.0.0.1:40001")
		synctest.Wait()
		other := openIdle(ln, "10.0.0.2:40000")
		synctest.Wait()
		if !extra.isClosed() {
			t.Error("a 4th unauthenticated connection from 10.0.0.1 was kept")
		}
		for i, c := range append(conns, other) {
			if c.isClosed() {
				t.Errorf("connection %d closed", i)
			}
		}
		if st := srv.Stats().Preauth; st.Refused != 1 || st.Pending != 4 {
			t.Errorf("stats %+v, want 1 refused and 4 pending", st)
		}
		stopPipeServer(t, srv, done)
	})
}

// TestPreauthEvictsOldest fills the unauthenticated connections: the next
// one closes the oldest, and a real login gets through the full table.
func TestPreauthEvictsOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const max = 8
		srv, ln, done := startPipeServer(t, Config{Limits: Limits{MaxUnauthenticated: max, MaxUnauthenticatedPerSource: -1}})
		var conns []*idle
		for i := range max {
			conns = append(conns, openIdle(ln, "10.0.0.1:40000"))
			time.Sleep(time.Duration(i+1) * time.Millisecond)
		}
		synctest.Wait()
		for i, c := range conns {
			if c.isClosed() {
				t.Fatalf("connection %d closed before the table was full", i)
			}
		}
		c := pipeClient(t, ln) // evicts conns[0]
		c.sendHello(CapBase11)
		if p := parseReply(t, c.rpc("<get/>")).Probe; p == nil {
			t.Fatal("no session through a full table of unauthenticated connections")
		}
		synctest.Wait()
		if !conns[0].isClosed() {
			t.Error("the oldest unauthenticated connection was kept")
		}
		for i, c := range conns[1:] {
			if c.isClosed() {
				t.Errorf("connection %d closed, want only the oldest", i+1)
			}
		}
		if st := srv.Stats().Preauth; st.Evicted != 1 {
			t.Errorf("stats %+v, want 1 evicted", st)
		}
		stopPipeServer(t, srv, done, c)
	})
}

// TestPreauthBusyTimeout checks that unauthenticated connections get the
// hello timeout normally, and BusyAuthTimeout from when they connected
// once half the table is in use.
func TestPreauthBusyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const busy = 5 * time.Second
		lim := Limits{MaxUnauthenticated: 10, MaxUnauthenticatedPerSource: -1, BusyAuthTimeout: busy}
		srv, ln, done := startPipeServer(t, Config{HelloTimeout: time.Minute, Limits: lim})
		start := time.Now()
		quiet := []*idle{openIdle(ln, "10.0.0.1:1"), openIdle(ln, "10.0.0.1:2")}
		time.Sleep(time.Second)
		at := <-quiet[0].closed
		if d := at.Sub(start); d != time.Minute {
			t.Fatalf("with 2 of 10 unauthenticated, closed after %v, want the hello timeout %v", d, time.Minute)
		}
		<-quiet[1].closed

		start = time.Now()
		var conns []*idle
		for range 4 {
			conns = append(conns, openIdle(ln, "10.0.0.1:3"))
		}
		time.Sleep(2 * time.Second)
		conns = append(conns, openIdle(ln, "10.0.0.1:4")) // 5 of 10: busy
		for i, c := range conns {
			at := <-c.closed
			want := busy
			if i == 4 {
				want += 2 * time.Second
			}
			if d := at.Sub(start); d != want {
				t.Errorf("connection %d closed after %v, want %v", i, d, want)
			}
		}
		stopPipeServer(t, srv, done)
	})
}

// TestEvictOldestOnEMFILE checks that an accept failing for want of file
// descriptors closes the oldest unauthenticated connection and goes on.
func TestEvictOldestOnEMFILE(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, ln, done := startPipeServer(t, Config{})
		old := openIdle(ln, "10.0.0.1:1")
		synctest.Wait()
		if !srv.pre.evict() {
			t.Fatal("nothing to evict")
		}
		synctest.Wait()
		if !old.isClosed() {
			t.Fatal("evicted connection still open")
		}
		if srv.pre.evict() {
			t.Fatal("evicted a connection twice")
		}
		stopPipeServer(t, srv, done)
	})
}

// TestPreauthEvictsFromHeaviestSource checks that over the total the
// connection closed is the oldest of the source holding the most, not an
// older one of a source holding one.
func TestPreauthEvictsFromHeaviestSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, ln, done := startPipeServer(t, Config{Limits: Limits{MaxUnauthenticated: 4, MaxUnauthenticatedPerSource: -1}})
		lone := openIdle(ln, "10.0.0.9:1")
		time.Sleep(time.Second)
		var flood []*idle
		for range 3 {
			flood = append(flood, openIdle(ln, "10.0.0.1:1"))
			time.Sleep(time.Second)
		}
		newer := openIdle(ln, "10.0.0.2:1")
		synctest.Wait()
		if lone.isClosed() || newer.isClosed() {
			t.Error("a connection of a source holding one was closed")
		}
		if !flood[0].isClosed() || flood[1].isClosed() || flood[2].isClosed() {
			t.Error("the oldest connection of the heaviest source was not the one closed")
		}
		stopPipeServer(t, srv, done)
	})
}
