package strongswan

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/ike/resolve"
	"secgw/internal/ike/udpconn"
	"secgw/internal/netnsutil"
	"secgw/internal/schema"
)

var (
	schemaOnce sync.Once
	testSchema *schema.Schema
	schemaErr  error
)

// ours is our engine running on real sockets in a namespace, with a
// recording dataplane and a log capture down to engine.LevelKeys.
type ours struct {
	e    *engine.Engine
	dp   *enginetest.Dataplane
	logs *capture
	conn *recConn
	// stop ends the engine and closes its sockets (a crash, for the
	// tests of a restart); t.Cleanup calls it too. Idempotent.
	stop func()
}

// recConn is an engine.Conn that keeps a copy of every datagram the engine
// receives and sends, for the captured known-answer vectors.
type recConn struct {
	engine.Conn
	mu       sync.Mutex
	in, sent []engine.Datagram
}

func copyDatagram(d engine.Datagram) engine.Datagram {
	d.Data = bytes.Clone(d.Data)
	return d
}

func (c *recConn) Receive(ctx context.Context) (engine.Datagram, error) {
	d, err := c.Conn.Receive(ctx)
	if err == nil {
		c.mu.Lock()
		c.in = append(c.in, copyDatagram(d))
		c.mu.Unlock()
	}
	return d, err
}

func (c *recConn) Send(d engine.Datagram) error {
	c.mu.Lock()
	c.sent = append(c.sent, copyDatagram(d))
	c.mu.Unlock()
	return c.Conn.Send(d)
}

// datagrams returns copies of the lists of received and sent datagrams.
func (c *recConn) datagrams() (in, sent []engine.Datagram) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.in), slices.Clone(c.sent)
}

// startOurs configures our engine from vsr CLI lines (relative to
// "/ vrf main ike"), binds its sockets on addr ports 500 and 4500 inside
// namespace ns, and runs it until the test ends.
func startOurs(t *testing.T, ns string, addr netip.Addr, lines ...string) *ours {
	t.Helper()
	return startOursWith(t, ns, addr, nil, lines...)
}

// startOursWith is startOurs with mod applied to the engine's options.
func startOursWith(t *testing.T, ns string, addr netip.Addr, mod func(*engine.Options), lines ...string) *ours {
	t.Helper()
	schemaOnce.Do(func() { testSchema, schemaErr = schema.Load() })
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	d := &generated.Device{}
	configtest.Apply(t, testSchema, d, "/ vrf main")
	for _, l := range lines {
		configtest.Apply(t, testSchema, d, "/ vrf main ike "+l)
	}
	cfg, err := resolve.Config(d.Vrf["main"].Ike)
	if err != nil {
		t.Fatal(err)
	}
	var conn *udpconn.Conn
	if err := netnsutil.RunNamed(ns, func() (err error) {
		conn, err = udpconn.Listen(udpconn.Options{Addrs: []netip.Addr{addr}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	o := &ours{dp: enginetest.NewDataplane(), logs: &capture{t: t}, conn: &recConn{Conn: conn}}
	// LogKeys: the known-answer checks compare the keys our engine logs
	// at level 4 with charon's.
	opts := engine.Options{VRF: "main", Config: cfg, LocalAddr: addr, Conn: o.conn,
		Dataplane: o.dp, Logger: slog.New(&captureHandler{c: o.logs}), LogKeys: true}
	if mod != nil {
		mod(&opts)
	}
	o.e = engine.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.e.Run(ctx); close(done) }()
	o.stop = sync.OnceFunc(func() {
		cancel()
		<-done
		conn.Close()
		o.logs.close()
	})
	t.Cleanup(o.stop)
	return o
}

// record is one captured log record with its attributes flattened.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

// capture keeps every record of the engine's logger, including those at
// engine.LevelKeys, and echoes them to the test log until close.
type capture struct {
	t      *testing.T
	mu     sync.Mutex
	recs   []record
	closed bool
}

func (c *capture) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
}

// find returns the records with message msg.
func (c *capture) find(msg string) []record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []record
	for _, r := range c.recs {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// captureHandler is the slog.Handler of a capture.
type captureHandler struct {
	c     *capture
	attrs []slog.Attr
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &captureHandler{c: h.c, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

// keyBytes is a key our engine logged: in hex (engine.Options.LogKeys),
// or raw bytes.
func keyBytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		b, _ := hex.DecodeString(x)
		return b
	}
	return nil
}

// Handle copies byte slices: the engine clears its key buffers when an SA
// goes away.
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := record{level: r.Level, msg: r.Message, attrs: map[string]any{}}
	var line bytes.Buffer
	fmt.Fprintf(&line, "ours %v %s", r.Level, r.Message)
	add := func(a slog.Attr) bool {
		v := a.Value.Resolve().Any()
		if b, ok := v.([]byte); ok {
			v = bytes.Clone(b)
			fmt.Fprintf(&line, " %s=%x", a.Key, b)
		} else {
			fmt.Fprintf(&line, " %s=%v", a.Key, v)
		}
		rec.attrs[a.Key] = v
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	h.c.recs = append(h.c.recs, rec)
	if !h.c.closed {
		h.c.t.Log(line.String())
	}
	return nil
}
