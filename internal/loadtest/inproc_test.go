package loadtest

import (
	"context"
	"crypto/rand"
	"net/netip"
	"sync"
	"testing"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// The in-process harness runs the lean initiator against the engine as
// responder without sockets: each request goes to Engine.HandleDatagram
// and the engine's answer is taken from a memConn.

var (
	respAddr = netip.AddrPortFrom(netip.MustParseAddr("10.98.0.2"), 500)
	genAddr  = netip.AddrPortFrom(netip.MustParseAddr("10.98.1.1"), 40000)
	testPSK  = "load-test-secret"
)

// memConn is an engine.Conn that keeps what the engine sends.
type memConn struct {
	mu   sync.Mutex
	sent []engine.Datagram
}

func (c *memConn) Send(d engine.Datagram) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d.Data = append([]byte(nil), d.Data...)
	c.sent = append(c.sent, d)
	return nil
}

func (c *memConn) Receive(ctx context.Context) (engine.Datagram, error) {
	<-ctx.Done()
	return engine.Datagram{}, ctx.Err()
}

// take returns and forgets the datagrams sent so far.
func (c *memConn) take() []engine.Datagram {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.sent
	c.sent = nil
	return out
}

// inproc is an engine responder reached through function calls.
type inproc struct {
	r    *Responder
	conn *memConn
	// interSizes are the sizes of the IKE_INTERMEDIATE responses
	// received.
	interSizes []int
}

func respOptions() ResponderOptions {
	return ResponderOptions{Addrs: []netip.Addr{respAddr.Addr()}, PSK: testPSK, LocalID: "gw.load.test",
		LocalTS: "0.0.0.0/0", RemoteTS: "10.200.0.0/16", SATableSize: 16384, SATableSegments: 64}
}

func newInproc(tb testing.TB, o ResponderOptions) *inproc {
	tb.Helper()
	cfg, err := responderConfig(o)
	if err != nil {
		tb.Fatal(err)
	}
	c := &memConn{}
	return &inproc{r: newResponder(o, cfg, c), conn: c}
}

// roundTrip delivers req from src and returns the engine's single answer,
// or nil when it sent none.
func (h *inproc) roundTrip(tb testing.TB, src netip.AddrPort, req []byte) []byte {
	tb.Helper()
	h.r.e.HandleDatagram(engine.Datagram{Local: respAddr, Remote: src, Data: req})
	out := h.conn.take()
	switch len(out) {
	case 0:
		return nil
	case 1:
		if out[0].Remote != src {
			tb.Fatalf("engine answered to %v, want %v", out[0].Remote, src)
		}
		return out[0].Data
	}
	tb.Fatalf("engine sent %d datagrams, want 1", len(out))
	return nil
}

// establish runs one tunnel through the harness and returns its error
// (nil: IKE SA and child SA up).
func (h *inproc) establish(tb testing.TB, p *Profile, i int) (*tunnel, error) {
	tb.Helper()
	t, err := newTunnel(p, i, genAddr, respAddr, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := t.initRequest(p)
	if err != nil {
		tb.Fatal(err)
	}
	for range 3 {
		resp := h.roundTrip(tb, genAddr, req)
		if resp == nil {
			tb.Fatal("no IKE_SA_INIT response")
		}
		m, err := wire.Parse(resp)
		if err != nil {
			tb.Fatal(err)
		}
		next, restart, err := t.handleInitResponse(p, m)
		if err != nil {
			return t, err
		}
		req = next
		if !restart {
			break
		}
	}
	for range p.AddKE {
		resp := h.roundTrip(tb, genAddr, req)
		if resp == nil {
			tb.Fatal("no IKE_INTERMEDIATE response")
		}
		h.interSizes = append(h.interSizes, len(resp))
		m, err := wire.Parse(resp)
		if err != nil {
			tb.Fatal(err)
		}
		next, auth, err := t.handleIntermediateResponse(p, m)
		if err != nil {
			return t, err
		}
		req = next
		if auth {
			break
		}
	}
	resp := h.roundTrip(tb, genAddr, req)
	if resp == nil {
		tb.Fatal("no IKE_AUTH response")
	}
	m, err := wire.Parse(resp)
	if err != nil {
		tb.Fatal(err)
	}
	return t, t.handleAuthResponse(p, m)
}

func testProfile() Profile {
	p := DefaultProfile([]byte(testPSK))
	return p
}
