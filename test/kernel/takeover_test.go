//go:build vmtest

package kernel

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/dataplane/xfrm"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/ipsec"
	"secgw/internal/netnsutil/netnstest"
)

// The HA takeover on the kernel dataplane (the standby
// installs nothing before it), through the product's code path: three IKE engines (peer C, active
// node 1, standby node 2, each engine's dataplane a childsa.Programmer
// over the XFRM dataplane of its own network namespace) exchange IKE over
// an in-memory network; ESP goes through the guest's kernel. The HA sync
// link is stood in for by what internal/daemon glues to it: node 1's
// SyncSink feeds node 2's SyncImport, and the sequence numbers node 2 is
// given at the takeover are those node 1's dataplane reported
// (SeqStates), as ha's seq sync carries them.

// haEngine is one IKE engine of the test with its kernel dataplane.
type haEngine struct {
	e   *engine.Engine
	net *enginetest.Network
}

// newHAEngine starts an engine at local with one VPN (initiating when
// remote is valid) whose policy net protects local's inner /16 to the
// peer's.
func newHAEngine(t *testing.T, name string, dp dataplane.Dataplane, local, remote netip.Addr, localID, remoteID string,
	localNet, remoteNet netip.Prefix, standby bool) *haEngine {
	t.Helper()
	return newEngine(t, name, childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dp}), local, remote, localID, remoteID,
		localNet, remoteNet, standby)
}

// newEngine is newHAEngine over the engine dataplane eng.
func newEngine(t *testing.T, name string, eng engine.Dataplane, local, remote netip.Addr, localID, remoteID string,
	localNet, remoteNet netip.Prefix, standby bool) *haEngine {
	t.Helper()
	lid, err := config.ParseIdentity(localID)
	if err != nil {
		t.Fatal(err)
	}
	rid, err := config.ParseIdentity(remoteID)
	if err != nil {
		t.Fatal(err)
	}
	vpn := &config.VPN{Name: name, LocalAddr: local, RemoteAddr: remote, LocalID: lid, RemoteID: rid, PSK: []byte("ha takeover test"),
		IKEProposals: config.DefaultIKEProposals(), ESPProposals: config.DefaultESPProposals(),
		Child: config.ChildLifetimes{ReplayWindow: config.DefaultReplayWindow},
		Policies: []config.SecurityPolicy{{Name: "net", Mode: config.ModeTunnel,
			Local: config.MustSelector(ipsec.SelectorFromPrefix(localNet, 0, 0, 65535)), Remote: config.MustSelector(ipsec.SelectorFromPrefix(remoteNet, 0, 0, 65535))}}}
	cfg := &config.Config{Global: config.Global{Retransmit: config.Retransmit{Tries: config.DefaultRetransmitTries,
		Timeout: config.DefaultRetransmitTimeout, Base: config.DefaultRetransmitBase}}, VPNs: []*config.VPN{vpn}}
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	h := &haEngine{net: enginetest.NewNetwork()}
	h.e = engine.New(engine.Options{VRF: "main", Config: cfg, LocalAddr: local, Conn: h.net, HAStandby: standby,
		Dataplane: eng,
		Logger:    slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", name)})
	return h
}

// converse delivers the datagrams of x and y to each other until neither
// has one left.
func converse(t *testing.T, x, y *haEngine) {
	t.Helper()
	for range 50 {
		from, to := x, y
		if x.net.Len() == 0 {
			from, to = y, x
		}
		d, ok := from.net.Next()
		if !ok {
			return
		}
		to.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
	}
	t.Fatal("the engines never stopped talking")
}

// syncSink is node 1's SyncSink: node 2 imports every record.
type syncSink struct {
	t  *testing.T
	mu sync.Mutex
	to *engine.Engine
	n  int
}

func (s *syncSink) SAUpdate(spiI, spiR uint64, rec []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if err := s.to.SyncImport(rec); err != nil {
		s.t.Errorf("SyncImport %016x_%016x: %v", spiI, spiR, err)
	}
}

func (s *syncSink) SADelete(spiI, spiR uint64) { s.to.SyncRemove(spiI, spiR) }

// TestHATakeoverKernel: node 1 (active) and peer C set up a child SA
// over IKE, the engines install it in their kernels, pings pass; node 2
// (standby) holds the SA as a passive record and its kernel nothing. The
// sequence numbers are synced, node 1 sends a few more packets, then
// "dies": its link to C moves to node 2's namespace with the service
// address (as VRRP moves the virtual address). node 2's SetRole(true)
// installs the child SA in its kernel with the outbound number at
// synced + oseq-shift and the inbound window at the synced highest
// number; pings from C pass through real ESP with the same SPIs, C's
// inbound SA accepts the jump with no replay drop and no authentication
// failure, and C's IKE SA was never renegotiated.
func TestHATakeoverKernel(t *testing.T) {
	const shift = 1000
	ctx := context.Background()
	n1, c := setup(t, topo{}) // n1: 192.0.2.1 inner 10.1.0.1; c: 192.0.2.2 inner 10.2.0.1
	gwNet, cNet := netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/16")
	n2ns := netnstest.NewNS(t)
	n2h := netnstest.Handle(t, n2ns)
	netnstest.LoAddr(t, n2h, netip.PrefixFrom(n1.inner, 32))
	n2dp, err := xfrm.New(xfrm.Options{NetNS: n2ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n2dp.Close() })

	peer := newHAEngine(t, "to-gw", c.dp, c.outer, n1.outer, "c.example", "gw.example", cNet, gwNet, false)
	gw1 := newHAEngine(t, "from-c", n1.dp, n1.outer, netip.Addr{}, "gw.example", "c.example", gwNet, cNet, false)
	gw2 := newHAEngine(t, "from-c", n2dp, n1.outer, netip.Addr{}, "gw.example", "c.example", gwNet, cNet, true)
	sink := &syncSink{t: t, to: gw2.e}
	gw1.e.SetSyncSink(sink)

	// IKE_SA_INIT and IKE_AUTH between C and node 1.
	if err := peer.e.Initiate("to-gw"); err != nil {
		t.Fatal(err)
	}
	converse(t, peer, gw1)
	cSAs := peer.e.IKESAs()
	if len(cSAs) != 1 || sink.n == 0 {
		t.Fatalf("C has %d IKE SAs, node 1 synced %d records", len(cSAs), sink.n)
	}
	const pings = 5
	if n, err := ping(c.ns, c.inner, n1.inner, pings); err != nil || n != pings {
		t.Fatalf("through node 1: %d of %d replies, %v", n, pings, err)
	}
	if st, err := n2dp.List(ctx); err != nil || len(st.SAs) != 0 || len(st.Policies) != 0 {
		t.Fatalf("node 2's kernel holds %d SAs and %d policies before the takeover (%v): passive SAs are not installed",
			len(st.SAs), len(st.Policies), err)
	}

	// The seq sync: node 1's numbers as its dataplane reports them.
	states, err := n1.dp.SeqStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	synced := map[engine.SeqKey]engine.Seq{}
	var outKey, inKey dataplane.SAKey
	var last dataplane.SeqState
	for _, s := range states {
		synced[engine.SeqKey{Dst: s.Key.Dst, SPI: s.Key.SPI}] = engine.Seq{OSeq: s.OSeq, ISeq: s.ISeq}
		if s.Dir == dataplane.Out {
			outKey, last = s.Key, s
		} else {
			inKey = s.Key
		}
	}
	if len(states) != 2 || last.OSeq != pings {
		t.Fatalf("node 1's SeqStates %+v: want its two SAs, %d sent", states, pings)
	}
	// Node 1 goes on after the last sync (fewer than oseq-shift).
	const after = 3
	if n, err := ping(c.ns, c.inner, n1.inner, after); err != nil || n != after {
		t.Fatalf("through node 1 after the sync: %d of %d replies, %v", n, after, err)
	}

	// Node 1 dies; the service address moves to node 2.
	va, err := n1.h.LinkByName("va")
	if err != nil {
		t.Fatal(err)
	}
	if err := n1.h.LinkSetNsFd(va, int(n2ns)); err != nil {
		t.Fatalf("moving node 1's link to node 2: %v", err)
	}
	va, err = n2h.LinkByName("va")
	if err != nil {
		t.Fatal(err)
	}
	netnstest.Addr(t, n2h, va, netip.PrefixFrom(n1.outer, 24))
	if err := n2h.LinkSetUp(va); err != nil {
		t.Fatal(err)
	}
	netnstest.Route(t, n2h, cNet, c.outer, n1.inner, nil)

	// The takeover: engine SetRole → childsa → XFRM.
	if err := gw2.e.SetRole(true, func(k engine.SeqKey) (engine.Seq, bool) {
		s, ok := synced[k]
		return s, ok
	}, shift); err != nil {
		t.Fatal(err)
	}
	out, err := n2dp.Counters(ctx, outKey)
	if err != nil {
		t.Fatalf("node 2's outbound SA %v: %v", outKey, err)
	}
	in, err := n2dp.Counters(ctx, inKey)
	if err != nil {
		t.Fatalf("node 2's inbound SA %v: %v", inKey, err)
	}
	t.Logf("synced: out %d, in %d; node 2 installed: oseq %d, iseq %d", last.OSeq, synced[engine.SeqKey{Dst: inKey.Dst, SPI: inKey.SPI}].ISeq, out.OSeq, in.ISeq)
	if out.OSeq != pings+shift {
		t.Errorf("node 2's outbound SA starts at oseq %d, want synced %d + oseq-shift %d", out.OSeq, pings, shift)
	}
	if in.ISeq != pings {
		t.Errorf("node 2's inbound SA resumes at iseq %d, want the synced %d", in.ISeq, pings)
	}
	if st, err := n2dp.List(ctx); err != nil || len(st.SAs) != 2 || len(st.Policies) != 3 {
		t.Fatalf("node 2's kernel after the takeover: %v %v", st, err)
	}

	// C's traffic through node 2: real ESP, same SPIs.
	const more = 4
	if n, err := ping(c.ns, c.inner, n1.inner, more); err != nil || n != more {
		t.Fatalf("through node 2: %d of %d replies, %v", n, more, err)
	}
	cin, err := c.dp.Counters(ctx, outKey) // node 2's out is C's in
	if err != nil {
		t.Fatal(err)
	}
	cout, err := c.dp.Counters(ctx, inKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("C in: iseq %d packets %d replay drops %d auth drops %d; C out: oseq %d", cin.ISeq, cin.Packets, cin.ReplayDrops, cin.AuthDrops, cout.OSeq)
	if cin.ISeq != pings+shift+more || cin.ReplayDrops != 0 || cin.AuthDrops != 0 || cin.Packets != pings+after+more {
		t.Errorf("C's inbound SA: %+v; want iseq %d (the shifted numbers), %d packets, no drop", cin, pings+shift+more, pings+after+more)
	}
	if n2in, err := n2dp.Counters(ctx, inKey); err != nil || n2in.ISeq != cout.OSeq || n2in.ReplayDrops != 0 {
		t.Errorf("node 2's inbound SA: %+v %v; want iseq %d (C's last), no replay drop", n2in, err, cout.OSeq)
	}
	// No renegotiation: C's IKE SA is the one it had.
	if got := peer.e.IKESAs(); fmt.Sprint(keysOf(got)) != fmt.Sprint(keysOf(cSAs)) {
		t.Errorf("C's IKE SAs changed: %v, had %v", keysOf(got), keysOf(cSAs))
	}
	if peer.net.Len() != 0 {
		t.Errorf("C has %d IKE messages to send after the takeover", peer.net.Len())
	}
}

func keysOf[K comparable, V any](m map[K]V) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	return out
}
