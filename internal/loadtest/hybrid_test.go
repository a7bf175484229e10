package loadtest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
)

// hybridSetup makes the responder options and the profile of a run with
// group and the additional key exchanges addKE on both sides.
func hybridSetup(t testing.TB, group ipsec.TransformID, addKE ...ipsec.TransformID) (ResponderOptions, Profile) {
	t.Helper()
	o := respOptions()
	o.Group, o.AddKE = group, addKE
	p := testProfile()
	if err := p.SetKeyExchanges(group, addKE); err != nil {
		t.Fatal(err)
	}
	return o, p
}

// logRecorder keeps the messages and "method" attributes the engine logs.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "method" || a.Key == "ke" {
			line += " " + a.Key + "=" + a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// TestTunnelHybrid establishes N tunnels of the lean initiator with
// x25519 + ML-KEM-768 (RFC 9370 ADDKE1 in one IKE_INTERMEDIATE exchange,
// RFC 9242) against the engine configured for the same: every IKE SA and
// child SA comes up, the engine ran the ML-KEM exchange on each, and its
// IKE_INTERMEDIATE responses, for an initiator that does not announce
// IKE fragmentation, are single unfragmented datagrams, smaller than the
// engine's fragment size (so the generator needs no reassembly).
func TestTunnelHybrid(t *testing.T) {
	const n = 20
	o, p := hybridSetup(t, ipsec.GroupCurve25519, ipsec.GroupMLKEM768)
	logs := &logRecorder{}
	o.Logger = slog.New(logs)
	h := newInproc(t, o)
	for i := range n {
		tn, err := h.establish(t, &p, i)
		if err != nil {
			t.Fatalf("tunnel %d: %v", i, err)
		}
		if tn.peerChildSPI == 0 || tn.intAuthI == nil || tn.mid != 2 {
			t.Fatalf("tunnel %d: child SPI %x, IntAuth %x, IKE_AUTH Message ID %d", i, tn.peerChildSPI, tn.intAuthI, tn.mid)
		}
		if i == 0 {
			tn.settle()
			if tn.nextID != 3 || tn.intAuthI != nil || tn.ke != nil {
				t.Errorf("after settle: nextID %d (want 3), IntAuth kept %v", tn.nextID, tn.intAuthI != nil)
			}
		}
	}
	st := h.r.Stats()
	if st.IKEUp != n || st.ChildUp != n || st.Installs != n || st.IKEFailed != 0 {
		t.Fatalf("responder: %+v", st)
	}
	if got := logs.count("IKE_SA_INIT answered ke=CURVE25519/ML_KEM_768"); got != n {
		t.Errorf("%d IKE SAs negotiated x25519+ML-KEM-768, want %d: %q", got, n, logs.lines)
	}
	if got := logs.count("additional key exchange done method=ML_KEM_768"); got != n {
		t.Errorf("%d ML-KEM-768 exchanges done on the responder, want %d", got, n)
	}
	if len(h.interSizes) != n {
		t.Fatalf("%d IKE_INTERMEDIATE responses, want %d", len(h.interSizes), n)
	}
	t.Logf("IKE_INTERMEDIATE responses: %d octets", h.interSizes[0])
	for _, size := range h.interSizes {
		// 28 (IKE header) + 4 (SK) + 8 (IV) + 8 + 1,088 (KE with the
		// ciphertext) + 1 (Pad Length) + 16 (ICV), plus 28 of IPv4 and
		// UDP and, on port 4500, the 4-octet non-ESP marker: below the
		// engine's fragment size, so that it would send the response
		// whole on either port even had fragmentation been negotiated.
		if size+28+4 > engine.DefaultFragmentSize {
			t.Errorf("IKE_INTERMEDIATE response of %d octets exceeds the fragment size %d", size, engine.DefaultFragmentSize)
		}
	}
}

// TestTunnelHybridTwoAdditional: two additional key exchanges (ADDKE1
// ML-KEM-768, ADDKE2 ML-KEM-1024) run in two IKE_INTERMEDIATE exchanges
// with Message IDs 1 and 2, IKE_AUTH takes 3, and the AUTH payloads of
// both sides verify over the two-link IntAuth chains.
func TestTunnelHybridTwoAdditional(t *testing.T) {
	o, p := hybridSetup(t, ipsec.GroupECP256, ipsec.GroupMLKEM768, ipsec.GroupMLKEM1024)
	h := newInproc(t, o)
	tn, err := h.establish(t, &p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tn.mid != 3 || len(h.interSizes) != 2 {
		t.Fatalf("IKE_AUTH Message ID %d, %d IKE_INTERMEDIATE exchanges", tn.mid, len(h.interSizes))
	}
	if st := h.r.Stats(); st.IKEUp != 1 || st.Installs != 1 {
		t.Fatalf("responder: %+v", st)
	}
}

// TestTunnelHybridMismatch: a responder that requires ML-KEM-768 refuses
// a classical initiator, and a hybrid initiator refuses (fails on) a
// classical responder, both in IKE_SA_INIT.
func TestTunnelHybridMismatch(t *testing.T) {
	hybridO, hybridP := hybridSetup(t, ipsec.GroupCurve25519, ipsec.GroupMLKEM768)
	classicalO, classicalP := hybridSetup(t, ipsec.GroupCurve25519)
	for _, tc := range []struct {
		name string
		o    ResponderOptions
		p    Profile
	}{
		{"classical initiator", hybridO, classicalP},
		{"classical responder", classicalO, hybridP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newInproc(t, tc.o).establish(t, &tc.p, 0)
			if err == nil || !strings.HasPrefix(reason(err), "IKE_SA_INIT: ") {
				t.Fatalf("got %v, want an IKE_SA_INIT failure", err)
			}
			t.Log(reason(err))
		})
	}
}

// TestTunnelHybridRequestFormat: the IKE_SA_INIT request of a hybrid
// tunnel offers ADDKE1 without NONE and announces
// INTERMEDIATE_EXCHANGE_SUPPORTED (RFC 9370 §2.2.1, RFC 9242 §3.2); a
// classical one does neither.
func TestTunnelHybridRequestFormat(t *testing.T) {
	for _, addKE := range [][]ipsec.TransformID{nil, {ipsec.GroupMLKEM768}} {
		_, p := hybridSetup(t, ipsec.GroupCurve25519, addKE...)
		tn, err := newTunnel(&p, 0, genAddr, respAddr, bytes.NewReader(bytes.Repeat([]byte{7}, 1024)))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := tn.initRequest(&p)
		if err != nil {
			t.Fatal(err)
		}
		m, err := wire.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		ps := wire.SkipUnknown(m.Payloads)
		sa, ke := find[*wire.SA](ps), find[*wire.KE](ps)
		if sa == nil || ke == nil || ke.Group != ipsec.GroupCurve25519 {
			t.Fatalf("request lacks SA or the x25519 KE: %v", ps)
		}
		var addke []wire.Transform
		for _, tr := range sa.Proposals[0].Transforms {
			if tr.Type >= ipsec.TransformAddKE1 && tr.Type <= ipsec.TransformAddKE7 {
				addke = append(addke, tr)
			}
		}
		announced := wire.FindNotify(ps, wire.NotifyIntermediateExchangeSupported) != nil
		if len(addKE) == 0 {
			if len(addke) != 0 || announced {
				t.Errorf("classical request offers %v, announces IKE_INTERMEDIATE %v", addke, announced)
			}
			continue
		}
		if len(addke) != 1 || addke[0].Type != ipsec.TransformAddKE1 || addke[0].ID != ipsec.GroupMLKEM768 || !announced {
			t.Errorf("hybrid request offers %v, announces IKE_INTERMEDIATE %v", addke, announced)
		}
	}
}

// TestParseKeyExchanges: the command line's names, and an unknown one.
func TestParseKeyExchanges(t *testing.T) {
	got, err := ParseKeyExchanges("mlkem768, mlkem1024")
	if err != nil || len(got) != 2 || got[0] != ipsec.GroupMLKEM768 || got[1] != ipsec.GroupMLKEM1024 {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := ParseKeyExchanges(""); err != nil || got != nil {
		t.Fatalf("empty list: %v, %v", got, err)
	}
	if _, err := ParseKeyExchanges("mlkem512"); err == nil {
		t.Fatal("mlkem512 accepted")
	}
	p := testProfile()
	if err := p.SetKeyExchanges(ipsec.GroupMLKEM768, nil); err == nil {
		t.Fatal("ML-KEM accepted as the IKE_SA_INIT key exchange")
	}
}

// hybridLoopback is startLoopback and loopbackOptions with x25519 +
// ML-KEM-768 on both sides.
func hybridLoopback(t *testing.T, mod func(*ResponderOptions), n int) (*Responder, Options) {
	t.Helper()
	addKE := []ipsec.TransformID{ipsec.GroupMLKEM768}
	r, remote := startLoopback(t, func(o *ResponderOptions) {
		o.Group, o.AddKE = ipsec.GroupCurve25519, addKE
		if mod != nil {
			mod(o)
		}
	})
	o := loopbackOptions(remote, n)
	if err := o.Profile.SetKeyExchanges(ipsec.GroupCurve25519, addKE); err != nil {
		t.Fatal(err)
	}
	return r, o
}

// TestLoopbackHybrid runs the generator with x25519 + ML-KEM-768 over
// loopback UDP against the engine: every tunnel establishes through its
// IKE_INTERMEDIATE exchange, and, held, the SAs answer the engine's
// liveness checks and the engine answers ours, whose Message IDs follow
// IKE_AUTH's (3 on: RFC 7296 §2.2).
func TestLoopbackHybrid(t *testing.T) {
	r, o := hybridLoopback(t, nil, 30)
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
	waitFor(t, "30 established SAs", func() bool { ok, failed := g.rec.Counts(); return ok+failed == 30 })
	if ok, _ := g.rec.Counts(); ok != 30 {
		cancel()
		t.Fatalf("established %d of 30: %v", ok, (<-reps).Failures)
	}
	waitFor(t, "answers to our liveness checks", func() bool { return g.soak.probesAnswered.Load() >= 30 })
	cancel()
	rep := <-reps
	if st := r.Stats(); st.IKEUp != 30 || st.Installs != 30 || st.IKEFailed != 0 {
		t.Errorf("responder: %+v", st)
	}
	if s := rep.Soak; s == nil || s.Bad != 0 || s.ProbesDead != 0 {
		t.Errorf("soak: %+v", s)
	}
}

// TestLoopbackHybridFlood: the half-open flood of a hybrid profile
// announces IKE_INTERMEDIATE as the tunnels do, so the responder answers
// it (five in full, cookies for the rest) rather than refusing it.
func TestLoopbackHybridFlood(t *testing.T) {
	_, o := hybridLoopback(t, func(o *ResponderOptions) { o.CookieThreshold = 5 }, 0)
	o.Flood = FloodOptions{Rate: 1000, Duration: 100 * time.Millisecond}
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f := g.Run(context.Background()).Flood
	if f == nil {
		t.Fatal("no flood statistics")
	}
	if f.Sent < 50 || f.Answered != 5 || f.Answered+f.Cookies != f.Sent || len(f.Notifies) != 0 {
		t.Errorf("flood: %+v", f)
	}
}
