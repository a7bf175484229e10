package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"secgw/generated"
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

// TestRefusedInitIsReported: a responder that finds no acceptable IKE
// proposal answers NO_PROPOSAL_CHOSEN, logs why and reports IKEFailed
// (which the statistics count), though no IKE SA was made.
func TestRefusedInitIsReported(t *testing.T) {
	logs, withLogs := recordLogs(t)
	var ev events
	a, b := pairOpts(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].IkePolicy.IkeProposal = map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{
			1: {Id: ptr(uint8(1)), EncAlg: []generated.E_SecgwIke_EncryptionAlgorithm{generated.SecgwIke_EncryptionAlgorithm_aes256_cbc},
				AuthAlg: []generated.E_SecgwIke_IntegrityAlgorithm{generated.SecgwIke_IntegrityAlgorithm_hmac_sha512},
				DhGroup: []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_ecp384}},
		}
	}, nil, both(withLogs, ev.hook()))
	a.e.Initiate("to-b")
	deliver(t, a, b)      // IKE_SA_INIT request with the default proposals
	d := deliver(t, b, a) // IKE_SA_INIT response: N(NO_PROPOSAL_CHOSEN)
	if m, err := wire.Parse(d.Data); err != nil || m.Find(wire.PayloadNotify).(*wire.Notify).NotifyType != wire.NotifyNoProposalChosen {
		t.Fatalf("response %v, %v", m, err)
	}
	recs := logs.find("IKE_SA_INIT refused")
	if len(recs) != 1 || recs[0]["vpn"] != "from-a" || recs[0]["notify"] != "NO_PROPOSAL_CHOSEN" {
		t.Fatalf("log records %v, want one line naming the VPN and the notify", recs)
	}
	if ev.kinds() != "ike-failed" || !strings.Contains(ev.list[0].Reason, "NO_PROPOSAL_CHOSEN") {
		t.Fatalf("events %q %+v, want IKEFailed with NO_PROPOSAL_CHOSEN", ev.kinds(), ev.list)
	}
}
