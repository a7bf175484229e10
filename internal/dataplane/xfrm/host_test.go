package xfrm

// Tests against the kernel this runs on, each in a fresh network
// namespace. This machine's kernel has XFRM but no ESP transforms: SAs are
// exercised in qemu (make test-kernel); policies, allocspi, acquires, SPD
// settings and batching are exercised here.

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/poll"
)

func newDP(t testing.TB, ns netns.NsHandle, events bool) *Dataplane {
	t.Helper()
	d, err := New(Options{NetNS: ns, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func policySet() []dataplane.Policy {
	var out []dataplane.Policy
	for _, name := range []string{"out", "fwd-mark-ifid", "in-transport-ports", "discard-v6", "v6-in-v4"} {
		out = append(out, testPolicies()[name])
	}
	bypass := testPolicies()["bypass"]
	bypass.Sel.Dst = netip.MustParsePrefix("10.3.0.0/16")
	return append(out, bypass)
}

// TestHostPoliciesReconcile programs policies of every kind through the
// Reconciler, lists them back equal, reconciles idle with no op, updates
// and deletes, and leaves a foreign policy alone.
func TestHostPoliciesReconcile(t *testing.T) {
	ns := netnstest.NewNS(t)
	d := newDP(t, ns, false)
	ctx := context.Background()

	// A policy of another IKE daemon: not listed, never touched.
	xh, err := netlink.NewHandleAt(ns, unix.NETLINK_XFRM)
	if err != nil {
		t.Fatal(err)
	}
	defer xh.Close()
	foreign := &netlink.XfrmPolicy{Src: netnsutil.IPNet(netip.MustParsePrefix("172.16.0.0/12")), Dst: netnsutil.IPNet(netip.MustParsePrefix("172.17.0.0/16")),
		Dir: netlink.XFRM_DIR_OUT, Priority: 5}
	if err := xh.XfrmPolicyAdd(foreign); err != nil {
		t.Fatal(err)
	}

	r := dataplane.NewReconciler(d, nil)
	want := dataplane.State{Policies: policySet()}
	if rep, err := r.Reconcile(ctx, want); err != nil || rep.Ops != len(want.Policies) {
		t.Fatalf("first reconcile: %d ops, %v", rep.Ops, err)
	}
	got, err := d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := dataplane.Render(got, dataplane.RenderOptions{}), dataplane.Render(want, dataplane.RenderOptions{}); g != w {
		t.Errorf("listed policies differ:\n got:\n%s\nwant:\n%s", g, w)
	}
	if rep, err := r.Reconcile(ctx, want); err != nil || rep.Ops != 0 {
		t.Errorf("idle reconcile: %d ops %v, changes %v", rep.Ops, err, rep.Changes)
	}

	// A new process finds its policies by their index.
	d2 := newDP(t, ns, false)
	again, err := d2.List(ctx)
	if err != nil || len(again.Policies) != len(want.Policies) {
		t.Fatalf("after restart: %d policies listed, %v", len(again.Policies), err)
	}

	// Drift by hand: a priority changed behind our back is fixed.
	kp, err := xh.XfrmPolicyList(unix.AF_UNSPEC)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range kp {
		if p.Dir == netlink.XFRM_DIR_OUT && p.Priority == 261888 {
			p.Priority = 3
			if err := xh.XfrmPolicyUpdate(&p); err != nil {
				t.Fatal(err)
			}
		}
	}
	rep, err := dataplane.NewReconciler(d2, nil).Reconcile(ctx, want)
	if err != nil || rep.Ops != 1 || rep.Changes[0].Kind != dataplane.UpdatePolicy {
		t.Errorf("drift: %d ops %v %v", rep.Ops, rep.Changes, err)
	}

	// Everything removed; the foreign policy stays.
	if rep, err := r.Reconcile(ctx, dataplane.State{}); err != nil || rep.Ops != len(want.Policies) {
		t.Errorf("removal: %d ops %v", rep.Ops, err)
	}
	left, _ := xh.XfrmPolicyList(unix.AF_UNSPEC)
	if len(left) != 1 || left[0].Priority != 5 {
		t.Errorf("left in the kernel: %v", left)
	}
}

// TestHostBatchFailure: a failed op in a batch is reported at its index;
// ops before it are applied, and (the kernel goes on within a batch) so
// are the ops after it in the same batch.
func TestHostBatchFailure(t *testing.T) {
	ns := netnstest.NewNS(t)
	d := newDP(t, ns, false)
	ctx := context.Background()
	ps := policySet()
	if err := d.Apply(ctx, []dataplane.Op{{Kind: dataplane.AddPolicy, Policy: &ps[1]}}); err != nil {
		t.Fatal(err)
	}
	ops := []dataplane.Op{
		{Kind: dataplane.AddPolicy, Policy: &ps[0]},
		{Kind: dataplane.AddPolicy, Policy: &ps[1]}, // exists
		{Kind: dataplane.AddPolicy, Policy: &ps[2]},
	}
	err := d.Apply(ctx, ops)
	var ae *dataplane.ApplyError
	if !errors.As(err, &ae) || ae.Index != 1 || !errors.Is(err, dataplane.ErrExist) {
		t.Fatalf("got %v, want an ApplyError at 1 matching ErrExist", err)
	}
	s, _ := d.List(ctx)
	if len(s.Policies) != 3 {
		t.Errorf("%d policies after the batch, want 3", len(s.Policies))
	}
	// An op this package cannot encode stops the batch before it.
	bad := dataplane.Policy{Dir: dataplane.Out}
	err = d.Apply(ctx, []dataplane.Op{{Kind: dataplane.AddPolicy, Policy: &ps[3]}, {Kind: dataplane.AddPolicy, Policy: &bad}, {Kind: dataplane.AddPolicy, Policy: &ps[4]}})
	if !errors.As(err, &ae) || ae.Index != 1 {
		t.Fatalf("got %v, want an ApplyError at 1", err)
	}
	s, _ = d.List(ctx)
	if len(s.Policies) != 4 {
		t.Errorf("%d policies after the invalid op, want 4", len(s.Policies))
	}
	// Deleting what is gone matches ErrNotFound.
	del := []dataplane.Op{{Kind: dataplane.DeletePolicy, Policy: &ps[5]}}
	if err := d.Apply(ctx, del); !errors.Is(err, dataplane.ErrNotFound) {
		t.Errorf("delete of a missing policy: %v", err)
	}
}

// TestHostLargeBatch: more ops than one buffer holds, in one Apply.
func TestHostLargeBatch(t *testing.T) {
	ns := netnstest.NewNS(t)
	d := newDP(t, ns, false)
	ctx := context.Background()
	want := policyState(1000)
	if rep, err := dataplane.NewReconciler(d, nil).Reconcile(ctx, want); err != nil || rep.Ops != 1000 {
		t.Fatalf("%d ops, %v", rep.Ops, err)
	}
	s, err := d.List(ctx)
	if err != nil || len(s.Policies) != 1000 {
		t.Fatalf("%d listed, %v", len(s.Policies), err)
	}
	info, err := d.SPDInfo()
	if err != nil || info.In+info.Out+info.Fwd != 1000 {
		t.Errorf("SPD info %+v %v", info, err)
	}
}

// policyState returns n policies: out, in and fwd of n/3 tunnels between
// distinct /24s.
func policyState(n int) dataplane.State {
	var s dataplane.State
	for i := 0; len(s.Policies) < n; i++ {
		l := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		r := netip.PrefixFrom(netip.AddrFrom4([4]byte{11, byte(i >> 8), byte(i), 0}), 24)
		tmpl := dataplane.Template{Src: gwA, Dst: gwB, ReqID: dataplane.OwnedReqIDs.Min + uint32(i)}
		back := dataplane.Template{Src: gwB, Dst: gwA, ReqID: tmpl.ReqID}
		for _, p := range []dataplane.Policy{
			{Sel: dataplane.Selector{Src: l, Dst: r}, Dir: dataplane.Out, Priority: 100, Action: dataplane.Protect, Tmpl: tmpl},
			{Sel: dataplane.Selector{Src: r, Dst: l}, Dir: dataplane.In, Priority: 100, Action: dataplane.Protect, Tmpl: back},
			{Sel: dataplane.Selector{Src: r, Dst: l}, Dir: dataplane.Fwd, Priority: 100, Action: dataplane.Protect, Tmpl: back},
		} {
			if len(s.Policies) < n {
				s.Policies = append(s.Policies, p)
			}
		}
	}
	return s
}

// TestHostAllocSPI: distinct SPIs >= 256, held by placeholders that List
// leaves out.
func TestHostAllocSPI(t *testing.T) {
	ns := netnstest.NewNS(t)
	d := newDP(t, ns, false)
	ctx := context.Background()
	seen := map[uint32]bool{}
	for i := 0; i < 20; i++ {
		spi, err := d.AllocSPI(ctx, gwB, gwA, dataplane.OwnedReqIDs.Min)
		if err != nil {
			t.Fatal(err)
		}
		if spi < 256 || seen[spi] {
			t.Fatalf("SPI %#x (seen before: %v)", spi, seen[spi])
		}
		seen[spi] = true
	}
	xh, _ := netlink.NewHandleAt(ns, unix.NETLINK_XFRM)
	defer xh.Close()
	if states, err := xh.XfrmStateList(unix.AF_UNSPEC); err != nil || len(states) != 20 {
		t.Errorf("kernel holds %d states, want 20 placeholders (%v)", len(states), err)
	}
	if s, err := d.List(ctx); err != nil || len(s.SAs) != 0 {
		t.Errorf("List shows %d SAs, %v", len(s.SAs), err)
	}
	// IPv6 too.
	if spi, err := d.AllocSPI(ctx, gw6B, gw6A, dataplane.OwnedReqIDs.Min); err != nil || spi < 256 {
		t.Errorf("IPv6 allocspi: %#x %v", spi, err)
	}
}

// TestHostSPDHash sets the hash thresholds and reads them back.
func TestHostSPDHash(t *testing.T) {
	ns := netnstest.NewNS(t)
	d := newDP(t, ns, false)
	info, err := d.SPDInfo()
	if err != nil || info.Hash != DefaultSPDHash {
		t.Fatalf("initial %+v %v, want the kernel default %+v", info.Hash, err, DefaultSPDHash)
	}
	h := SPDHash{IPv4Local: 16, IPv4Remote: 24, IPv6Local: 56, IPv6Remote: 64}
	if err := d.SetSPDHash(h); err != nil {
		t.Fatal(err)
	}
	if info, err = d.SPDInfo(); err != nil || info.Hash != h {
		t.Errorf("after set: %+v %v", info.Hash, err)
	}
	if err := d.SetSPDHash(SPDHash{IPv4Local: 33}); err == nil {
		t.Error("threshold 33 for IPv4 accepted")
	}
}

// TestHostAcquire: traffic matching a Protect policy without an SA raises
// an acquire for our policy; one for a foreign policy is not delivered.
func TestHostAcquire(t *testing.T) {
	a, b := netnstest.NewNS(t), netnstest.NewNS(t)
	netnstest.Veth(t, a, b, "va", "vb", netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("192.0.2.2/24"))
	ha := netnstest.Handle(t, a)
	netnstest.LoAddr(t, ha, netip.MustParsePrefix("10.1.0.1/32"))
	netnstest.Route(t, ha, netip.MustParsePrefix("10.2.0.0/16"), gwB, netip.MustParseAddr("10.1.0.1"), nil)
	netnstest.Route(t, ha, netip.MustParsePrefix("10.3.0.0/16"), gwB, netip.MustParseAddr("10.1.0.1"), nil)
	d := newDP(t, a, true)
	ctx := context.Background()
	pol := testPolicies()["out"]
	if err := d.Apply(ctx, []dataplane.Op{{Kind: dataplane.AddPolicy, Policy: &pol}}); err != nil {
		t.Fatal(err)
	}
	xh, _ := netlink.NewHandleAt(a, unix.NETLINK_XFRM)
	defer xh.Close()
	foreign := &netlink.XfrmPolicy{Src: netnsutil.IPNet(netip.MustParsePrefix("10.1.0.0/16")), Dst: netnsutil.IPNet(netip.MustParsePrefix("10.3.0.0/16")),
		Dir: netlink.XFRM_DIR_OUT, Tmpls: []netlink.XfrmPolicyTmpl{{Src: net.IP(gwA.AsSlice()), Dst: net.IP(gwB.AsSlice()), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL, Reqid: 7}}}
	if err := xh.XfrmPolicyAdd(foreign); err != nil {
		t.Fatal(err)
	}
	send := func(dst string) {
		netnsutil.Run(a, func() error {
			c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("10.1.0.1")}, &net.UDPAddr{IP: net.ParseIP(dst), Port: 9})
			if err != nil {
				return err
			}
			defer c.Close()
			c.Write([]byte("x")) // dropped or held: only the acquire matters
			return nil
		})
	}
	send("10.3.0.9")
	send("10.2.0.9")
	select {
	case ev := <-d.Events():
		want := dataplane.Selector{Src: netip.MustParsePrefix("10.1.0.1/32"), Dst: netip.MustParsePrefix("10.2.0.9/32"), Proto: unix.IPPROTO_UDP, DstPort: 9}
		ev.Sel.SrcPort = 0 // ephemeral
		if ev.Kind != dataplane.Acquire || ev.Policy != pol.Key() || ev.Sel != want {
			t.Errorf("event %+v\nwant acquire of %+v for %s", ev, pol.Key(), want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no acquire within 5 s")
	}
	select {
	case ev := <-d.Events():
		t.Errorf("unexpected event %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestHostLarvalExpiry: the placeholder of an allocated SPI that is never
// replaced expires silently (no event for an SA the engine never had).
func TestHostLarvalExpiry(t *testing.T) {
	ns := netnstest.NewNS(t)
	netnstest.Sysctl(t, ns, "net/core/xfrm_acq_expires", "1")
	d := newDP(t, ns, true)
	if _, err := d.AllocSPI(context.Background(), gwB, gwA, dataplane.OwnedReqIDs.Min); err != nil {
		t.Fatal(err)
	}
	xh, _ := netlink.NewHandleAt(ns, unix.NETLINK_XFRM)
	defer xh.Close()
	if !poll.Until(5*time.Second, func() bool { states, _ := xh.XfrmStateList(unix.AF_UNSPEC); return len(states) == 0 }) {
		t.Fatal("placeholder did not expire within 5 s")
	}
	select {
	case ev := <-d.Events():
		t.Errorf("event for a placeholder: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestHostCloseEndsEvents: Close unblocks the event reader and closes the
// channel.
func TestHostCloseEndsEvents(t *testing.T) {
	d, err := New(Options{NetNS: netnstest.NewNS(t), Events: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for range d.Events() {
		}
		close(done)
	}()
	d.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Events not closed")
	}
	if _, err := d.List(context.Background()); err == nil {
		t.Error("List after Close succeeded")
	}
}

// TestHostProbeESP: the probe answers without touching the caller's
// namespace. (This machine's kernel has no ESP: the answer is an error
// naming the failed add; in qemu, test/kernel expects nil.)
func TestHostProbeESP(t *testing.T) {
	netnstest.RequireRoot(t)
	err := ProbeESP()
	t.Logf("ProbeESP: %v", err)
	if err != nil && !strings.Contains(err.Error(), "cannot hold ESP SAs") {
		t.Errorf("unexpected failure: %v", err)
	}
}

// TestHostSeqStates: SeqStates over the host kernel's real dump replies:
// placeholders (allocspi) and SAs of another daemon are left out, without
// error. Then an SA with resumed numbers of each replay-state kind is
// added. The host kernel has no ESP (NOTES.md): the add must then fail
// at the algorithm lookup (ENOSYS), which the kernel makes after it has
// verified the replay attribute (verify_newsa_info/verify_replay: a
// malformed one fails first, with EINVAL), and change nothing. Where the
// kernel has ESP (test/kernel runs the traffic) the numbers read back.
func TestHostSeqStates(t *testing.T) {
	ns := netnstest.NewNS(t)
	d := newDP(t, ns, false)
	ctx := context.Background()
	var spis []uint32
	for range 3 {
		spi, err := d.AllocSPI(ctx, gwB, gwA, dataplane.OwnedReqIDs.Min)
		if err != nil {
			t.Fatal(err)
		}
		spis = append(spis, spi)
	}
	// Another daemon's placeholder: a reqid outside the owned range.
	other, err := New(Options{NetNS: ns, ReqIDs: dataplane.ReqIDRange{Min: 1, Max: 100}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.AllocSPI(ctx, gwB, gwA, 7); err != nil {
		t.Fatalf("foreign placeholder: %v", err)
	}
	if states, err := d.SeqStates(ctx); err != nil || len(states) != 0 {
		t.Fatalf("SeqStates with placeholders only: %v, %v", states, err)
	}

	probe := ProbeESP()
	want := map[dataplane.SAKey]dataplane.SeqState{}
	for i, name := range []string{"seq-legacy", "seq-window-100-no-esn", "seq-esn"} {
		sa := testSAs()[name]
		sa.Src, sa.Dst, sa.SPI, sa.Dir = gwB, gwA, spis[i], dataplane.In
		err := d.Apply(ctx, []dataplane.Op{{Kind: dataplane.AddSA, SA: &sa}})
		if probe != nil {
			t.Logf("%s: host kernel without ESP: the add fails with %v", name, err)
			if !errors.Is(err, unix.ENOSYS) {
				t.Errorf("%s: add on a kernel without ESP: %v, want ENOSYS from the algorithm lookup", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want[sa.Key()] = dataplane.SeqState{Key: sa.Key(), Dir: dataplane.In, OSeq: sa.OSeq, ISeq: sa.ISeq}
	}
	states, err := d.SeqStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[dataplane.SAKey]dataplane.SeqState{}
	for _, st := range states {
		got[st.Key] = st
	}
	if !maps.Equal(got, want) {
		t.Errorf("SeqStates %v, want %v", got, want)
	}
}
