package engine_test

import (
	"net/netip"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/ike/wire"
)

// batchDataplane is the recording dataplane with batches, counted.
type batchDataplane struct {
	*enginetest.Dataplane
	installs, deletes, children int
}

func (d *batchDataplane) InstallChildren(cs []engine.ChildSA) []error {
	d.installs++
	d.children += len(cs)
	return engine.InstallChildren(d.Dataplane, cs)
}

func (d *batchDataplane) DeleteChildren(cs []engine.ChildSA) []error {
	d.deletes++
	return engine.DeleteChildren(d.Dataplane, cs)
}

// TestHARoleBatches: a takeover of n passive IKE SAs installs their
// child SAs in at most one batch per worker (BatchDataplane), never one
// by one; going standby removes them all in one batch. The work of a
// failover at 10k tunnels (whose target is < 1 s for 99 %), counted, not timed.
func TestHARoleBatches(t *testing.T) {
	const n = 500
	c, a := pair(t, nil, nil, nil)
	var rec []byte
	a.e.SetSyncSink(sinkFunc(func(_, _ uint64, r []byte) { rec = r }))
	establish(t, c, a)
	if rec == nil {
		t.Fatal("no record")
	}
	ike := vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24")
	ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{SaTableSize: ptr(uint32(1024)), SaTableSegments: ptr(uint32(16))}
	dp := &batchDataplane{Dataplane: enginetest.NewDataplane()}
	s := newPeer(t, ike, addrB, both(standby, quietLog, func(o *engine.Options) { o.Dataplane = dp }))
	for i := range n {
		r, err := engine.HARecordVariantForTest(rec, uint32(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.e.SyncImport(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.e.SetRole(true, nil, 1<<16); err != nil {
		t.Fatal(err)
	}
	if got := len(dp.Children()); got != n {
		t.Fatalf("%d child SAs installed, want %d", got, n)
	}
	if dp.installs == 0 || dp.installs > config.DefaultThreads || dp.children != n {
		t.Errorf("takeover: %d batches of %d child SAs in all; want 1 to %d (one per worker) of %d", dp.installs, dp.children, config.DefaultThreads, n)
	}
	for _, cs := range dp.Children() {
		if cs.OSeq != 1<<16 {
			t.Fatalf("child %08x installed with OSeq %d, want the shift %d", cs.InSPI, cs.OSeq, 1<<16)
		}
	}
	if err := s.e.SetRole(false, nil, 0); err != nil {
		t.Fatal(err)
	}
	if dp.deletes != 1 || len(dp.Children()) != 0 {
		t.Errorf("standby: %d delete batches, %d child SAs left; want 1 and 0", dp.deletes, len(dp.Children()))
	}
	if st := s.e.HAStats(); st.Passive != n {
		t.Errorf("standby holds %d passive IKE SAs, want %d", st.Passive, n)
	}
}

// hookDataplane calls during from InstallChildren: something that
// happens while a takeover installs its child SAs.
type hookDataplane struct {
	*enginetest.Dataplane
	during func()
}

func (d *hookDataplane) InstallChildren(cs []engine.ChildSA) []error {
	if d.during != nil {
		d.during()
		d.during = nil
	}
	return engine.InstallChildren(d.Dataplane, cs)
}

func (d *hookDataplane) DeleteChildren(cs []engine.ChildSA) []error {
	return engine.DeleteChildren(d.Dataplane, cs)
}

// TestHATakeoverHoldsDatagrams: C's liveness check (RFC 7296 §1.4) that
// reaches B while B's takeover installs the SAs is not dropped as a
// standby's: B answers it as soon as the SAs are in, so C does not wait
// for its next retransmission.
func TestHATakeoverHoldsDatagrams(t *testing.T) {
	c, a := pair(t, nil, nil, nil)
	ikeB := vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24")
	dp := &hookDataplane{Dataplane: enginetest.NewDataplane()}
	b := newPeer(t, ikeB, addrB, both(standby, func(o *engine.Options) { o.Dataplane = dp }))
	a.e.SetSyncSink(&haSink{t: t, to: b.e})
	establish(t, c, a)
	spiC, _ := onlySA(t, c)
	if err := c.e.CheckLiveness(spiC); err != nil {
		t.Fatal(err)
	}
	d, _ := c.net.Next()
	dp.during = func() {
		b.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
		if b.net.Len() != 0 {
			t.Errorf("B answered before its SAs were in")
		}
	}
	if err := b.e.SetRole(true, nil, 1<<16); err != nil {
		t.Fatal(err)
	}
	if b.net.Len() != 1 || b.e.HAStats().Dropped != 0 {
		t.Fatalf("after the takeover: %d datagrams sent, %d dropped; want the answer and 0", b.net.Len(), b.e.HAStats().Dropped)
	}
	_, m := message(t, deliver(t, b, c))
	if m.Header.Exchange != wire.ExchangeInformational || !m.Header.Flags.Response() {
		t.Fatalf("B sent %v (response %v), want the INFORMATIONAL response", m.Header.Exchange, m.Header.Flags.Response())
	}
}
