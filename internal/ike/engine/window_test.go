package engine_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// Tests of the IKE window (RFC 7296 §2.3, window.go): SET_WINDOW_SIZE in
// IKE_AUTH, several requests in flight, answered in any order, each
// retransmitted on its own timer, responses cached for the whole window.

// withWindow sets global-options window-size.
func withWindow(n uint8) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		if ike.GlobalOptions == nil {
			ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{}
		}
		ike.GlobalOptions.WindowSize = ptr(n)
	}
}

// withPolicies adds policies p2..pn to the VPN (net is p1): n child SAs.
func withPolicies(n int) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		initiator := false
		for _, v := range ike.Vpn {
			initiator = v.RemoteAddress != nil
		}
		for i := 2; i <= n; i++ {
			l, r := fmt.Sprintf("10.1.%d.0/24", i), fmt.Sprintf("10.2.%d.0/24", i)
			if !initiator {
				l, r = r, l
			}
			addPolicy(fmt.Sprintf("p%d", i), l, r)(ike)
		}
	}
}

// windowOf returns the window a SET_WINDOW_SIZE among ps announces, 0
// without one.
func windowOf(t testing.TB, ps []wire.Payload) uint32 {
	t.Helper()
	n := findN(ps, wire.NotifySetWindowSize)
	if n == nil {
		return 0
	}
	if len(n.Data) != 4 {
		t.Fatalf("SET_WINDOW_SIZE with %d octets", len(n.Data))
	}
	return binary.BigEndian.Uint32(n.Data)
}

// establishWindow runs IKE_SA_INIT and IKE_AUTH and returns the windows
// announced by A's request and B's response.
func establishWindow(t testing.TB, a, b *peer) (wa, wb uint32) {
	t.Helper()
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b)
	deliver(t, b, a)
	d := next(t, a)
	_, ps := open(t, b, d)
	wa = windowOf(t, ps)
	inject(b, d, nil, a)
	d = next(t, b)
	_, ps = open(t, a, d)
	wb = windowOf(t, ps)
	inject(a, d, nil, b)
	return wa, wb
}

// initiateChildren asks A for the child SAs of policies p2..pn at once.
func initiateChildren(t testing.TB, a *peer, n int) {
	t.Helper()
	for i := 2; i <= n; i++ {
		if _, err := a.e.InitiateChild(fmt.Sprintf("p%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// msgIDs returns the message IDs of datagrams.
func msgIDs(t testing.TB, ds []engine.Datagram) []uint32 {
	t.Helper()
	var out []uint32
	for _, d := range ds {
		_, m := message(t, d)
		out = append(out, m.Header.MessageID)
	}
	return out
}

// pumpWindow delivers everything both peers send until both are quiet, and
// returns how many rounds that took and the most requests A had in one
// round.
func pumpWindow(t testing.TB, a, b *peer) (rounds, maxA int) {
	t.Helper()
	for ; ; rounds++ {
		da, db := takeAll(a), takeAll(b)
		if len(da) == 0 && len(db) == 0 {
			return rounds, maxA
		}
		reqs := 0
		for _, d := range da {
			if _, m := message(t, d); !m.Header.Flags.Response() {
				reqs++
			}
		}
		maxA = max(maxA, reqs)
		for _, d := range da {
			inject(b, d, nil, a)
		}
		for _, d := range db {
			inject(a, d, nil, b)
		}
	}
}

// TestWindowConcurrentChildCreations: with window-size 4 on both sides
// each announces SET_WINDOW_SIZE(4) in IKE_AUTH, and three more child SAs
// asked for at once are requested at once. B answers the
// requests in the order they arrive (reversed); one response is lost and
// the others reach A in reverse order: A retransmits only the unanswered
// request, on its own timer, and B resends its cached response unchanged.
func TestWindowConcurrentChildCreations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, chain(withWindow(4), withPolicies(4)), chain(withWindow(4), withPolicies(4)), nil)
		wa, wb := establishWindow(t, a, b)
		if wa != 4 || wb != 4 {
			t.Fatalf("SET_WINDOW_SIZE: A announced %d, B %d, want 4 and 4", wa, wb)
		}
		initiateChildren(t, a, 4)
		reqs := takeAll(a)
		if got := msgIDs(t, reqs); !slices.Equal(got, []uint32{2, 3, 4}) {
			t.Fatalf("A has requests %v in flight, want [2 3 4]", got)
		}
		for _, i := range []int{2, 0, 1} {
			inject(b, reqs[i], nil, a)
		}
		resps := takeAll(b)
		if got := msgIDs(t, resps); !slices.Equal(got, []uint32{4, 2, 3}) {
			t.Fatalf("B answered %v, want [4 2 3]", got)
		}
		if n := len(b.dp.Children()); n != 4 {
			t.Fatalf("B has %d child SAs, want 4", n)
		}
		lost := resps[2] // the response to message 3
		inject(a, resps[1], nil, b)
		inject(a, resps[0], nil, b)
		if n := len(a.dp.Children()); n != 3 {
			t.Fatalf("A has %d child SAs, want 3 before the lost response", n)
		}
		re := advance(a, firstRetransmit)
		if len(re) != 1 || !bytes.Equal(re[0].Data, reqs[1].Data) {
			t.Fatalf("A retransmitted %v, want request 3 alone, unchanged", msgIDs(t, re))
		}
		inject(b, re[0], nil, a)
		again := next(t, b)
		if !bytes.Equal(again.Data, lost.Data) {
			t.Fatal("B built a new response to a retransmitted request")
		}
		inject(a, again, nil, b)
		silent(t, a, b)
		if na, nb := len(a.dp.Children()), len(b.dp.Children()); na != 4 || nb != 4 {
			t.Fatalf("child SAs: A %d, B %d, want 4 each", na, nb)
		}
		if !slices.Equal(childSPIs(a), outSPIs(b)) {
			t.Error("child SAs do not pair")
		}
	})
}

// outSPIs returns the outbound SPIs of p's child SAs, sorted.
func outSPIs(p *peer) []uint32 {
	var out []uint32
	for _, c := range p.dp.Children() {
		out = append(out, c.OutSPI)
	}
	slices.Sort(out)
	return out
}

// TestWindowConcurrentRekeys: five child SAs rekeyed at once with window
// 4: four CREATE_CHILD_SA requests in flight, the fifth waits for a free
// slot; the deletes of the old child SAs overlap with them.
// No child SA is lost, all are new.
func TestWindowConcurrentRekeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, chain(withWindow(4), withPolicies(5)), chain(withWindow(4), withPolicies(5)), nil)
		establishWindow(t, a, b)
		initiateChildren(t, a, 5)
		pumpWindow(t, a, b)
		before := childSPIs(a)
		if len(before) != 5 {
			t.Fatalf("A has %d child SAs, want 5", len(before))
		}
		for _, c := range saState(t, a).Children {
			if err := a.e.RekeyChild(c.UniqueID); err != nil {
				t.Fatal(err)
			}
		}
		reqs := takeAll(a)
		if len(reqs) != 4 {
			t.Fatalf("%d rekeys in flight, want 4 (the window)", len(reqs))
		}
		slices.Reverse(reqs)
		for _, d := range reqs {
			inject(b, d, nil, a)
		}
		resps := takeAll(b)
		// The answer to the last request frees no slot: the window starts
		// at the lowest unanswered request (RFC 7296 §2.3). The answer to
		// the first frees one: the delete of an old child SA, queued
		// first (§2.8), takes it; the fifth rekey waits for the next.
		inject(a, resps[0], nil, b)
		if got := takeAll(a); len(got) != 0 {
			t.Fatalf("after the answer to the last request A sent %v", msgIDs(t, got))
		}
		inject(a, resps[3], nil, b)
		more := takeAll(a)
		if len(more) != 1 {
			t.Fatalf("after the answer to the first request A sent %d requests, want 1", len(more))
		}
		if _, m := message(t, more[0]); m.Header.Exchange != wire.ExchangeInformational {
			t.Fatalf("A sent %v, want the delete of an old child SA", m.Header.Exchange)
		}
		for _, d := range resps[1:3] {
			inject(a, d, nil, b)
		}
		for _, d := range more {
			inject(b, d, nil, a)
		}
		_, maxA := pumpWindow(t, a, b)
		if maxA < 2 {
			t.Errorf("the deletes of the old child SAs did not overlap (at most %d requests at once)", maxA)
		}
		after := childSPIs(a)
		if len(after) != 5 || len(b.dp.Children()) != 5 {
			t.Fatalf("child SAs after the rekeys: A %d, B %d, want 5 each", len(after), len(b.dp.Children()))
		}
		for _, s := range after {
			if slices.Contains(before, s) {
				t.Errorf("child SA %08x was not rekeyed", s)
			}
		}
		if !slices.Equal(after, outSPIs(b)) {
			t.Error("child SAs do not pair")
		}
	})
}

// TestWindowRequestBeyondWindow: B, with window 4 and message 5 the next
// it expects, answers message 8 (within the window, out of order) and
// drops message 9 (beyond it) with a log line.
func TestWindowRequestBeyondWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec, logs := recordLogs(t)
		a, b := pairOpts(t, chain(withWindow(4), withPolicies(4)), chain(withWindow(4), withPolicies(4)), nil, logs)
		establishWindow(t, a, b)
		initiateChildren(t, a, 4)
		pumpWindow(t, a, b) // messages 2, 3 and 4: the three child SAs
		spi := mustSPI(t, a)
		send := func(id uint32) {
			msgs, err := a.e.EncodeForTest(spi, wire.ExchangeInformational, id, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			b.e.HandleDatagram(engine.Datagram{Local: netipPort(addrB), Remote: netipPort(addrA), Data: msgs[0]})
		}
		send(9)
		if got := takeAll(b); len(got) != 0 {
			t.Fatalf("B answered a request beyond its window: %v", msgIDs(t, got))
		}
		if len(rec.find("dropping request beyond the window")) != 1 {
			t.Error("no log line for the request beyond the window")
		}
		send(8)
		if got := msgIDs(t, takeAll(b)); !slices.Equal(got, []uint32{8}) {
			t.Fatalf("B answered %v, want [8]", got)
		}
		send(9) // still beyond: 5 is unanswered
		if got := takeAll(b); len(got) != 0 {
			t.Fatalf("B answered %v", msgIDs(t, got))
		}
	})
}

// TestWindowPeerAnnouncesNothing: A has window-size 4, B the default 1:
// B sends no SET_WINDOW_SIZE and A keeps one request in flight.
func TestWindowPeerAnnouncesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, chain(withWindow(4), withPolicies(4)), withPolicies(4), nil)
		wa, wb := establishWindow(t, a, b)
		if wa != 4 || wb != 0 {
			t.Fatalf("SET_WINDOW_SIZE: A announced %d, B %d, want 4 and none", wa, wb)
		}
		initiateChildren(t, a, 4)
		if _, maxA := pumpWindow(t, a, b); maxA != 1 {
			t.Errorf("A had %d requests in flight, want 1", maxA)
		}
		if n := len(a.dp.Children()); n != 4 {
			t.Fatalf("A has %d child SAs, want 4", n)
		}
	})
}

// TestWindowSmallerOfBoth: A has window-size 4, B 2: A keeps at most two
// requests in flight.
func TestWindowSmallerOfBoth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, chain(withWindow(4), withPolicies(5)), chain(withWindow(2), withPolicies(5)), nil)
		if wa, wb := establishWindow(t, a, b); wa != 4 || wb != 2 {
			t.Fatalf("SET_WINDOW_SIZE: A announced %d, B %d, want 4 and 2", wa, wb)
		}
		initiateChildren(t, a, 5)
		if got := msgIDs(t, takeAll(a)); !slices.Equal(got, []uint32{2, 3}) {
			t.Fatalf("A has %v in flight, want [2 3]", got)
		}
	})
}

// TestWindowDefaultAnnouncesNothing: with the default window-size (1)
// neither side sends SET_WINDOW_SIZE: the exchanges are those of before.
func TestWindowDefaultAnnouncesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, withPolicies(3), withPolicies(3), nil)
		if wa, wb := establishWindow(t, a, b); wa != 0 || wb != 0 {
			t.Fatalf("SET_WINDOW_SIZE announced: A %d, B %d", wa, wb)
		}
		initiateChildren(t, a, 3)
		if _, maxA := pumpWindow(t, a, b); maxA != 1 {
			t.Errorf("A had %d requests in flight, want 1", maxA)
		}
	})
}

// netipPort is a on the IKE port.
func netipPort(a netip.Addr) netip.AddrPort { return netip.AddrPortFrom(a, engine.PortIKE) }

// TestWindowInformational: a SET_WINDOW_SIZE in an INFORMATIONAL request
// after IKE_AUTH sets the peer's window (RFC 7296 §2.3 allows it in any
// later exchange); one whose data is not four octets, or is zero, is
// ignored with a log line, and the request is answered all the same.
func TestWindowInformational(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec, logs := recordLogs(t)
		a, b := pairOpts(t, nil, withWindow(4), nil, logs)
		establish(t, a, b)
		spi := mustSPI(t, a)
		for i, data := range [][]byte{{0, 0, 4}, {0, 0, 0, 0}, {0, 0, 0, 4}} {
			msgs, err := a.e.EncodeForTest(spi, wire.ExchangeInformational, uint32(2+i), false,
				[]wire.Payload{wire.NewNotify(wire.NotifySetWindowSize, data)})
			if err != nil {
				t.Fatal(err)
			}
			b.e.HandleDatagram(engine.Datagram{Local: netipPort(addrB), Remote: netipPort(addrA), Data: msgs[0]})
			if got := msgIDs(t, takeAll(b)); !slices.Equal(got, []uint32{uint32(2 + i)}) {
				t.Fatalf("B answered %v, want [%d]", got, 2+i)
			}
		}
		if n := len(rec.find("ignoring malformed SET_WINDOW_SIZE")); n != 2 {
			t.Errorf("%d malformed SET_WINDOW_SIZE logged, want 2", n)
		}
		if got := rec.find("peer window"); len(got) != 1 || got[0]["size"] != "4" {
			t.Errorf("peer window records %v, want one of size 4", got)
		}
	})
}

// exchangeTypes returns the exchange types of datagrams, in order.
func exchangeTypes(t testing.TB, ds []engine.Datagram) []wire.ExchangeType {
	t.Helper()
	var out []wire.ExchangeType
	for _, d := range ds {
		_, m := message(t, d)
		out = append(out, m.Header.Exchange)
	}
	return out
}

// TestWindowIKERekeyAlone: with window 4, an IKE SA rekey queued behind
// two child SA rekeys waits until they and the deletes of the old child
// SAs are answered, goes alone, and a child SA rekey queued after it
// waits behind it and runs on the new IKE SA (RFC 7296 §2.8: the child
// SAs move to the new IKE SA; one IKE SA rekey at a time).
func TestWindowIKERekeyAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, chain(withWindow(4), withPolicies(4)), chain(withWindow(4), withPolicies(4)), nil)
		establishWindow(t, a, b)
		initiateChildren(t, a, 4)
		pumpWindow(t, a, b)
		s := saState(t, a)
		a.e.RekeyChild(s.Children[0].UniqueID)
		a.e.RekeyChild(s.Children[1].UniqueID)
		if err := a.e.RekeyIKE(s.UniqueID); err != nil {
			t.Fatal(err)
		}
		if err := a.e.RekeyIKE(s.UniqueID); err != nil { // queued once only
			t.Fatal(err)
		}
		a.e.RekeyChild(s.Children[2].UniqueID)
		cc, info := wire.ExchangeCreateChildSA, wire.ExchangeInformational
		want := [][]wire.ExchangeType{
			{cc, cc},     // the two child SA rekeys; the IKE SA rekey waits
			{info, info}, // the deletes of the old child SAs, queued first
			{cc},         // the IKE SA rekey, alone
		}
		for i, w := range want {
			reqs := takeAll(a)
			if got := exchangeTypes(t, reqs); !slices.Equal(got, w) {
				t.Fatalf("round %d: A sent %v, want %v", i, got, w)
			}
			if i == 2 {
				_, ps := open(t, b, reqs[0])
				if summary(ps)[:7] != "SA(IKE)" {
					t.Fatalf("round 2: %s, want the IKE SA rekey", summary(ps))
				}
			}
			for _, d := range reqs {
				inject(b, d, nil, a)
			}
			for _, d := range takeAll(b) {
				inject(a, d, nil, b)
			}
		}
		pumpWindow(t, a, b) // D(IKE) of the old IKE SA, the third child SA rekey on the new one
		if na, nb := len(a.e.IKESAs()), len(b.e.IKESAs()); na != 1 || nb != 1 {
			t.Fatalf("IKE SAs: A %d, B %d, want 1 each", na, nb)
		}
		n := saState(t, a)
		if n.UniqueID == s.UniqueID || len(n.Children) != 4 || len(b.dp.Children()) != 4 {
			t.Fatalf("after the rekeys: IKE SA %d (was %d), %d child SAs on A, %d on B", n.UniqueID, s.UniqueID, len(n.Children), len(b.dp.Children()))
		}
		rekeyed := 0
		for _, c := range n.Children {
			if !slices.ContainsFunc(s.Children, func(o engine.ChildState) bool { return o.InSPI == c.InSPI }) {
				rekeyed++
			}
		}
		if rekeyed != 3 {
			t.Errorf("%d child SAs rekeyed, want 3", rekeyed)
		}
	})
}
