package xfrm

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
)

// TestParseStats: a kernel's xfrm_stat (6.18's 32 counters, the values
// set for the test) parses to its counters, and Drops sums them into the metric's causes, every counter
// counted once (unknown names under other).
func TestParseStats(t *testing.T) {
	b, err := os.ReadFile("testdata/xfrm_stat.txt")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseStats(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 32 || s["XfrmInNoStates"] != 4 || s["XfrmInStateSeqError"] != 2 || s["XfrmInStateProtoError"] != 3 {
		t.Fatalf("parsed %d counters: %v", len(s), s)
	}
	d := s.Drops()
	want := map[string]uint64{"bad_spi": 4, "auth_failure": 3, "replay": 2, "malformed": 1, "no_sa": 5, "other": 6}
	for cause, n := range want {
		if d[cause] != n {
			t.Errorf("%s: %d, want %d (all: %v)", cause, d[cause], n, d)
		}
	}
	var sum, total uint64
	for _, v := range d {
		sum += v
	}
	for _, v := range s {
		total += v
	}
	if sum != total {
		t.Errorf("causes sum to %d, the counters to %d", sum, total)
	}
}

// TestParseStatsRejects: a line without a value, with a non-decimal one
// or with extra fields is an error.
func TestParseStatsRejects(t *testing.T) {
	for _, in := range []string{"XfrmInError\n", "XfrmInError 12x\n", "XfrmInError 1 2\n", "XfrmInError -1\n"} {
		if _, err := ParseStats([]byte(in)); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
	b, _ := os.ReadFile("testdata/xfrm_stat.txt")
	// Truncated inside a value: still a number, parsed; inside a name
	// followed by nothing: an error.
	if _, err := ParseStats(b[:len("XfrmInError")]); err == nil {
		t.Error("a name without value parsed")
	}
}

// FuzzParseStats: any input parses or fails without panicking, and what
// parses sums into causes without loss.
func FuzzParseStats(f *testing.F) {
	b, _ := os.ReadFile("testdata/xfrm_stat.txt")
	f.Add(b)
	f.Add([]byte("XfrmInNoStates 1\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStats(b)
		if err != nil {
			return
		}
		var sum, total uint64
		for _, v := range s.Drops() {
			sum += v
		}
		for _, v := range s {
			total += v
		}
		if sum != total {
			t.Fatalf("causes %d, counters %d", sum, total)
		}
	})
}

// TestHostStatsOutNoStates: the dataplane reads the counters of its own
// namespace: traffic matching a Protect policy without SA moves
// XfrmOutNoStates (no_sa) there, and a fresh namespace's stay at zero.
func TestHostStatsOutNoStates(t *testing.T) {
	a, b := netnstest.NewNS(t), netnstest.NewNS(t)
	netnstest.Veth(t, a, b, "va", "vb", netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("192.0.2.2/24"))
	ha := netnstest.Handle(t, a)
	netnstest.LoAddr(t, ha, netip.MustParsePrefix("10.1.0.1/32"))
	netnstest.Route(t, ha, netip.MustParsePrefix("10.2.0.0/16"), gwB, netip.MustParseAddr("10.1.0.1"), nil)
	d := newDP(t, a, false)
	other := newDP(t, b, false)
	before, err := d.Stats()
	if err != nil {
		t.Fatalf("xfrm_stat: %v", err)
	}
	pol := testPolicies()["out"]
	if err := d.Apply(context.Background(), []dataplane.Op{{Kind: dataplane.AddPolicy, Policy: &pol}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		netnsutil.Run(a, func() error {
			c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("10.1.0.1")}, &net.UDPAddr{IP: net.ParseIP("10.2.0.9"), Port: 9})
			if err != nil {
				return err
			}
			defer c.Close()
			c.Write([]byte("x"))
			return nil
		})
	}
	after, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got := after["XfrmOutNoStates"] - before["XfrmOutNoStates"]; got < 1 || after.Drops()["no_sa"] < got {
		t.Errorf("XfrmOutNoStates moved by %d (drops %v), want at least 1", got, after.Drops())
	}
	if s, err := other.Stats(); err != nil || s["XfrmOutNoStates"] != 0 {
		t.Errorf("the other namespace's counters: %v, %v", s, err)
	}
}
