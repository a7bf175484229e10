package engine_test

import (
	"errors"
	"testing"
	"time"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// TestPanicReleasesWorker: a panic under a worker's lock (here the
// dataplane panics while the responder installs the child SA of
// IKE_AUTH) is recovered, logged and counted; the worker's lock is
// released, so the state is still served and the next negotiation
// completes.
func TestPanicReleasesWorker(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	b.dp.InstallHook = func(engine.ChildSA) error { panic("injected") }
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request: the dataplane panics
	if n := b.e.Panics(); n != 1 {
		t.Fatalf("Panics() = %d, want 1", n)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.e.Snapshot(false)
		b.e.IKESAs()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the worker lock is still held after the panic: Snapshot hangs")
	}
	// Everything from the first attempt goes; the next one works.
	b.dp.InstallHook = nil
	for _, sa := range b.e.Snapshot(false) {
		b.e.DeleteIKEByUID(sa.UniqueID)
	}
	for _, sa := range a.e.Snapshot(false) {
		a.e.DeleteIKEByUID(sa.UniqueID)
	}
	takeAll(a)
	takeAll(b)
	establish(t, a, b)
}

// TestInitiatorCannotInstallChild: the initiator's dataplane refuses the
// child SA the responder accepted (a suite it cannot carry). The IKE SA
// stays up on both sides (RFC 7296 §2.21.3), the initiator reports the
// failure as its own (no INVALID_SYNTAX blamed on the peer) and tells the
// responder to delete its half with D(ESP), so no side keeps a dead
// tunnel.
func TestInitiatorCannotInstallChild(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	a.dp.InstallHook = func(engine.ChildSA) error { return errors.New("suite not supported by this dataplane") }
	establish(t, a, b)
	if n := len(b.dp.Children()); n != 1 {
		t.Fatalf("responder has %d child SAs after IKE_AUTH, want 1", n)
	}
	step(t, a, b, wire.ExchangeInformational, false, "D(ESP)")
	step(t, b, a, wire.ExchangeInformational, true, "D(ESP)")
	if n := len(a.dp.Children()) + len(b.dp.Children()); n != 0 {
		t.Fatalf("%d child SAs left", n)
	}
	for _, p := range []*peer{a, b} {
		if _, sa := onlySA(t, p); sa.State != "established" {
			t.Fatalf("IKE SA %+v, want established", sa)
		}
	}
	if a.e.Panics()+b.e.Panics() != 0 {
		t.Fatal("panics recovered")
	}
}

// TestResponderCannotInstallChild: the responder's dataplane refuses the
// child SA: it answers IKE_AUTH with NO_PROPOSAL_CHOSEN for the child,
// and both keep the IKE SA without a child SA.
func TestResponderCannotInstallChild(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	b.dp.InstallHook = func(engine.ChildSA) error { return errors.New("suite not supported by this dataplane") }
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request
	step(t, b, a, wire.ExchangeIKEAuth, true, "IDr AUTH N(NO_PROPOSAL_CHOSEN)")
	if n := len(a.dp.Children()) + len(b.dp.Children()); n != 0 {
		t.Fatalf("%d child SAs", n)
	}
	for _, p := range []*peer{a, b} {
		if _, sa := onlySA(t, p); sa.State != "established" {
			t.Fatalf("IKE SA %+v, want established", sa)
		}
	}
}
