package loadtest

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"secgw/internal/poll"
)

// freePorts returns two UDP ports free on addr now (released again for
// the responder to bind).
func freePorts(t *testing.T, addr netip.Addr) (uint16, uint16) {
	t.Helper()
	var ports []uint16
	var conns []*net.UDPConn
	for range 2 {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	}
	for _, c := range conns {
		c.Close()
	}
	return ports[0], ports[1]
}

// startLoopback runs a Responder on 127.0.0.1 with free ports until the
// test ends and returns it with its real IKE address.
func startLoopback(t *testing.T, mod func(*ResponderOptions)) (*Responder, netip.AddrPort) {
	t.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	o := respOptions()
	o.Addrs = []netip.Addr{lo}
	o.PortIKE, o.PortNATT = freePorts(t, lo)
	if mod != nil {
		mod(&o)
	}
	r, err := NewResponder(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("responder: %v", err)
		}
	})
	return r, netip.AddrPortFrom(lo, o.PortIKE)
}

// loopbackOptions are generator options for n tunnels from four loopback
// addresses, two sockets each. The NAT detection notifications are left
// out: the responder's Conn translates its test port to 500, so the hash
// of the address we send to would not match and the engine would see a
// NAT.
func loopbackOptions(remote netip.AddrPort, n int) Options {
	p := testProfile()
	p.NATD = false
	srcs, _ := ParseAddrs("127.0.1.1-127.0.1.4")
	return Options{Remote: remote, Sources: srcs, SocketsPerAddr: 2, Count: n, Concurrency: 16,
		Profile: p, Timeout: 500 * time.Millisecond, Tries: 4}
}

// TestLoopback runs the generator against the engine over loopback UDP:
// all 50 tunnels establish, the responder counts 50 IKE and child SAs,
// and the report's latencies are ordered.
func TestLoopback(t *testing.T) {
	r, remote := startLoopback(t, nil)
	g, err := New(loopbackOptions(remote, 50))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep := g.Run(ctx)
	if rep.Established != 50 || rep.Failed() != 0 || rep.Attempted != 50 {
		t.Fatalf("established %d of %d, failures %v", rep.Established, rep.Attempted, rep.Failures)
	}
	if l := rep.Latency; l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.Max {
		t.Errorf("latencies out of order: %+v", l)
	}
	st := r.Stats()
	if st.IKEUp != 50 || st.ChildUp != 50 || st.Established() != 50 || st.IKEFailed != 0 {
		t.Errorf("responder: %+v", st)
	}
	var b strings.Builder
	rep.Format(&b)
	if !strings.Contains(b.String(), "RESULT attempted=50 established=50 failed=0 ") {
		t.Errorf("report:\n%s", b.String())
	}
}

// waitFor polls cond until it holds or 10 s pass (the events come from
// another process's view: the network).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Require(t, 10*time.Second, what, cond)
}

// TestLoopbackSoak holds 10 SAs: the generator answers the engine's
// liveness checks (RFC 7296 §1.4) and an IKE SA delete, and the engine
// answers the generator's own liveness checks.
func TestLoopbackSoak(t *testing.T) {
	r, remote := startLoopback(t, nil)
	o := loopbackOptions(remote, 10)
	o.Hold = time.Minute
	o.Liveness = 50 * time.Millisecond
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reps := make(chan *Report, 1)
	go func() { reps <- g.Run(ctx) }()
	waitFor(t, "10 established SAs", func() bool { ok, _ := g.rec.Counts(); return ok == 10 })

	var spis []uint64
	for spi, info := range r.Engine().IKESAs() {
		if info.State == "established" {
			spis = append(spis, spi)
		}
	}
	if len(spis) != 10 {
		t.Fatalf("responder has %d established SAs", len(spis))
	}
	for _, spi := range spis {
		if err := r.Engine().CheckLiveness(spi); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "10 liveness checks answered", func() bool { return g.soak.liveness.Load() == 10 })
	if err := r.Engine().DeleteIKE(spis[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the IKE SA delete", func() bool { return r.Stats().IKEDown == 1 })
	waitFor(t, "answers to our liveness checks", func() bool { return g.soak.probesAnswered.Load() >= 10 })
	cancel()
	rep := <-reps
	s := rep.Soak
	if s == nil {
		t.Fatal("no soak statistics")
	}
	if s.Held != 9 || s.DeletesIKE != 1 || s.Liveness != 10 || s.Bad != 0 || s.ProbesDead != 0 {
		t.Errorf("soak: %+v", s)
	}
}

// TestLoopbackSoakRekey holds 5 SAs and has the engine rekey each child
// SA (RFC 7296 §1.3.3): the generator answers the rekeys and the deletes
// of the child SAs they replaced, and every IKE SA is still held with one
// installed child SA.
func TestLoopbackSoakRekey(t *testing.T) {
	r, remote := startLoopback(t, nil)
	o := loopbackOptions(remote, 5)
	o.Hold = time.Minute
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reps := make(chan *Report, 1)
	go func() { reps <- g.Run(ctx) }()
	waitFor(t, "5 established SAs", func() bool { ok, _ := g.rec.Counts(); return ok == 5 })
	var uids []uint32
	for _, sa := range r.Engine().Snapshot(false) {
		for _, c := range sa.Children {
			uids = append(uids, c.UniqueID)
		}
	}
	if len(uids) != 5 {
		t.Fatalf("responder has %d child SAs", len(uids))
	}
	for _, uid := range uids {
		if err := r.Engine().RekeyChild(uid); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "5 child rekeys and the deletes of the old child SAs", func() bool {
		return g.soak.childRekeys.Load() == 5 && g.soak.deletesChild.Load() == 5
	})
	waitFor(t, "one installed child SA on each IKE SA", func() bool {
		n := 0
		for _, sa := range r.Engine().Snapshot(false) {
			for _, c := range sa.Children {
				if c.State == "installed" && !slices.Contains(uids, c.UniqueID) {
					n++
				}
			}
		}
		return n == 5
	})
	cancel()
	s := (<-reps).Soak
	if s == nil || s.Held != 5 || s.ChildRekeys != 5 || s.DeletesChild != 5 || s.ChildRefused != 0 || s.Bad != 0 {
		t.Errorf("soak: %+v", s)
	}
}

// TestLoopbackFlood floods half-open IKE_SA_INIT against a responder with
// cookie-threshold 5: it answers five in full and challenges the rest
// with cookies (RFC 7296 §2.6).
func TestLoopbackFlood(t *testing.T) {
	_, remote := startLoopback(t, func(o *ResponderOptions) { o.CookieThreshold = 5 })
	o := loopbackOptions(remote, 0)
	o.Flood = FloodOptions{Rate: 1000, Duration: 100 * time.Millisecond}
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	rep := g.Run(context.Background())
	f := rep.Flood
	if f == nil {
		t.Fatal("no flood statistics")
	}
	if f.Sent < 50 || f.Answered != 5 || f.Answered+f.Cookies != f.Sent || len(f.Notifies) != 0 {
		t.Errorf("flood: %+v", f)
	}
}

// TestLoopbackCookies: with cookie-threshold 1 most tunnels are asked for
// a cookie and all of them still establish.
func TestLoopbackCookies(t *testing.T) {
	_, remote := startLoopback(t, func(o *ResponderOptions) { o.CookieThreshold = 1 })
	g, err := New(loopbackOptions(remote, 30))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if rep := g.Run(ctx); rep.Established != 30 {
		t.Fatalf("established %d of 30, failures %v", rep.Established, rep.Failures)
	}
}

// TestLoopbackSoakIKERekey holds 5 SAs with IKE SA rekeys every 2 s
// (Options.IKERekey, RFC 7296 §1.3.2) and liveness checks: the engine
// accepts each rekey, moves the child SA to the new IKE SA and deletes
// the old one when asked; afterwards the engine still has 5 established
// IKE SAs with one installed child SA each, none of them the first, and
// the liveness checks on the new IKE SAs are answered.
func TestLoopbackSoakIKERekey(t *testing.T) {
	r, remote := startLoopback(t, nil)
	o := loopbackOptions(remote, 5)
	o.Hold, o.IKERekey, o.Liveness = time.Minute, 2*time.Second, time.Second
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reps := make(chan *Report, 1)
	go func() { reps <- g.Run(ctx) }()
	waitFor(t, "5 established SAs", func() bool { ok, _ := g.rec.Counts(); return ok == 5 })
	first := map[uint64]bool{}
	for _, sa := range r.Engine().Snapshot(false) {
		first[sa.SPIr] = true
	}
	waitFor(t, "10 IKE SA rekeys and the deletes of the old IKE SAs", func() bool {
		return g.soak.ikeRekeys.Load() >= 10 && g.soak.oldDeleted.Load() >= 10
	})
	answered := g.soak.probesAnswered.Load()
	waitFor(t, "liveness checks answered on the rekeyed IKE SAs", func() bool { return g.soak.probesAnswered.Load() >= answered+5 })
	waitFor(t, "5 IKE SAs, none the first, each with one installed child SA", func() bool {
		sas := r.Engine().Snapshot(false)
		if len(sas) != 5 {
			return false
		}
		for _, sa := range sas {
			if first[sa.SPIr] || sa.State != "established" || len(sa.Children) != 1 || sa.Children[0].State != "installed" {
				return false
			}
		}
		return true
	})
	cancel()
	s := (<-reps).Soak
	if s == nil || s.Held != 5 || s.IKERekeys < 10 || s.Bad != 0 || s.ProbesDead != 0 || s.OldUnanswered != 0 {
		t.Errorf("soak: %+v", s)
	}
}
