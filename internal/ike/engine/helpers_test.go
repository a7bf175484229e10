package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"secgw/internal/ipsec"
	"sync"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// pairOpts is pair with engine options for both sides.
func pairOpts(t testing.TB, modA, modB func(*generated.SecgwVrf_Vrf_Ike), optA, optB func(*engine.Options)) (a, b *peer) {
	ikeA := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
	ikeB := vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24")
	if modA != nil {
		modA(ikeA)
	}
	if modB != nil {
		modB(ikeB)
	}
	return newPeer(t, ikeA, addrA, optA), newPeer(t, ikeB, addrB, optB)
}

// fragSize sets the fragment size of an engine.
func fragSize(n int) func(*engine.Options) {
	return func(o *engine.Options) { o.FragmentSize = n }
}

// natBox is a NAT in front of one peer: it rewrites that peer's private
// address to public, adding shift to the port, on the way out, and back on
// the way in (a port-preserving forward when shift is 0).
type natBox struct {
	behind          *peer
	private, public netip.Addr
	shift           uint16
}

func (n *natBox) out(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr() != n.private {
		return ap
	}
	return netip.AddrPortFrom(n.public, ap.Port()+n.shift)
}

func (n *natBox) in(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr() != n.public {
		return ap
	}
	return netip.AddrPortFrom(n.private, ap.Port()-n.shift)
}

// deliverVia hands the next datagram sent by from to to, through the NAT n
// (nil: none), and returns it as from sent it.
func deliverVia(t testing.TB, from, to *peer, n *natBox) engine.Datagram {
	t.Helper()
	d, ok := from.net.Next()
	if !ok {
		t.Fatal("no datagram to deliver")
	}
	inject(to, d, n, from)
	return d
}

// inject hands d, sent by from, to the engine of to, through the NAT n
// (nil: none).
func inject(to *peer, d engine.Datagram, n *natBox, from *peer) {
	src, dst := d.Local, d.Remote
	if n != nil && from == n.behind {
		src = n.out(src)
	}
	if n != nil && to == n.behind {
		dst = n.in(dst)
	}
	to.e.HandleDatagram(engine.Datagram{Local: dst, Remote: src, Data: d.Data})
}

// takeAll removes and returns every datagram p has sent.
func takeAll(p *peer) []engine.Datagram {
	var out []engine.Datagram
	for {
		d, ok := p.net.Next()
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// message returns the IKE message of a datagram (Non-ESP Marker stripped
// on port 4500) and its decoding.
func message(t testing.TB, d engine.Datagram) ([]byte, *wire.Message) {
	t.Helper()
	b := d.Data
	if d.Local.Port() == engine.PortNATT {
		var ok bool
		if b, ok = ipsec.StripNonESPMarker(b); !ok {
			t.Fatalf("datagram on port 4500 without Non-ESP Marker: %x", d.Data)
		}
	}
	m, err := wire.Parse(b)
	if err != nil {
		t.Fatalf("datagram does not parse: %v", err)
	}
	return b, m
}

// withMarker prefixes msg with the Non-ESP Marker if d went on port 4500.
func withMarker(d engine.Datagram, msg []byte) []byte {
	if d.Local.Port() != engine.PortNATT {
		return msg
	}
	return append(ipsec.AppendNonESPMarker(nil), msg...)
}

// notifies lists the notify types among ps.
func notifies(ps []wire.Payload) []wire.NotifyType {
	var out []wire.NotifyType
	for _, p := range ps {
		if n, ok := p.(*wire.Notify); ok {
			out = append(out, n.NotifyType)
		}
	}
	return out
}

// logRecorder keeps the message and attributes of every record an engine
// logs, and echoes them to the test log.
type logRecorder struct {
	t     testing.TB
	mu    sync.Mutex
	recs  []map[string]string
	attrs []slog.Attr
	root  *logRecorder
	// keys records engine.LevelKeys too (set on the root before use).
	keys bool
}

// recordLogs makes the engine log into a new recorder.
func recordLogs(t testing.TB) (*logRecorder, func(*engine.Options)) {
	r := &logRecorder{t: t}
	r.root = r
	return r, func(o *engine.Options) { o.Logger = slog.New(r) }
}

func (r *logRecorder) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelDebug || r.root.keys
}

func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{t: r.t, attrs: append(append([]slog.Attr(nil), r.attrs...), as...), root: r.root}
}

func (r *logRecorder) WithGroup(string) slog.Handler { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{"msg": rec.Message, "level": rec.Level.String()}
	line := rec.Message
	add := func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		line += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range r.attrs {
		add(a)
	}
	rec.Attrs(add)
	r.t.Log(line)
	r.root.mu.Lock()
	defer r.root.mu.Unlock()
	r.root.recs = append(r.root.recs, m)
	return nil
}

// find returns the attributes of the records with message msg.
func (r *logRecorder) find(msg string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, m := range r.recs {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}
