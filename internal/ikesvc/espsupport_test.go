package ikesvc

import (
	"context"
	"encoding/xml"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"secgw/generated"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
)

// TestUnsupportedESPRefusedAndCounted: the responder's
// dataplane can carry no ESP suite the initiator proposes. The responder
// answers NO_PROPOSAL_CHOSEN without trying to install anything and
// counts the failure in its statistics as no-proposal-chosen, as the
// initiator does.
func TestUnsupportedESPRefusedAndCounted(t *testing.T) {
	a, _ := newService(t, 15900)
	dpB := enginetest.NewDataplane()
	dpB.Refuse = func(ikecrypto.Suite) bool { return true }
	attempts := 0
	var mu sync.Mutex
	dpB.InstallHook = func(engine.ChildSA) error { mu.Lock(); attempts++; mu.Unlock(); return nil }
	b := New(Options{Dataplane: dpB, DataplaneKind: "userspace", PortIKE: 15900, PortNATT: 15901,
		SupportsESP: dpB.SupportsESP,
		Logger:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	t.Cleanup(func() { b.Close() })
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")); err != nil {
		t.Fatal(err)
	}
	out, err := a.Call(context.Background(), xml.Name{Space: NS, Local: "initiate"},
		[]byte(`<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>net</security-policy></child-sa></initiate>`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "failed: NO_PROPOSAL_CHOSEN") {
		t.Fatalf("initiate: %s", out)
	}
	npc := generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_no_proposal_chosen
	waitFor(t, func() bool {
		f := b.State(false).Statistics.Failure[npc]
		return f != nil && *f.Count == 1
	})
	for name, s := range map[string]*Service{"initiator": a, "responder": b} {
		st := s.State(false).Statistics
		if f := st.Failure[npc]; f == nil || *f.Count != 1 || len(st.Failure) != 1 {
			t.Errorf("%s failures: %+v, want one no-proposal-chosen", name, st.Failure)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 0 {
		t.Errorf("responder tried %d installs, want none", attempts)
	}
}
