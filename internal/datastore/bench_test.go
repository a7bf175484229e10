package datastore

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
)

// big builds a configuration of n VPNs with four security policies each.
func big(t testing.TB, n int) *generated.Device {
	open(t, t.TempDir()) // loads the schema
	d := &generated.Device{}
	if err := setTree(d,
		"/ vrf main ike ike-policy-template t ike-proposal 1 aead-alg aes128-gcm-128 prf-alg hmac-sha256 dh-group ecp256",
		"/ vrf main ike ipsec-policy-template e esp-proposal 1 aead-alg aes128-gcm-128",
	); err != nil {
		t.Fatal(err)
	}
	ike := d.Vrf["main"].Ike
	for i := 0; i < n; i++ {
		v := ike.GetOrCreateVpn(fmt.Sprintf("vpn%05d", i))
		tmpl, esp, addr := "t", "e", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		v.GetOrCreateIkePolicy().Template = &tmpl
		v.GetOrCreateIpsecPolicy().Template = &esp
		v.RemoteAddress = &addr
		for j := 0; j < 4; j++ {
			sub := fmt.Sprintf("100.%d.%d.0/24", j*16+i>>8&15, i&255)
			v.GetOrCreateSecurityPolicy(fmt.Sprintf("sp%05d_%d", i, j)).GetOrCreateRemoteTs().Subnet = &sub
		}
	}
	return d
}

// BenchmarkClone10k copies a 10k-VPN configuration (an edit's cost).
func BenchmarkClone10k(b *testing.B) {
	d := big(b, 10000)
	for b.Loop() {
		Clone(d)
	}
}

// BenchmarkDiffOneVPN10k diffs two 10k-VPN configurations that differ in
// one VPN (a commit's cost before validation).
func BenchmarkDiffOneVPN10k(b *testing.B) {
	d := big(b, 10000)
	e := Clone(d)
	addr := "192.0.2.99"
	e.Vrf["main"].Ike.Vpn["vpn05000"].RemoteAddress = &addr
	if n := len(Diff(tSchema, d, e)); n != 1 {
		b.Fatalf("%d changes", n)
	}
	for b.Loop() {
		Diff(tSchema, d, e)
	}
}

// benchCommit commits a change of one VPN in an n-VPN configuration:
// journaled edit, diff of the touched nodes, incremental validation,
// journal append with fsync, update of running. Target: 10 ms at 100k,
// and at most 3x the 1k figure (the cost follows the change).
func benchCommit(b *testing.B, n int) {
	d := big(b, n)
	dir := b.TempDir()
	if err := writeAtomic(dir+"/"+runningFile, encodeConfig(tSchema, d, 0), nil); err != nil {
		b.Fatal(err)
	}
	st := open(b, dir)
	defer st.Close()
	i := 0
	for b.Loop() {
		i++
		addr := fmt.Sprintf("192.0.2.%d", i%250+1)
		if err := st.Edit(1, set("/ vrf main ike vpn vpn00500 remote-address "+addr)); err != nil {
			b.Fatal(err)
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCommitOneVPN1k(b *testing.B)   { benchCommit(b, 1000) }
func BenchmarkCommitOneVPN10k(b *testing.B)  { benchCommit(b, 10000) }
func BenchmarkCommitOneVPN100k(b *testing.B) { benchCommit(b, 100000) }

// benchCommitSnapshot is benchCommit with a reader after every commit: a
// Snapshot of running (what a NETCONF <get-config> or the CLI takes),
// and a Snapshot of the candidate after the edit. Its cost must follow
// the change too: no copy of the configuration per commit or read.
func benchCommitSnapshot(b *testing.B, n int) {
	d := big(b, n)
	dir := b.TempDir()
	if err := writeAtomic(dir+"/"+runningFile, encodeConfig(tSchema, d, 0), nil); err != nil {
		b.Fatal(err)
	}
	st := open(b, dir)
	defer st.Close()
	i := 0
	for b.Loop() {
		i++
		addr := fmt.Sprintf("192.0.2.%d", i%250+1)
		if err := st.Edit(1, set("/ vrf main ike vpn vpn00500 remote-address "+addr)); err != nil {
			b.Fatal(err)
		}
		if st.Snapshot(Candidate).Vrf["main"].Ike.Vpn["vpn00500"].GetRemoteAddress() != addr {
			b.Fatal("the candidate's snapshot misses the edit")
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			b.Fatal(err)
		}
		if st.Snapshot(Running).Vrf["main"].Ike.Vpn["vpn00500"].GetRemoteAddress() != addr {
			b.Fatal("running's snapshot misses the commit")
		}
	}
}

func BenchmarkCommitSnapshot1k(b *testing.B)   { benchCommitSnapshot(b, 1000) }
func BenchmarkCommitSnapshot10k(b *testing.B)  { benchCommitSnapshot(b, 10000) }
func BenchmarkCommitSnapshot100k(b *testing.B) { benchCommitSnapshot(b, 100000) }

// storeConcentrator writes the concentrator reference configuration of
// n VPNs (configtest.Concentrator: two templates, per VPN its peer,
// identities and four security policies) as a stored running
// configuration, and returns its directory.
func storeConcentrator(b *testing.B, n int) string {
	open(b, b.TempDir()) // loads the schema
	dir := b.TempDir()
	if err := writeAtomic(dir+"/"+runningFile, encodeConfig(tSchema, configtest.Concentrator(b, tSchema, n), 0), nil); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkOpen10k loads and validates a stored 10k-VPN configuration
// (the daemon's start).
func BenchmarkOpen10k(b *testing.B) {
	d := big(b, 10000)
	dir := b.TempDir()
	if err := writeAtomic(dir+"/"+runningFile, encodeConfig(tSchema, d, 0), nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		open(b, dir)
	}
}

// BenchmarkOpen100k loads and validates the stored concentrator
// configuration of 100k VPNs, and takes the snapshot of running that
// the daemon's first reader takes (the datastore's part of the start).
func BenchmarkOpen100k(b *testing.B) {
	dir := storeConcentrator(b, 100000)
	for b.Loop() {
		st := open(b, dir)
		st.Snapshot(Running)
		st.Close()
	}
}

// BenchmarkMemoryPerVPN100k measures the heap that a store holding the
// concentrator configuration of 100k VPNs keeps, with what readers and
// an edit add: a snapshot of running, one VPN edited in the candidate, a
// snapshot of the candidate. Reported as heap-B/VPN (runtime.MemStats
// HeapAlloc after a GC, less that before Open), and the process's RSS
// then (rss-MB, with the memory returned to the OS: the test binary,
// the runtime and the live heap, not the GC's headroom).
func BenchmarkMemoryPerVPN100k(b *testing.B) {
	const n = 100000
	dir := storeConcentrator(b, n)
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC() // what the first freed, finalizers aside
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var per, rss float64
	for b.Loop() {
		b.StopTimer()
		h0 := heap()
		b.StartTimer()
		st := open(b, dir)
		st.Snapshot(Running)
		if err := st.Edit(1, set("/ vrf main ike vpn vpn00500 remote-address 192.0.2.1")); err != nil {
			b.Fatal(err)
		}
		st.Snapshot(Candidate)
		b.StopTimer()
		per = float64(heap()-h0) / n
		debug.FreeOSMemory()
		rss = rssMB()
		runtime.KeepAlive(st)
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(per, "heap-B/VPN")
	if rss > 0 {
		b.ReportMetric(rss, "rss-MB")
	}
}

// rssMB returns the resident set size of the process (Linux; 0
// elsewhere).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		return 0
	}
	return float64(resident*int64(os.Getpagesize())) / (1 << 20)
}
