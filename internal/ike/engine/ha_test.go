package engine_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// The HA tests, engine side: A is the active node, B the
// standby, configured alike and with the same address (the VRRP virtual
// address moves between them), C the remote peer. A's SyncSink feeds B's
// SyncImport with the records' bytes, as the sync channel does.

// haSink hands the records of an active engine to a standby.
type haSink struct {
	t  testing.TB
	mu sync.Mutex
	to *engine.Engine
	// updates and deletes count the calls; last is the size of the last
	// record.
	updates, deletes, last int
}

func (s *haSink) SAUpdate(spiI, spiR uint64, rec []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates++
	s.last = len(rec)
	if err := s.to.SyncImport(rec); err != nil {
		s.t.Errorf("SyncImport of %016x_%016x: %v", spiI, spiR, err)
	}
}

func (s *haSink) SADelete(spiI, spiR uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deletes++
	s.to.SyncRemove(spiI, spiR)
}

// standby makes an engine start in the HA standby role.
func standby(o *engine.Options) { o.HAStandby = true }

// haTrio returns C (initiator "to-b" at addrA) and A (responder "from-a"
// at addrB, active, syncing to B) and B (A's twin, standby); both VPNs
// have a second security policy net2.
func haTrio(t *testing.T) (c, a, b *peer, sink *haSink) {
	t.Helper()
	c, a = pair(t, addPolicy("net2", "192.168.11.0/24", "192.168.12.0/24"), addPolicy("net2", "192.168.12.0/24", "192.168.11.0/24"), nil)
	ikeB := vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24")
	addPolicy("net2", "192.168.12.0/24", "192.168.11.0/24")(ikeB)
	b = newPeer(t, ikeB, addrB, standby)
	sink = &haSink{t: t, to: b.e}
	a.e.SetSyncSink(sink)
	return c, a, b, sink
}

// converse delivers the datagrams of x and y to each other until neither
// has one left, and returns the exchanges seen, "I" for requests and
// "R" for responses (e.g. "INFORMATIONAL/I").
func converse(t *testing.T, x, y *peer) []string {
	t.Helper()
	var seen []string
	for range 100 {
		from, to := x, y
		if x.net.Len() == 0 {
			from, to = y, x
		}
		if from.net.Len() == 0 {
			return seen
		}
		d := deliver(t, from, to)
		_, m := message(t, d)
		dir := "I"
		if m.Header.Flags.Response() {
			dir = "R"
		}
		seen = append(seen, m.Header.Exchange.String()+"/"+dir)
	}
	t.Fatal("the peers never went quiet")
	return nil
}

// Exchanges as converse names them.
var (
	dpdExchange    = []string{"INFORMATIONAL/I", "INFORMATIONAL/R"}
	createExchange = []string{"CREATE_CHILD_SA/I", "CREATE_CHILD_SA/R"}
	rekeyExchanges = []string{"CREATE_CHILD_SA/I", "CREATE_CHILD_SA/R", "INFORMATIONAL/I", "INFORMATIONAL/R"}
)

// exchanged fails unless the exchanges seen are want: each request
// answered, and no IKE_SA_INIT.
func exchanged(t *testing.T, what string, seen, want []string) {
	t.Helper()
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("%s: exchanges %v, want %v", what, seen, want)
	}
}

// onlyChild returns the unique-id of p's only child SA.
func onlyChild(t *testing.T, p *peer) uint32 {
	t.Helper()
	s := saState(t, p)
	if len(s.Children) != 1 {
		t.Fatalf("%d child SAs, want 1", len(s.Children))
	}
	return s.Children[0].UniqueID
}

// TestHATakeoverResponder: C's IKE SA with A is synced to B as it
// changes (IKE_AUTH, a child SA rekey, an IKE SA rekey, a DPD); B,
// standby, answers nothing; after the takeover B answers C's DPD, child
// SA rekey, new child SA and IKE SA rekey without any IKE_SA_INIT, and
// its child SAs start at the synced sequence numbers plus the shift.
func TestHATakeoverResponder(t *testing.T) {
	c, a, b, sink := haTrio(t)
	establish(t, c, a)
	if sink.updates == 0 {
		t.Fatal("IKE_AUTH: no record synced")
	}
	t.Logf("record of a PSK IKE SA with one child SA after IKE_AUTH (its response cached): %d bytes", sink.last)
	st := saState(t, b)
	as := saState(t, a)
	if st.State != "passive" || st.SPIi != as.SPIi || st.SPIr != as.SPIr || st.UniqueID != as.UniqueID ||
		len(st.Children) != 1 || st.Children[0].State != "passive" || st.Children[0].UniqueID != as.Children[0].UniqueID {
		t.Fatalf("B after IKE_AUTH: %+v, want A's SA passive", st)
	}
	if len(b.dp.Children()) != 0 || len(b.dp.Ops()) != 0 {
		t.Fatalf("the standby touched its dataplane: %v", b.dp.Ops())
	}

	// Before the failover: a child SA rekey, an IKE SA rekey and a DPD,
	// each synced.
	if err := c.e.RekeyChild(onlyChild(t, c)); err != nil {
		t.Fatal(err)
	}
	exchanged(t, "child rekey at A", converse(t, c, a), rekeyExchanges)
	if err := c.e.RekeyIKE(saState(t, c).UniqueID); err != nil {
		t.Fatal(err)
	}
	exchanged(t, "IKE rekey at A", converse(t, c, a), rekeyExchanges)
	if sink.deletes != 1 {
		t.Errorf("%d SADelete after the IKE SA rekey, want 1 (the old IKE SA)", sink.deletes)
	}
	as, st = saState(t, a), saState(t, b)
	if st.SPIi != as.SPIi || st.SPIr != as.SPIr || st.Children[0].InSPI != as.Children[0].InSPI {
		t.Fatalf("B holds %016x_%016x child %08x, A %016x_%016x child %08x", st.SPIi, st.SPIr, st.Children[0].InSPI,
			as.SPIi, as.SPIr, as.Children[0].InSPI)
	}
	// The last exchange A answers never reaches B (A dies before it
	// syncs): B must accept C's next request one message ID further on
	// (the message-ID margin of ha_msgid.go).
	a.e.SetSyncSink(nil)
	spiC, _ := onlySA(t, c)
	if err := c.e.CheckLiveness(spiC); err != nil {
		t.Fatal(err)
	}
	// B, standby, gets C's DPD too (the VRRP address is A's): it drops it.
	d, _ := c.net.Next()
	b.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
	if b.net.Len() != 0 || b.e.HAStats().Dropped != 1 {
		t.Fatalf("standby: %d datagrams sent, %d dropped; want 0 and 1", b.net.Len(), b.e.HAStats().Dropped)
	}
	a.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
	deliver(t, a, c)

	// Failover: A is gone; B takes over with A's last sequence numbers.
	ca := a.dp.Children()[0]
	seqs := func(k engine.SeqKey) (engine.Seq, bool) {
		switch k {
		case engine.SeqKey{Dst: addrA, SPI: ca.OutSPI}:
			return engine.Seq{OSeq: 5000}, true
		case engine.SeqKey{Dst: addrB, SPI: ca.InSPI}:
			return engine.Seq{ISeq: 4321}, true
		}
		return engine.Seq{}, false
	}
	if err := b.e.SetRole(true, seqs, 1<<16); err != nil {
		t.Fatal(err)
	}
	if !b.e.Role() || b.e.HAStats().TakenOver != 1 {
		t.Fatalf("after SetRole(true): active %v, %+v", b.e.Role(), b.e.HAStats())
	}
	cb := b.dp.Children()
	if len(cb) != 1 {
		t.Fatalf("B installed %d child SAs, want 1", len(cb))
	}
	if cb[0].OSeq != 5000+1<<16 || cb[0].ISeq != 4321 {
		t.Errorf("B's child SA: OSeq %d ISeq %d, want %d and 4321", cb[0].OSeq, cb[0].ISeq, 5000+1<<16)
	}
	if cb[0].InSPI != ca.InSPI || cb[0].OutSPI != ca.OutSPI || !bytes.Equal(cb[0].In.Encr, ca.In.Encr) ||
		!bytes.Equal(cb[0].Out.Encr, ca.Out.Encr) || !bytes.Equal(cb[0].Out.Integ, ca.Out.Integ) || cb[0].Suite != ca.Suite {
		t.Fatal("B's child SA is not A's")
	}
	if s := saState(t, b); s.State != "established" {
		t.Fatalf("B's IKE SA is %s after the takeover", s.State)
	}

	// C's DPD, child SA rekey, new child SA and IKE SA rekey, to B.
	spiC, _ = onlySA(t, c)
	if err := c.e.CheckLiveness(spiC); err != nil {
		t.Fatal(err)
	}
	exchanged(t, "DPD at B", converse(t, c, b), dpdExchange)
	if err := c.e.RekeyChild(onlyChild(t, c)); err != nil {
		t.Fatal(err)
	}
	exchanged(t, "child rekey at B", converse(t, c, b), rekeyExchanges)
	checkChildPair(t, c, b)
	if _, err := c.e.InitiateChild("net2"); err != nil {
		t.Fatal(err)
	}
	exchanged(t, "new child at B", converse(t, c, b), createExchange)
	if n := len(b.dp.Children()); n != 2 {
		t.Fatalf("B has %d child SAs after C's new one, want 2", n)
	}
	if err := c.e.RekeyIKE(saState(t, c).UniqueID); err != nil {
		t.Fatal(err)
	}
	exchanged(t, "IKE rekey at B", converse(t, c, b), rekeyExchanges)
	sc, sb := saState(t, c), saState(t, b)
	if sc.SPIi != sb.SPIi || sc.SPIr != sb.SPIr || sc.State != "established" || sb.State != "established" || len(sb.Children) != 2 {
		t.Fatalf("after the IKE rekey: C %016x_%016x %s, B %016x_%016x %s with %d child SAs",
			sc.SPIi, sc.SPIr, sc.State, sb.SPIi, sb.SPIr, sb.State, len(sb.Children))
	}
	if s := b.e.DoSStats(); s.Established != 1 {
		t.Errorf("B counts %d established IKE SAs, want 1", s.Established)
	}
}

// TestHATakeoverInitiator: an IKE SA A initiated survives the takeover:
// B sends the next DPD with the synced message ID and C accepts it.
func TestHATakeoverInitiator(t *testing.T) {
	a, c := pair(t, nil, nil, nil)
	b := newPeer(t, vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24"), addrA, standby)
	a.e.SetSyncSink(&haSink{t: t, to: b.e})
	establish(t, a, c)
	spiA, _ := onlySA(t, a)
	if err := a.e.CheckLiveness(spiA); err != nil {
		t.Fatal(err)
	}
	converse(t, a, c) // message ID 2 used and answered, synced
	if err := b.e.SetRole(true, nil, 100); err != nil {
		t.Fatal(err)
	}
	if cb := b.dp.Children(); len(cb) != 1 || cb[0].OSeq != 100 || cb[0].ISeq != 0 {
		t.Fatalf("B's child SAs %+v, want one from OSeq 100 (none synced)", cb)
	}
	spiB, _ := onlySA(t, b)
	if spiB != spiA {
		t.Fatalf("B's IKE SA %016x, A's %016x", spiB, spiA)
	}
	if err := b.e.CheckLiveness(spiB); err != nil {
		t.Fatal(err)
	}
	d, ok := b.net.Next()
	if !ok {
		t.Fatal("B sent no DPD")
	}
	if _, m := message(t, d); m.Header.MessageID != 3 || m.Header.Exchange != wire.ExchangeInformational {
		t.Fatalf("B's DPD: %v message ID %d, want INFORMATIONAL 3", m.Header.Exchange, m.Header.MessageID)
	}
	c.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
	r, ok := c.net.Next()
	if !ok {
		t.Fatal("C did not answer B's DPD")
	}
	if _, m := message(t, r); !m.Header.Flags.Response() || m.Header.MessageID != 3 {
		t.Fatalf("C answered %v", m.Header)
	}
	b.e.HandleDatagram(engine.Datagram{Local: r.Remote, Remote: r.Local, Data: r.Data})
	silent(t, b, c)
	if s := saState(t, b); s.State != "established" {
		t.Fatalf("B's IKE SA is %s", s.State)
	}
	checkChildPair(t, b, c)
}

// TestHATakeoverCachedDPD: the old active sent a request after its last
// sync (a DPD C answered, the answer lost with A). B's first request is
// a liveness check whatever it has to do (here a child SA rekey), with
// the synced message ID, which C takes for a retransmission: C's cached
// answer proves it alive, and the rekey follows with the next ID (the
// message-ID margin of ha_msgid.go).
func TestHATakeoverCachedDPD(t *testing.T) {
	a, c := pair(t, nil, nil, nil)
	b := newPeer(t, vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24"), addrA, standby)
	a.e.SetSyncSink(&haSink{t: t, to: b.e})
	establish(t, a, c)
	spiA, _ := onlySA(t, a)
	if err := a.e.CheckLiveness(spiA); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, c) // C answers message ID 2; A dies before it hears
	drop(t, c)
	if err := b.e.SetRole(true, nil, 100); err != nil {
		t.Fatal(err)
	}
	old := onlyChild(t, b)
	if err := b.e.RekeyChild(old); err != nil {
		t.Fatal(err)
	}
	seen := converse(t, b, c)
	want := append(slices.Clone(dpdExchange), rekeyExchanges...)
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("exchanges %v, want %v", seen, want)
	}
	if onlyChild(t, b) == old {
		t.Fatal("the child SA was not rekeyed")
	}
	checkChildPair(t, b, c)
}

// TestHAUnknownVPN: a record of a VPN the standby does not have is kept
// and counted, and dropped at the takeover.
func TestHAUnknownVPN(t *testing.T) {
	c, a := pair(t, nil, nil, nil)
	b := newPeer(t, vpnConfig("other", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24"), addrB, standby)
	a.e.SetSyncSink(&haSink{t: t, to: b.e})
	establish(t, c, a)
	if s := b.e.HAStats(); s.Passive != 1 || s.UnknownVPN != 1 {
		t.Fatalf("standby: %+v, want 1 passive SA of an unknown VPN", s)
	}
	if err := b.e.SetRole(true, nil, 100); err != nil {
		t.Fatal(err)
	}
	if s := b.e.HAStats(); s.Passive != 0 || s.NotTakenOver != 1 || s.TakenOver != 0 {
		t.Fatalf("after the takeover: %+v, want the SA dropped", s)
	}
	if len(b.e.Snapshot(false)) != 0 || len(b.dp.Ops()) != 0 {
		t.Fatalf("the SA of the unknown VPN was taken over: %v", b.dp.Ops())
	}
}

// TestHABackToStandby: an active node that goes standby removes its child
// SAs from the dataplane and keeps its IKE SAs passive, answers nothing,
// and takes them over again.
func TestHABackToStandby(t *testing.T) {
	c, a := pair(t, nil, nil, nil)
	establish(t, c, a)
	ca := a.dp.Children()[0]
	if err := a.e.SetRole(false, nil, 0); err != nil {
		t.Fatal(err)
	}
	if a.e.Role() || len(a.dp.Children()) != 0 || fmt.Sprint(a.dp.Ops()[len(a.dp.Ops())-1:]) != fmt.Sprintf("[delete %08x]", ca.InSPI) {
		t.Fatalf("standby: active %v, dataplane %v", a.e.Role(), a.dp.Ops())
	}
	if s := saState(t, a); s.State != "passive" || len(s.Children) != 1 {
		t.Fatalf("standby: %+v, want the IKE SA passive", s)
	}
	if s := a.e.DoSStats(); s.Established != 0 {
		t.Errorf("standby counts %d established IKE SAs", s.Established)
	}
	spiC, _ := onlySA(t, c)
	if err := c.e.CheckLiveness(spiC); err != nil {
		t.Fatal(err)
	}
	dpd := deliver(t, c, a)
	if a.net.Len() != 0 || a.e.HAStats().Dropped != 1 {
		t.Fatal("the standby answered")
	}
	if err := a.e.SetRole(true, nil, 1000); err != nil {
		t.Fatal(err)
	}
	if cs := a.dp.Children(); len(cs) != 1 || cs[0].InSPI != ca.InSPI || cs[0].OSeq != 1000 {
		t.Fatalf("active again: child SAs %+v", cs)
	}
	// C retransmits its DPD; A, active, answers it.
	a.e.HandleDatagram(engine.Datagram{Local: dpd.Remote, Remote: dpd.Local, Data: dpd.Data})
	if seen := converse(t, a, c); fmt.Sprint(seen) != "[INFORMATIONAL/R]" {
		t.Fatalf("after the DPD's retransmission: %v", seen)
	}
	if s := saState(t, a); s.State != "established" {
		t.Fatalf("active again: %s", s.State)
	}
}

// TestHAStandbyInitiatesNothing: a standby answers no IKE_SA_INIT and
// refuses the initiations; an engine without HA is active.
func TestHAStandbyInitiatesNothing(t *testing.T) {
	a, b := pair(t, nil, nil, standby)
	if !a.e.Role() || b.e.Role() {
		t.Fatalf("roles: A %v (no HA), B %v (HAStandby)", a.e.Role(), b.e.Role())
	}
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b)
	if b.net.Len() != 0 || b.e.HAStats().Dropped != 1 {
		t.Fatal("the standby answered an IKE_SA_INIT")
	}
	s := newPeer(t, vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24"), addrA, standby)
	for what, err := range map[string]error{
		"Initiate": s.e.Initiate("to-b"),
		"InitiateChildless": func() error {
			_, err := s.e.InitiateChildless("to-b")
			return err
		}(),
		"InitiateChild": func() error {
			_, err := s.e.InitiateChild("net")
			return err
		}(),
		"Acquire": s.e.Acquire("net", engine.Packet{}),
	} {
		if !errors.Is(err, engine.ErrStandby) {
			t.Errorf("%s on a standby: %v, want ErrStandby", what, err)
		}
	}
	if s.net.Len() != 0 {
		t.Fatal("the standby sent something")
	}
	if err := a.e.SyncImport([]byte{1, 2, 3}); !errors.Is(err, engine.ErrActive) {
		t.Errorf("SyncImport on the active: %v", err)
	}
	if err := s.e.SyncImport([]byte{1, 2, 3}); err == nil || s.e.HAStats().Rejected != 1 {
		t.Errorf("SyncImport of garbage: %v, %+v", err, s.e.HAStats())
	}
}

// TestHASyncSnapshot: SyncSnapshot gives the record of every established
// IKE SA, which a standby imports as SAUpdate's.
func TestHASyncSnapshot(t *testing.T) {
	c, a := pair(t, nil, nil, nil)
	establish(t, c, a)
	b := newPeer(t, vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24"), addrB, standby)
	n := 0
	a.e.SyncSnapshot(func(spiI, spiR uint64, rec []byte) {
		n++
		if err := b.e.SyncImport(rec); err != nil {
			t.Error(err)
		}
	})
	if n != 1 || b.e.HAStats().Passive != 1 {
		t.Fatalf("snapshot: %d records, standby holds %d", n, b.e.HAStats().Passive)
	}
	var none int
	b.e.SyncSnapshot(func(uint64, uint64, []byte) { none++ })
	if none != 0 {
		t.Error("a standby's snapshot is not empty")
	}
	sa := saState(t, b)
	b.e.SyncRemove(sa.SPIi, sa.SPIr)
	if b.e.HAStats().Passive != 0 {
		t.Error("SyncRemove kept the SA")
	}
}

// TestHAStartActionAtTakeover: start-action start is not applied by a
// standby's commit; the takeover applies it to the VPNs without an IKE
// SA.
func TestHAStartActionAtTakeover(t *testing.T) {
	s, _ := pair(t, nil, nil, nil)
	if err := s.e.SetRole(false, nil, 0); err != nil {
		t.Fatal(err)
	}
	s.e.SetConfig(&config.Config{})
	commitA(t, s, startAction(startStart))
	if s.net.Len() != 0 {
		t.Fatal("a standby applied start-action start")
	}
	if err := s.e.SetRole(true, nil, 0); err != nil {
		t.Fatal(err)
	}
	d, ok := s.net.Next()
	if !ok {
		t.Fatal("the takeover did not apply start-action start")
	}
	if _, m := message(t, d); m.Header.Exchange != wire.ExchangeIKESAInit {
		t.Fatalf("sent %v, want IKE_SA_INIT", m.Header.Exchange)
	}
}

// TestHATakeoverCachedCreate: the old active created a child SA after
// its last sync (C answered, the answer lost with A). B's liveness check
// gets C's cached CREATE_CHILD_SA response for that message ID: B takes
// it as proof of liveness and sends its check again with the next ID,
// which C answers; B's own requests go on from there.
func TestHATakeoverCachedCreate(t *testing.T) {
	a, c := pair(t, addPolicy("net2", "192.168.11.0/24", "192.168.12.0/24"), addPolicy("net2", "192.168.12.0/24", "192.168.11.0/24"), nil)
	ikeB := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
	addPolicy("net2", "192.168.11.0/24", "192.168.12.0/24")(ikeB)
	b := newPeer(t, ikeB, addrA, standby)
	a.e.SetSyncSink(&haSink{t: t, to: b.e})
	establish(t, a, c)
	if _, err := a.e.InitiateChild("net2"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, c) // CREATE_CHILD_SA, message ID 2: C installs net2
	drop(t, c)       // its answer is lost with A
	if err := b.e.SetRole(true, nil, 100); err != nil {
		t.Fatal(err)
	}
	spiB, _ := onlySA(t, b)
	if err := b.e.CheckLiveness(spiB); err != nil {
		t.Fatal(err)
	}
	want := []string{"INFORMATIONAL/I", "CREATE_CHILD_SA/R", "INFORMATIONAL/I", "INFORMATIONAL/R"}
	exchanged(t, "B's first DPD", converse(t, b, c), want)
	if s := saState(t, b); s.State != "established" || len(s.Children) != 1 {
		t.Fatalf("B after its DPD: %s with %d child SAs", s.State, len(s.Children))
	}
	if err := b.e.RekeyChild(onlyChild(t, b)); err != nil {
		t.Fatal(err)
	}
	exchanged(t, "B's child rekey", converse(t, b, c), rekeyExchanges)
}

// TestHATakeoverLostResponse: A answered C's DPD and synced, but the
// answer was lost with A; C's retransmission reaches B, which sends the
// response A cached (the record carries it, RFC 7296 §2.1), and the
// next exchange goes on normally.
func TestHATakeoverLostResponse(t *testing.T) {
	c, a, b, sink := haTrio(t)
	establish(t, c, a)
	spiC, _ := onlySA(t, c)
	if err := c.e.CheckLiveness(spiC); err != nil {
		t.Fatal(err)
	}
	req := deliver(t, c, a)
	lost := drop(t, a)
	t.Logf("record of a PSK IKE SA with one child SA after a DPD: %d bytes", sink.last)
	if err := b.e.SetRole(true, nil, 100); err != nil {
		t.Fatal(err)
	}
	b.e.HandleDatagram(engine.Datagram{Local: req.Remote, Remote: req.Local, Data: req.Data}) // C's retransmission
	resent, ok := b.net.Next()
	if !ok || !bytes.Equal(resent.Data, lost.Data) {
		t.Fatal("B did not resend A's cached response")
	}
	c.e.HandleDatagram(engine.Datagram{Local: resent.Remote, Remote: resent.Local, Data: resent.Data})
	silent(t, c, b)
	if err := c.e.CheckLiveness(spiC); err != nil {
		t.Fatal(err)
	}
	exchanged(t, "the next DPD", converse(t, c, b), dpdExchange)
}

// claimingVIPs is poolVIPs that can take over a lease (engine.VIPClaimer),
// as the IKE service's adapter does.
type claimingVIPs struct{ *poolVIPs }

func (v claimingVIPs) Claim(l engine.VIPLease) bool {
	if !v.m.Inject(l.Pool, l.Identity, l.Addr) {
		return false
	}
	got, err := v.m.Acquire([]string{l.Pool}, l.Identity, l.Addr.Is6())
	return err == nil && got.Addr == l.Addr
}

// TestHAVirtualIPs: the virtual IP A's pool gave road warrior C is held
// by B's pool after B took over (the next peer gets another address),
// and the one C received moves from C's host to its twin D's when C
// goes standby and D takes over; B and D then carry on.
func TestHAVirtualIPs(t *testing.T) {
	rwConfig := func() (ikeC, ikeA *generated.SecgwVrf_Vrf_Ike) {
		ikeC = vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
		ikeC.Vpn["to-b"].VipRequest = []string{"0.0.0.0"}
		ikeC.Vpn["to-b"].SecurityPolicy["net"].LocalTs.Subnet = nil
		ikeA = vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24")
		ikeA.Vpn["from-a"].VipPool = []string{"rw"}
		ikeA.Vpn["from-a"].RemoteId = nil
		ikeA.Vpn["from-a"].SecurityPolicy["net"].RemoteTs.Subnet = nil
		return ikeC, ikeA
	}
	vipsC, vipsA := &poolVIPs{}, newPoolVIPs(t, "10.8.0.1-10.8.0.2")
	c, a := roadWarriors(t, vipsC, vipsA, "0.0.0.0")
	ikeD, ikeB := rwConfig()
	vipsB, vipsD := claimingVIPs{newPoolVIPs(t, "10.8.0.1-10.8.0.2")}, &poolVIPs{}
	b := newPeer(t, ikeB, addrB, both(standby, func(o *engine.Options) { o.VIPs = vipsB }))
	d := newPeer(t, ikeD, addrA, both(standby, func(o *engine.Options) { o.VIPs = vipsD }))
	a.e.SetSyncSink(&haSink{t: t, to: b.e})
	c.e.SetSyncSink(&haSink{t: t, to: d.e})
	connectVIP(t, c, a, authWithVIP)
	vip := []netip.Addr{netip.MustParseAddr("10.8.0.1")}
	if sb, sd := saState(t, b), saState(t, d); !slices.Equal(sb.RemoteVIPs, vip) || !slices.Equal(sd.LocalVIPs, vip) {
		t.Fatalf("passive: B gave %v, D received %v; want %v", sb.RemoteVIPs, sd.LocalVIPs, vip)
	}
	if err := b.e.SetRole(true, nil, 0); err != nil {
		t.Fatal(err)
	}
	if vipsB.held(t) != 1 {
		t.Fatalf("B's pool holds %d leases after the takeover, want C's", vipsB.held(t))
	}
	if l, err := vipsB.m.Acquire([]string{"rw"}, "another.example", false); err != nil || l.Addr == vip[0] {
		t.Fatalf("B's pool gives the next peer %v (%v): C's address again", l.Addr, err)
	}
	if err := c.e.SetRole(false, nil, 0); err != nil {
		t.Fatal(err)
	}
	if len(vipsC.installed) != 0 {
		t.Fatalf("C, standby, still has %v on its host", vipsC.installed)
	}
	if err := d.e.SetRole(true, nil, 0); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vipsD.installed, vip) {
		t.Fatalf("D installed %v after its takeover, want %v", vipsD.installed, vip)
	}
	spiD, _ := onlySA(t, d)
	if err := d.e.CheckLiveness(spiD); err != nil {
		t.Fatal(err)
	}
	exchanged(t, "D's DPD to B", converse(t, d, b), dpdExchange)
	checkChildPair(t, d, b)
}
