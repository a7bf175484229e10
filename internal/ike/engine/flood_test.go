package engine_test

import (
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
)

// countingEvents records the kinds of an engine's events; safe for the
// concurrent calls of several workers.
type countingEvents struct {
	mu sync.Mutex
	n  map[engine.EventKind]int
}

func (c *countingEvents) hook() func(*engine.Options) {
	c.n = map[engine.EventKind]int{}
	return func(o *engine.Options) {
		o.Events = func(e engine.Event) {
			c.mu.Lock()
			c.n[e.Kind]++
			c.mu.Unlock()
		}
	}
}

func (c *countingEvents) count(k engine.EventKind) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestFloodWhileEstablished is the acceptance test of the DoS protection:
// 100 tunnels are up between A and B with DPD (dpd-delay 10 s,
// both sides); B, with the default cookie-threshold (10), then gets 1000
// IKE_SA_INIT requests a second for 30 s from spoofed addresses that never
// answer.
//
//   - Cookies start exactly at the threshold: the first 10 requests each
//     create a half-open IKE SA, the 11th and every later one get a
//     COOKIE and create nothing.
//   - The tunnels stay up: every DPD probe of the period is answered
//     (at least one per tunnel per dpd-delay), no IKE or child SA goes
//     down, and a new tunnel set up during the flood gets in by returning
//     its cookie.
//   - Memory stays bounded: B holds 101 established and 10 half-open IKE
//     SAs whatever the flood's length, and its live heap grows by less
//     than 1 MiB over 30,000 requests (each answered, none remembered).
//   - After the flood the half-open SAs time out (HalfOpenTimeout) and
//     cookies stop.
func TestFloodWhileEstablished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tunnels, rate, seconds = 100, 1000, 30
		withDPD := func(v *generated.SecgwVrf_Vrf_Ike_Vpn) { v.IkePolicy.DpdDelay = ptr("10s") }
		var evA, evB countingEvents
		// Info, not debug: 30,000 "asking for a cookie" lines would be
		// kept in the test's log.
		quiet := func(o *engine.Options) {
			o.Logger = slog.New(slog.NewTextHandler(newTWriter(t), &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
		a := newPeer(t, manyVPNs(tunnels+1, withDPD), addrA, both(evA.hook(), quiet))
		ikeB := anyConfig()
		withDPD(ikeB.Vpn["any"])
		b := newPeer(t, ikeB, addrB, both(evB.hook(), quiet))
		var names []string
		for i := range tunnels {
			names = append(names, fmt.Sprintf("t%03d", i))
		}
		establishAll(t, a, b, names)
		if n := len(b.dp.Children()); n != tunnels || len(a.dp.Children()) != tunnels {
			t.Fatalf("%d/%d child SAs up, want %d", len(a.dp.Children()), n, tunnels)
		}
		before := liveHeap()

		answers := map[string]int{}
		var probes int
		req := 0
		for s := range seconds {
			for range rate {
				got := flood(t, b, req, noAddr)
				if req < config.DefaultCookieThreshold && got != "sa" || req >= config.DefaultCookieThreshold && got != "cookie" {
					t.Fatalf("flood request %d: answered %q", req, got)
				}
				answers[got]++
				req++
			}
			if s == seconds/2 {
				// A new tunnel in the middle of the flood: A gets a
				// COOKIE, returns it and is let in (RFC 7296 §2.6).
				a.e.Initiate(fmt.Sprintf("t%03d", tunnels))
			}
			probes += pump(t, a, b, nil)
			time.Sleep(time.Second)
			synctest.Wait()
			probes += pump(t, a, b, nil)
		}
		during := liveHeap()

		st := b.e.DoSStats()
		if st.HalfOpen != config.DefaultCookieThreshold || st.Established != tunnels+1 || len(b.e.IKESAs()) != tunnels+1+config.DefaultCookieThreshold {
			t.Fatalf("B during the flood: %+v, %d IKE SAs", st, len(b.e.IKESAs()))
		}
		if answers["cookie"] != seconds*rate-config.DefaultCookieThreshold || st.Cookies != uint64(answers["cookie"])+1 {
			t.Fatalf("answers %v, B counted %d cookies", answers, st.Cookies)
		}
		// Both sides probe every idle tunnel every dpd-delay: at least
		// one answered probe per tunnel per 10 s.
		if min := tunnels * seconds / 10; probes < min {
			t.Fatalf("%d DPD probes answered in %d s, want at least %d", probes, seconds, min)
		}
		for _, ev := range []*countingEvents{&evA, &evB} {
			if ev.count(engine.IKEDown) != 0 || ev.count(engine.ChildDown) != 0 || ev.count(engine.IKEUp) != tunnels+1 {
				t.Fatalf("events: %v", ev.n)
			}
		}
		if n := len(b.dp.Children()); n != tunnels+1 || len(a.dp.Children()) != tunnels+1 {
			t.Fatalf("%d/%d child SAs up after the flood", len(a.dp.Children()), n)
		}
		if growth := int64(during) - int64(before); growth > 1<<20 {
			t.Fatalf("live heap grew by %d octets during the flood", growth)
		} else {
			t.Logf("live heap: %d before, %d after %d flood requests (%+d)", before, during, req, growth)
		}

		// The half-open SAs time out; the next request needs no cookie.
		for range engine.HalfOpenTimeout / (10 * time.Second) {
			time.Sleep(10 * time.Second)
			synctest.Wait()
			pump(t, a, b, nil)
		}
		if st := b.e.DoSStats(); st.HalfOpen != 0 || st.HalfOpenTimeouts != config.DefaultCookieThreshold || st.Established != tunnels+1 {
			t.Fatalf("B after the flood: %+v", st)
		}
		if got := flood(t, b, req, noAddr); got != "sa" {
			t.Fatalf("after the flood: %q", got)
		}
	})
}

// noAddr makes flood use a spoofed address.
var noAddr netip.AddrPort
