package pool

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func mustRange(t testing.TB, s string) Range {
	t.Helper()
	r, err := ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func cfg(t testing.TB, name string, addrs ...string) Config {
	c := Config{Name: name}
	for _, a := range addrs {
		c.Ranges = append(c.Ranges, mustRange(t, a))
	}
	return c
}

func open(t testing.TB, path string, cfgs ...Config) *Manager {
	t.Helper()
	m, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.Set(cfgs); err != nil {
		t.Fatal(err)
	}
	return m
}

func acquire(t testing.TB, m *Manager, id string, v6 bool, pools ...string) netip.Addr {
	t.Helper()
	l, err := m.Acquire(pools, id, v6)
	if err != nil {
		t.Fatalf("acquire for %s: %v", id, err)
	}
	return l.Addr
}

func TestParseAddress(t *testing.T) {
	for _, c := range []struct {
		in          string
		first, last string
		size        uint64
	}{
		{"10.0.0.5", "10.0.0.5", "10.0.0.5", 1},
		{"192.168.1.1-192.168.2.127", "192.168.1.1", "192.168.2.127", 383},
		{"10.8.0.0/24", "10.8.0.1", "10.8.0.254", 254},
		{"10.8.0.4/31", "10.8.0.4", "10.8.0.5", 2},
		{"10.8.0.9/32", "10.8.0.9", "10.8.0.9", 1},
		{"fd00::/120", "fd00::1", "fd00::ff", 255},
		{"fd00::/64", "fd00::1", "fd00::ffff:ffff:ffff:ffff", 1<<64 - 1},
		{"fd00::/48", "fd00::1", "fd00::ffff:ffff:ffff:ffff:ffff", ^uint64(0)},
	} {
		r, err := ParseAddress(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if r.First.String() != c.first || r.Last.String() != c.last || r.Size() != c.size {
			t.Errorf("%s: got %s-%s size %d, want %s-%s size %d", c.in, r.First, r.Last, r.Size(), c.first, c.last, c.size)
		}
	}
	for _, bad := range []string{"10.0.0.9-10.0.0.1", "10.0.0.1-fd00::1", "x", "10.0.0.0/33", "fe80::1%eth0"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestSameIdentitySameAddress: an identity gets its address back after
// its IKE SAs released it, and two holders keep it until both went.
func TestSameIdentitySameAddress(t *testing.T) {
	m := open(t, "", cfg(t, "p", "10.0.0.1-10.0.0.3"))
	a := acquire(t, m, "alice", false, "p")
	b := acquire(t, m, "bob", false, "p")
	if a == b {
		t.Fatalf("alice and bob both got %s", a)
	}
	if again := acquire(t, m, "alice", false, "p"); again != a { // second IKE SA of alice
		t.Fatalf("alice's second SA got %s, want %s", again, a)
	}
	m.Release("p", "alice", a)
	m.Release("p", "alice", a)
	c := acquire(t, m, "carol", false, "p")
	if c == a || c == b {
		t.Fatalf("carol got %s, a reserved or held address (alice %s, bob %s)", c, a, b)
	}
	if again := acquire(t, m, "alice", false, "p"); again != a {
		t.Fatalf("alice back got %s, want %s", again, a)
	}
}

// TestExhaustion: a full pool refuses with ErrExhausted and counts it; a
// reserved lease is taken back when nothing else is left, the longest
// released first.
func TestExhaustion(t *testing.T) {
	m := open(t, "", cfg(t, "p", "10.0.0.1-10.0.0.2"))
	a := acquire(t, m, "a", false, "p")
	b := acquire(t, m, "b", false, "p")
	if _, err := m.Acquire([]string{"p"}, "c", false); !errors.Is(err, ErrExhausted) {
		t.Fatalf("third client: %v, want ErrExhausted", err)
	}
	if _, err := m.Acquire([]string{"p"}, "c", true); !errors.Is(err, ErrExhausted) {
		t.Fatalf("IPv6 from an IPv4 pool: %v, want ErrExhausted", err)
	}
	if s := m.State(false)[0]; s.Exhausted != 2 || s.Size != 2 || s.Leased != 2 || s.Held != 2 {
		t.Fatalf("state %+v", s)
	}
	m.Release("p", "b", b)
	m.Release("p", "a", a)
	if c := acquire(t, m, "c", false, "p"); c != b {
		t.Fatalf("c got %s, want b's %s (released first)", c, b)
	}
	if again := acquire(t, m, "b", false, "p"); again != a {
		t.Fatalf("b got %s, want a's released %s", again, a)
	}
}

// TestPoolOrder: the first pool of the list with a free address serves,
// and an identity's lease in a later pool wins over a fresh address.
func TestPoolOrder(t *testing.T) {
	m := open(t, "", cfg(t, "p1", "10.0.0.1"), cfg(t, "p2", "10.0.1.1-10.0.1.5", "fd00::10-fd00::11"))
	if a := acquire(t, m, "x", false, "p2"); a.String() != "10.0.1.1" {
		t.Fatalf("x got %s", a)
	}
	if a := acquire(t, m, "x", false, "p1", "p2"); a.String() != "10.0.1.1" {
		t.Fatalf("x from p1,p2 got %s, want its lease in p2", a)
	}
	if a := acquire(t, m, "y", false, "p1", "p2"); a.String() != "10.0.0.1" {
		t.Fatalf("y got %s", a)
	}
	if a := acquire(t, m, "z", false, "p1", "p2"); a.String() != "10.0.1.2" {
		t.Fatalf("z got %s", a)
	}
	if a := acquire(t, m, "z", true, "p1", "p2"); a.String() != "fd00::10" {
		t.Fatalf("z IPv6 got %s", a)
	}
	if l, _ := m.Acquire([]string{"nope"}, "w", false); l.Addr.IsValid() {
		t.Fatalf("an unknown pool served %s", l.Addr)
	}
}

// TestLeasesSurviveRestart: the lease file keeps who had which address,
// through reopening, a torn last record, and a change of the ranges.
func TestLeasesSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pools", "leases")
	c := cfg(t, "p", "10.0.0.0/29")
	m := open(t, path, c)
	got := map[string]netip.Addr{}
	for i := range 6 {
		id := fmt.Sprint("id", i)
		got[id] = acquire(t, m, id, false, "p")
	}
	m.Release("p", "id0", got["id0"])
	m.Close()

	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(b, AppendRecord(nil, Record{Pool: "p", Identity: "torn", Addr: got["id1"]})[:9]...), 0o600)

	m = open(t, path, c)
	if s := m.State(false)[0]; s.Leased != 6 || s.Held != 0 {
		t.Fatalf("after restart: %+v", s)
	}
	for i := 5; i >= 0; i-- { // in another order: each gets its own back
		id := fmt.Sprint("id", i)
		if a := acquire(t, m, id, false, "p"); a != got[id] {
			t.Fatalf("%s got %s after restart, want %s", id, a, got[id])
		}
	}
	m.Close()
	// The pool shrinks: the leases outside it go, the others stay.
	m = open(t, path, cfg(t, "p", "10.0.0.1-10.0.0.3"))
	if s := m.State(true)[0]; s.Leased != 3 {
		t.Fatalf("after shrinking: %+v", s)
	}
	if a := acquire(t, m, "id2", false, "p"); a != got["id2"] {
		t.Fatalf("id2 got %s, want %s", a, got["id2"])
	}
}

// TestHooks: OnLease hears leases made and lost; Inject adds a lease made
// by the HA peer, which our pool then does not give to another identity.
func TestHooks(t *testing.T) {
	var evs []Event
	m, err := Open(Options{OnLease: func(e Event) { evs = append(evs, e) }})
	if err != nil {
		t.Fatal(err)
	}
	m.Set([]Config{cfg(t, "h", "10.1.0.1-10.1.0.2")})
	if !m.Inject("h", "peer-client", netip.MustParseAddr("10.1.0.1")) {
		t.Fatal("inject refused")
	}
	a := acquire(t, m, "local", false, "h")
	if a.String() != "10.1.0.2" {
		t.Fatalf("local got %s, the injected address", a)
	}
	m.Set(nil)
	want := []Event{{Pool: "h", Identity: "local", Addr: a, Leased: true},
		{Pool: "h", Identity: "peer-client", Addr: netip.MustParseAddr("10.1.0.1")}, {Pool: "h", Identity: "local", Addr: a}}
	if fmt.Sprint(evs) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", evs, want)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	recs := []Record{{"p", "alice@example.com", netip.MustParseAddr("10.0.0.1")},
		{"pool-6", "", netip.MustParseAddr("fd00::1")}}
	b := []byte(leaseMagic)
	for _, r := range recs {
		b = AppendRecord(b, r)
	}
	got, n, err := DecodeLeases(b)
	if err != nil || n != len(b) || fmt.Sprint(got) != fmt.Sprint(recs) {
		t.Fatalf("got %v %d %v", got, n, err)
	}
	// Every truncation keeps the whole records before the cut, no more.
	for cut := len(leaseMagic); cut < len(b); cut++ {
		got, n, err := DecodeLeases(b[:cut])
		if err != nil || n > cut || len(got) > 1 {
			t.Fatalf("cut %d: %v %d %v", cut, got, n, err)
		}
	}
	for cut := range len(leaseMagic) {
		if _, _, err := DecodeLeases(b[:cut]); !errors.Is(err, ErrBadLeaseFile) {
			t.Fatalf("cut %d in the header: %v", cut, err)
		}
	}
	b[len(b)-6] ^= 1 // the CRC catches a flipped bit
	if got, _, _ := DecodeLeases(b); len(got) != 1 {
		t.Fatalf("corrupt record decoded: %v", got)
	}
}

func FuzzDecodeLeases(f *testing.F) {
	b := AppendRecord([]byte(leaseMagic), Record{"p", "alice", netip.MustParseAddr("10.0.0.1")})
	f.Add(b)
	f.Add([]byte(leaseMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, n, err := DecodeLeases(b)
		if err != nil {
			return
		}
		out := []byte(leaseMagic)
		for _, r := range recs {
			if !r.Addr.IsValid() || r.Pool == "" {
				t.Fatalf("decoded %+v", r)
			}
			out = AppendRecord(out, r)
		}
		if string(out) != string(b[:n]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// BenchmarkAcquireRelease10k: 10k identities take an address of a /16,
// release it and take it back; each operation is O(1).
func BenchmarkAcquireRelease10k(b *testing.B) {
	m := open(b, filepath.Join(b.TempDir(), "leases"), cfg(b, "p", "10.0.0.0/16"))
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprint("client-", i)
		acquire(b, m, ids[i], false, "p")
	}
	b.ResetTimer()
	for i := range b.N {
		id := ids[i%len(ids)]
		l, err := m.Acquire([]string{"p"}, id, false)
		if err != nil {
			b.Fatal(err)
		}
		m.Release("p", id, l.Addr)
	}
}

// TestLongIdentity: an identity longer than a record holds is kept under
// its hash, the same each time, and survives the lease file.
func TestLongIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases")
	long := string(make([]byte, 70000))
	m := open(t, path, cfg(t, "p", "10.0.0.1-10.0.0.2"))
	a := acquire(t, m, long, false, "p")
	m.Release("p", long, a)
	if s := m.State(true)[0]; s.Held != 0 || len(s.Leases[0].Identity) != len("sha256:")+64 {
		t.Fatalf("state %+v", s.Leases)
	}
	m.Close()
	m = open(t, path, cfg(t, "p", "10.0.0.1-10.0.0.2"))
	acquire(t, m, "other", false, "p")
	if got := acquire(t, m, long, false, "p"); got != a {
		t.Fatalf("the long identity got %s after a restart, want %s", got, a)
	}
}

// TestLeaseFileCompacted: reconnections without commits append records;
// the file is rewritten before it holds more than about twice the
// leases, and keeps them.
func TestLeaseFileCompacted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases")
	m := open(t, path, cfg(t, "p", "10.0.0.0/24"))
	a := acquire(t, m, "alice", false, "p")
	for range 3 * compactAfter {
		m.Release("p", "alice", a)
		acquire(t, m, "alice", false, "p")
	}
	b, _ := os.ReadFile(path)
	recs, _, _ := DecodeLeases(b)
	if len(recs) > compactAfter+1 {
		t.Fatalf("the lease file holds %d records for one lease", len(recs))
	}
	m.Close()
	m = open(t, path, cfg(t, "p", "10.0.0.0/24"))
	if got := acquire(t, m, "alice", false, "p"); got != a {
		t.Fatalf("alice got %s after compactions, want %s", got, a)
	}
}
