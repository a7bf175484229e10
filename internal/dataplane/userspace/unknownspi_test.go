package userspace

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/logging/loglimit"
)

// lockedLog is a log buffer for the dataplane's goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestUnknownSPI: inbound ESP for an SPI no SA has is dropped, counted
// (Stats.UnknownSPI) and logged as RFC 4303 §3.4.2's auditable event
// with its SPI, sequence number and addresses, rate-limited: a flood of
// 1000 such packets gives loglimit.DefaultBurst lines, the others wait
// for the summary.
func TestUnknownSPI(t *testing.T) {
	var out lockedLog
	dev := newDiscard()
	d, err := New(Options{TUN: []edgeDevice{dev}, Bind: newDiscard(),
		Logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	local, remote := netip.AddrPortFrom(gwB, 4500), netip.AddrPortFrom(gwA, 4500)
	pkt := make([]byte, 64)
	binary.BigEndian.PutUint32(pkt, 0xdeadbeef)
	for i := range 1000 {
		binary.BigEndian.PutUint32(pkt[4:], uint32(i+1))
		d.HandleESP(local, remote, pkt)
	}
	if st := d.Stats(); st.UnknownSPI != 1000 {
		t.Fatalf("stats %+v", st)
	}
	log := out.String()
	if n := strings.Count(log, `msg="dropping ESP with unknown SPI"`); n != loglimit.DefaultBurst {
		t.Fatalf("%d lines, want %d:\n%s", n, loglimit.DefaultBurst, log)
	}
	for _, want := range []string{"subsystem=ipsec", "spi=deadbeef", "seq=1 ", "remote=" + remote.String(), "local=" + local.String(), "total=1\n", "seq=5 "} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in the log:\n%s", want, log)
		}
	}
	if n := d.limit.Suppressed("dropping ESP with unknown SPI"); n != 1000-loglimit.DefaultBurst {
		t.Errorf("%d records wait for the summary", n)
	}
}

// TestUnknownSPIEvent: an unknown-SPI packet is reported to the engine
// as a dataplane.UnknownSPI event with its source, destination and SPI
// (respond-bad-spi answers it); a flood yields at most
// maxSPIEventsPerSecond events a second, and never fills the event queue
// past half (the expiries keep their room).
func TestUnknownSPIEvent(t *testing.T) {
	d, err := New(Options{TUN: []edgeDevice{newDiscard()}, Bind: newDiscard(), Events: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	local, remote := netip.AddrPortFrom(gwB, 4500), netip.AddrPortFrom(gwA, 4500)
	pkt := make([]byte, 64)
	binary.BigEndian.PutUint32(pkt, 0xdeadbeef)
	for range 1000 {
		d.HandleESP(local, remote, pkt)
	}
	n := len(d.events)
	if n < 1 || n > 2*maxSPIEventsPerSecond {
		t.Fatalf("%d events for 1000 packets, want 1..%d", n, 2*maxSPIEventsPerSecond)
	}
	ev := <-d.Events()
	want := dataplane.Event{Kind: dataplane.UnknownSPI, Src: gwA, SA: dataplane.SAKey{Dst: gwB, SPI: 0xdeadbeef}}
	if ev != want {
		t.Fatalf("event %+v, want %+v", ev, want)
	}
}
