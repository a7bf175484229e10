package engine_test

import (
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"secgw/internal/golden"
	"secgw/internal/ike/engine"
)

// debugSink collects the trace records of an engine (Options.OnDebug).
type debugSink struct {
	mu   sync.Mutex
	recs []engine.DebugRecord
}

func (s *debugSink) add(r engine.DebugRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r)
}

// text returns the records' texts, one a line, with the SPIs (random)
// replaced by their place.
func (s *debugSink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	spi := regexp.MustCompile(`(Initiator|Responder) SPI : [0-9A-F]{16}`)
	var b strings.Builder
	for _, r := range s.recs {
		t := spi.ReplaceAllStringFunc(r.Text, func(m string) string {
			if strings.HasSuffix(m, "0000000000000000") {
				return m
			}
			return m[:strings.Index(m, ":")+2] + "<spi>"
		})
		b.WriteString(t + "\n")
	}
	return b.String()
}

func withDebugSink(s *debugSink) func(*engine.Options) {
	return func(o *engine.Options) { o.OnDebug = s.add }
}

// TestDebugPeerTrace: "debug ike peer 10.0.0.1" on B traces every
// message of A's IKE SA, in and out, in Cisco's form (exchange, message
// ID, SPIs, payload list), without raising the log level; removing the
// filter stops it, and a filter on another peer traces nothing
// (testdata/debug_peer.golden).
func TestDebugPeerTrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sink debugSink
		a, b := pairOpts(t, nil, nil, nil, withDebugSink(&sink))
		if err := b.e.AddDebugFilter(engine.DebugFilter{Peer: netip.MustParseAddr("10.9.9.9")}); err != nil {
			t.Fatal(err)
		}
		if err := b.e.AddDebugFilter(engine.DebugFilter{Peer: addrA}); err != nil {
			t.Fatal(err)
		}
		establish(t, a, b)
		spi, _ := onlySA(t, a)
		if err := a.e.CheckLiveness(spi); err != nil {
			t.Fatal(err)
		}
		step(t, a, b, info, false, "")
		step(t, b, a, info, true, "")
		if !b.e.RemoveDebugFilter(engine.DebugFilter{Peer: addrA}) {
			t.Fatal("filter not found")
		}
		a.e.CheckLiveness(spi)
		step(t, a, b, info, false, "")
		step(t, b, a, info, true, "")
		golden.Check(t, "testdata/debug_peer.golden", []byte(sink.text()))
		if got := b.e.DebugFilters(); len(got) != 1 || got[0].String() != "peer 10.9.9.9" {
			t.Fatalf("filters %v", got)
		}
	})
}

// TestDebugRefusalTrace: with a filter on the peer's address, a
// NO_PROPOSAL_CHOSEN sent in IKE_SA_INIT is traced with the reason, the
// proposals received and those configured, between the request and the
// response that carries it.
func TestDebugRefusalTrace(t *testing.T) {
	var sink debugSink
	a, b := pairOpts(t, nil, noCommonIKEProposal, nil, withDebugSink(&sink))
	b.e.AddDebugFilter(engine.DebugFilter{Peer: addrA})
	a.e.Initiate("to-b")
	deliver(t, a, b)
	deliver(t, b, a)
	got := sink.text()
	for _, want := range []string{
		"Received Packet [From 10.0.0.1:500/To 10.0.0.2:500] Initiator SPI : <spi> - Responder SPI : 0000000000000000 Message id: 0 IKE_SA_INIT Exchange REQUEST Payload contents: SA KE N",
		"Sending NO_PROPOSAL_CHOSEN: IKE_SA_INIT refused; exchange: IKE_SA_INIT; vpn: from-a; reason: no IKE proposal of the peer is acceptable",
		"; received: #1 ENCR:",
		"; configured: #1 ENCR:AES_CBC/256",
		"Sending Packet [From 10.0.0.2:500/To 10.0.0.1:500] Initiator SPI : <spi> - Responder SPI : 0000000000000000 Message id: 0 IKE_SA_INIT Exchange RESPONSE Payload contents: NOTIFY(NO_PROPOSAL_CHOSEN)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in the trace:\n%s", want, got)
		}
	}
}

// TestDebugBounded: a filter matching every peer (the VPN of 1000
// responders' worth of IKE_SA_INIT requests in one second) writes at
// most the bound of records a second; the others are counted and the
// next record says how many were dropped. Filters are bounded too.
func TestDebugBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sink debugSink
		a, b := pairOpts(t, nil, noCommonIKEProposal, nil, withDebugSink(&sink))
		b.e.AddDebugFilter(engine.DebugFilter{Peer: addrA})
		for range 500 {
			a.e.Initiate("to-b")
			deliver(t, a, b)
			deliver(t, b, a)
		}
		sink.mu.Lock()
		n := len(sink.recs)
		sink.mu.Unlock()
		if n != 100 || b.e.DebugDropped() != 3*500-100 {
			t.Fatalf("%d records, %d dropped; want 100 and %d", n, b.e.DebugDropped(), 3*500-100)
		}
		time.Sleep(time.Second)
		a.e.Initiate("to-b")
		deliver(t, a, b)
		if got := sink.text(); !strings.Contains(got, "(1400 debug records dropped before this one) Received Packet") {
			t.Fatalf("no summary of the dropped records:\n%s", got[len(got)-400:])
		}
		for i := range 40 {
			b.e.AddDebugFilter(engine.DebugFilter{VPN: "v" + string(rune('a'+i))})
		}
		if got := len(b.e.DebugFilters()); got != 32 {
			t.Fatalf("%d filters set, want the bound 32", got)
		}
		if err := b.e.AddDebugFilter(engine.DebugFilter{WithKeys: true}); err == nil {
			t.Fatal("a filter selecting nothing was accepted")
		}
	})
}
