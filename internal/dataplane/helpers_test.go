package dataplane

import (
	"net/netip"
	"path/filepath"
	"secgw/internal/ipsec"
	"testing"
	"time"

	goldenfile "secgw/internal/golden"
)

// golden compares got with testdata/name.golden (go test -update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name+".golden"), []byte(got))
}

func key(seed byte, n int) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

var (
	gwA = netip.MustParseAddr("192.0.2.1")
	gwB = netip.MustParseAddr("192.0.2.2")
)

// gcmPair returns the in and out SAs of a child between gwA (us) and gwB.
func gcmPair(in, out uint32, reqID uint32) (SA, SA) {
	a := SA{
		Src: gwB, Dst: gwA, SPI: in, Dir: In, Mode: Tunnel, ReqID: reqID,
		Encr: ipsec.EncrAESGCM16, EncrKey: key(byte(in), 36), ReplayWindow: 32,
		Limits: Limits{SoftAdd: 3000 * time.Second, HardAdd: 3600 * time.Second},
	}
	b := a
	b.Src, b.Dst, b.SPI, b.Dir, b.EncrKey = gwA, gwB, out, Out, key(byte(out), 36)
	return a, b
}

// tunnelPolicies returns the out, in and fwd policies of a tunnel between
// local and remote subnets.
func tunnelPolicies(local, remote string, reqID uint32) []Policy {
	l, r := netip.MustParsePrefix(local), netip.MustParsePrefix(remote)
	out := Selector{Src: l, Dst: r}
	in := Selector{Src: r, Dst: l}
	prio := uint32(1<<18 - (out.Src.Bits()+out.Dst.Bits())<<3) // as childsa.PolicyPriority computes it
	return []Policy{
		{Sel: out, Dir: Out, Priority: prio, Action: Protect, Tmpl: Template{Src: gwA, Dst: gwB, ReqID: reqID}},
		{Sel: in, Dir: In, Priority: prio, Action: Protect, Tmpl: Template{Src: gwB, Dst: gwA, ReqID: reqID}},
		{Sel: in, Dir: Fwd, Priority: prio, Action: Protect, Tmpl: Template{Src: gwB, Dst: gwA, ReqID: reqID}},
	}
}
