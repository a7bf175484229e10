package vpnmon

import (
	"net/netip"
	"testing"
	"time"
)

// TestICMPLoopback: the raw-socket prober sends a real echo request and
// hands the kernel's reply to the monitor, which brings the target up.
// Loopback only; raw sockets need root (CAP_NET_RAW): without it the
// test fails saying so.
func TestICMPLoopback(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	var m *Monitor
	up := make(chan Key, 1)
	p := NewICMP(func(id, seq uint16) { m.Reply(id, seq) })
	defer p.Close()
	m = New(p, Hooks{Up: func(k Key) { up <- k }})
	m.Set(5, Config{Src: lo, Dst: lo, Interval: time.Second, Threshold: 3}, time.Now())
	if err := p.Echo(lo, lo, 0, 0); err != nil {
		t.Fatalf("raw ICMP socket (needs root or CAP_NET_RAW): %v", err)
	}
	m.Tick(time.Now())
	select {
	case k := <-up:
		if s, _ := m.Status(k); k != 5 || s.State != Up || s.Answered != 1 {
			t.Fatalf("key %d status %+v", k, s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no echo reply from 127.0.0.1 in 5 s")
	}
}
