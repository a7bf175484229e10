package tcpencap

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"secgw/internal/poll"
)

var (
	initAddr = netip.MustParseAddr("127.0.0.1")
	respAddr = netip.MustParseAddr("127.0.0.2")
)

// received collects what a Mux's hooks got.
type received struct {
	mu       sync.Mutex
	ike, esp [][]byte
	from     []netip.Addr
}

func (r *received) onIKE(_, remote netip.Addr, d []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ike = append(r.ike, d)
	r.from = append(r.from, remote)
}

func (r *received) onESP(_, _ netip.Addr, d []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.esp = append(r.esp, append([]byte(nil), d...))
}

func (r *received) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ike), len(r.esp)
}

// logBuf is a concurrency-safe log sink for asserting log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(respAddr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).AddrPort().Port()
}

// pairOf returns a responder Mux listening on respAddr and an
// initiator-only Mux, on the same free port.
func pairOf(t *testing.T, o Options) (resp, init *Mux, rr, ir *received, logs *logBuf) {
	t.Helper()
	port := freePort(t)
	rr, ir, logs = &received{}, &received{}, &logBuf{}
	lg := slog.New(slog.NewTextHandler(logs, nil))
	ro := o
	ro.Addrs, ro.Port, ro.OnIKE, ro.OnESP, ro.Logger = []netip.Addr{respAddr}, port, rr.onIKE, rr.onESP, lg
	resp, err := Listen(ro)
	if err != nil {
		t.Fatal(err)
	}
	io := o
	io.Port, io.OnIKE, io.OnESP, io.Logger, io.Reconnect = port, ir.onIKE, ir.onESP, lg, 50*time.Millisecond
	init, err = Listen(io)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { init.Close(); resp.Close() })
	return resp, init, rr, ir, logs
}

func wait(t *testing.T, what string, f func() bool) {
	t.Helper()
	if !poll.Until(5*time.Second, f) {
		t.Fatalf("%s: timed out", what)
	}
}

// The initiator connects on its first IKE message; the responder answers
// on the same stream and never connects itself; ESP flows both ways.
func TestMuxExchange(t *testing.T) {
	resp, init, rr, ir, _ := pairOf(t, Options{})
	if err := resp.Send(respAddr, initAddr, ikePkt(40), false); err == nil {
		t.Fatal("the responder sent without a stream")
	}
	if err := init.Send(initAddr, respAddr, ikePkt(40), true); err != nil {
		t.Fatal(err)
	}
	wait(t, "IKE at the responder", func() bool { n, _ := rr.counts(); return n == 1 })
	if rr.from[0] != initAddr || !bytes.Equal(rr.ike[0], ikePkt(40)) {
		t.Fatalf("responder got %x from %v", rr.ike[0], rr.from[0])
	}
	// The traffic of the addresses is the stream's once an IKE SA
	// answers on it (Claim), and always for the stream's initiator.
	if resp.Carries(respAddr, initAddr) || !init.Carries(initAddr, respAddr) {
		t.Fatalf("before the claim: responder carries %v, initiator %v", resp.Carries(respAddr, initAddr), init.Carries(initAddr, respAddr))
	}
	resp.Claim(respAddr, initAddr)
	if !resp.Carries(respAddr, initAddr) {
		t.Fatal("a claimed stream does not carry its addresses' traffic")
	}
	if err := resp.Send(respAddr, initAddr, ikePkt(60), false); err != nil {
		t.Fatal(err)
	}
	if err := resp.Send(respAddr, initAddr, espPkt(100), false); err != nil {
		t.Fatal(err)
	}
	if err := init.Send(initAddr, respAddr, espPkt(200), false); err != nil {
		t.Fatal(err)
	}
	wait(t, "answers", func() bool {
		i, e := ir.counts()
		_, re := rr.counts()
		return i == 1 && e == 1 && re == 1
	})
	// The responder's last answer (to a Delete) still goes out when its
	// IKE SA releases the stream right after.
	if err := resp.Send(respAddr, initAddr, ikePkt(70), false); err != nil {
		t.Fatal(err)
	}
	resp.Release(respAddr, initAddr)
	wait(t, "last answer", func() bool { i, _ := ir.counts(); return i == 2 })
	if resp.Carries(respAddr, initAddr) {
		t.Fatal("a released stream still carries its addresses' traffic")
	}
}

// A stream the network kills is reconnected by the initiator, and the
// responder takes the new stream for the same addresses; once released
// (the IKE SA is gone) the stream closes and stays closed.
func TestMuxReconnectAndRelease(t *testing.T) {
	resp, init, rr, _, logs := pairOf(t, Options{})
	if err := init.Send(initAddr, respAddr, ikePkt(40), true); err != nil {
		t.Fatal(err)
	}
	wait(t, "first stream", func() bool { n, _ := rr.counts(); return n == 1 })
	// Kill the responder's side of the stream, as a middlebox reset.
	resp.mu.Lock()
	s := resp.streams[pair{respAddr, initAddr}]
	resp.mu.Unlock()
	s.mu.Lock()
	s.c.(*net.TCPConn).SetLinger(0)
	s.c.Close()
	s.mu.Unlock()
	wait(t, "reconnect", func() bool { return strings.Count(logs.String(), "TCP stream accepted") == 2 })
	if err := resp.Send(respAddr, initAddr, ikePkt(40), false); err != nil {
		t.Fatalf("responder after reconnection: %v", err)
	}
	init.Release(initAddr, respAddr)
	wait(t, "closed", func() bool { return !resp.Has(respAddr, initAddr) })
	time.Sleep(200 * time.Millisecond)
	if init.Has(initAddr, respAddr) || resp.Has(respAddr, initAddr) {
		t.Fatal("a released stream came back")
	}
	if !strings.Contains(logs.String(), "TCP stream closed: no IKE SA uses it") {
		t.Fatalf("no log line for the release:\n%s", logs)
	}
}

// Bad input on an accepted stream is refused with a log line: no prefix,
// bad framing, a huge length never filled, a slow writer.
func TestMuxBadInput(t *testing.T) {
	resp, _, rr, _, logs := pairOf(t, Options{FrameTimeout: 200 * time.Millisecond})
	to := resp.Addr(respAddr).String()
	cases := []struct {
		name, send, log string
	}{
		{"bad prefix", "GET / HTTP/1.1\r\n\r\n", "no valid IKETCP prefix"},
		{"silent", "", "peer too slow"},
		{"short length", Prefix + "\x00\x01\x00\x00\x00\x00", "frame too short"},
		{"huge length", Prefix + "\xff\xff\x00\x00\x00\x00", "peer too slow"},
	}
	for _, c := range cases {
		before := strings.Count(logs.String(), c.log)
		conn, err := net.Dial("tcp", to)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, c.send)
		wait(t, c.name, func() bool { return strings.Count(logs.String(), c.log) > before })
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err != io.EOF && !isReset(err) {
			t.Fatalf("%s: stream not closed: %v", c.name, err)
		}
		conn.Close()
	}
	// A slow writer: a valid prefix, then a frame one octet every
	// 100 ms, slower than the frame timeout allows.
	before := strings.Count(logs.String(), "peer too slow")
	conn, err := net.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, Prefix)
	f, _ := AppendFrame(nil, ikePkt(64))
	go func() {
		for _, b := range f {
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	wait(t, "slow writer", func() bool { return strings.Count(logs.String(), "peer too slow") > before })
	if n, e := rr.counts(); n != 0 || e != 0 {
		t.Fatalf("bad streams delivered %d IKE, %d ESP", n, e)
	}
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "reset") }

// A peer that does not read fills the bounded queue: further frames are
// dropped, the sender never blocks, and the stalled write closes the
// stream after the write timeout.
func TestMuxBackpressure(t *testing.T) {
	port := freePort(t)
	ln, err := net.Listen("tcp", netip.AddrPortFrom(respAddr, port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(3 * time.Second) // never reads
		}
	}()
	logs := &logBuf{}
	m, err := Listen(Options{Port: port, Queue: 4, WriteTimeout: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Send until the stalled write gives up: each Send returns at once,
	// dropping what the full queue cannot take.
	dropped, slowest := 0, time.Duration(0)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "TCP stream write failed") && time.Now().Before(deadline) {
		start := time.Now()
		if m.Send(initAddr, respAddr, espPkt(MaxPacket), true) != nil {
			dropped++
		}
		slowest = max(slowest, time.Since(start))
	}
	if !strings.Contains(logs.String(), "TCP stream write failed") {
		t.Fatal("the stalled write never failed")
	}
	if slowest > time.Second {
		t.Fatalf("a Send blocked for %v", slowest)
	}
	if dropped == 0 {
		t.Fatal("nothing dropped")
	}
	m.Release(initAddr, respAddr)
}
