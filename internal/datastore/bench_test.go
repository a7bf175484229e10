package datastore

import (
	"fmt"
	"testing"

	"secgw/generated"
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
