package ikesvc

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	lr "layeh.com/radius"

	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
)

// acctServer answers Accounting-Requests on loopback and hands each
// one, parsed, to got.
func acctServer(t *testing.T, secret string) (netip.AddrPort, chan *lr.Packet) {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	got := make(chan *lr.Packet, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p, err := lr.Parse(buf[:n], []byte(secret))
			if err != nil || !lr.IsAuthenticRequest(buf[:n], []byte(secret)) {
				continue
			}
			got <- p
			out, _ := p.Response(lr.CodeAccountingResponse).Encode()
			c.WriteToUDP(out, from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), got
}

// TestAccountingInterim: with radius accounting and interim-interval,
// every session the engine reports gets an Interim-Update once the
// interval has passed, with its child SAs' counters (Options.Counters)
// and its virtual IP; with interim-interval 0 none is sent.
func TestAccountingInterim(t *testing.T) {
	ap, got := acctServer(t, "k")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counters := func(engine.ChildSA) (in, out Counters) {
		return Counters{Bytes: 1000, Packets: 10}, Counters{Bytes: 500, Packets: 5}
	}
	a := newAAA(ctx, slog.New(slog.DiscardHandler), counters)
	set := func(every time.Duration) {
		a.mu.Lock()
		a.cfg = config.RADIUS{Accounting: true, InterimInterval: every,
			Servers: []config.RADIUSServer{{Addr: ap.Addr(), AuthPort: ap.Port(), AcctPort: ap.Port(), Secret: []byte("k"), Timeout: time.Second}}}
		a.client.SetConfig(clientConfig(a.cfg))
		a.mu.Unlock()
	}
	vip := netip.MustParseAddr("10.9.0.5")
	sessions := func() []engine.AcctRecord {
		return []engine.AcctRecord{{Status: engine.AcctInterim, SessionID: "s1", UserName: "alice",
			Attrs: engine.AAAAttrs{FramedIP: vip}, Children: []engine.ChildSA{{}, {}}}}
	}
	tick := make(chan time.Time)
	go a.interim(sessions, tick)
	t0 := time.Now()

	set(0)
	tick <- t0
	tick <- t0.Add(time.Hour)
	select {
	case p := <-got:
		t.Fatalf("interim-interval 0 sent %v", p.Attributes)
	case <-time.After(200 * time.Millisecond):
	}

	set(60 * time.Second)
	tick <- t0 // starts the interval
	tick <- t0.Add(30 * time.Second)
	select {
	case p := <-got:
		t.Fatalf("Interim-Update before the interval: %v", p.Attributes)
	case <-time.After(200 * time.Millisecond):
	}
	tick <- t0.Add(61 * time.Second)
	select {
	case p := <-got:
		integer := func(typ lr.Type) uint32 { v, _ := lr.Integer(p.Attributes.Get(typ)); return v }
		if integer(40) != 3 || string(p.Attributes.Get(44)) != "s1" || integer(42) != 2000 || integer(47) != 20 ||
			integer(43) != 1000 || integer(48) != 10 {
			t.Errorf("Interim-Update attributes %v", p.Attributes)
		}
		if ip, _ := lr.IPAddr(p.Attributes.Get(8)); !ip.Equal(net.IP(vip.AsSlice())) {
			t.Errorf("Framed-IP-Address %v, want %s", ip, vip)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Interim-Update after the interval")
	}
}
