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
	if err := p.Echo(lo, lo, "", 0, 0); err != nil {
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

// TestICMPBoundDevice: an echo on a socket bound to a device leaves by
// that device and its reply comes back on it (lo here); a device that
// does not exist is an error, not an echo sent elsewhere.
func TestICMPBoundDevice(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	got := make(chan [2]uint16, 1)
	p := NewICMP(func(id, seq uint16) { got <- [2]uint16{id, seq} })
	defer p.Close()
	if err := p.Echo(lo, lo, "lo", 77, 3); err != nil {
		t.Fatalf("raw ICMP socket bound to lo (needs root or CAP_NET_RAW): %v", err)
	}
	select {
	case r := <-got:
		if r != [2]uint16{77, 3} {
			t.Fatalf("reply id/seq %v, want 77/3", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no echo reply on lo in 5 s")
	}
	if err := p.Echo(lo, lo, "vrfy-nodev0", 78, 1); err == nil {
		t.Fatal("echo bound to a missing device sent without error")
	}
}
