package engine_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
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

// TestDebugWithKeys: at level 4, a filter with with-keys lets the key
// records of the SAs it selects out (as -log-keys does for all), one
// without does not, and the other SAs' keys stay out; the trace's hex
// dump, at level 4 only, never holds a key.
func TestDebugWithKeys(t *testing.T) {
	for _, withKeys := range []bool{false, true} {
		t.Run(fmt.Sprint("with-keys=", withKeys), func(t *testing.T) {
			var out bytes.Buffer
			opt := func(o *engine.Options) {
				o.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: engine.LevelKeys}))
			}
			a, b := pairOpts(t, nil, nil, nil, opt)
			b.e.AddDebugFilter(engine.DebugFilter{Peer: addrA, WithKeys: withKeys})
			establish(t, a, b)
			_, cb := checkChildPair(t, a, b)
			log := out.String()
			if has := strings.Contains(log, hex.EncodeToString(cb.In.Encr)); has != withKeys {
				t.Errorf("child key in B's log: %v, want %v", has, withKeys)
			}
			if n := strings.Count(log, `msg="IKE SA keys"`); withKeys != (n == 1) {
				t.Errorf("%d IKE SA keys records", n)
			}
			dumps := strings.Count(log, `msg="ike debug hex"`)
			if dumps != 4 {
				t.Errorf("%d hex dumps at level 4, want one per message (4)", dumps)
			}
		})
	}
	// Level 3: the traces, no hex dump.
	var out bytes.Buffer
	a, b := pairOpts(t, nil, nil, nil, func(o *engine.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	b.e.AddDebugFilter(engine.DebugFilter{Peer: addrA, WithKeys: true})
	establish(t, a, b)
	if log := out.String(); strings.Contains(log, "ike debug hex") || strings.Contains(log, "IKE SA keys") || strings.Count(log, `msg="ike debug"`) != 4 {
		t.Errorf("level 3: want 4 traces, no hex dump, no key:\n%s", log)
	}
}

// TestDebugAuthFailedTrace: a filter on the peer's address traces the
// AUTHENTICATION_FAILED sent with the identity the peer claimed and its
// authentication method.
func TestDebugAuthFailedTrace(t *testing.T) {
	var sink debugSink
	a, b := pairOpts(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].IkePolicy.PreSharedKey = ptr("other")
	}, nil, withDebugSink(&sink))
	b.e.AddDebugFilter(engine.DebugFilter{Peer: addrA})
	establish(t, a, b)
	got := sink.text()
	for _, want := range []string{
		"Sending AUTHENTICATION_FAILED: authentication of peer failed; exchange: IKE_AUTH; unique-id: 1; peer-id: a.example; auth-method: pre-shared-key; reason: ",
		"Message id: 1 IKE_AUTH Exchange RESPONSE Payload contents: NOTIFY(AUTHENTICATION_FAILED)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in the trace:\n%s", want, got)
		}
	}
}

// TestDebugIdentityFilter: a filter on the peer's identity selects the
// IKE SA once IKE_AUTH proved it: the IKE_SA_INIT exchange is not traced
// (no identity yet), the IKE_AUTH response and later messages are.
func TestDebugIdentityFilter(t *testing.T) {
	var sink debugSink
	a, b := pairOpts(t, nil, nil, nil, withDebugSink(&sink))
	b.e.AddDebugFilter(engine.DebugFilter{Identity: "a.example"})
	establish(t, a, b)
	got := sink.text()
	if strings.Contains(got, "IKE_SA_INIT") || !strings.Contains(got, "Sending Packet [From 10.0.0.2:500/To 10.0.0.1:500] Initiator SPI : <spi> - Responder SPI : <spi> Message id: 1 IKE_AUTH Exchange RESPONSE") {
		t.Errorf("trace:\n%s", got)
	}
}
