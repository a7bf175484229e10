package dataplane

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"secgw/internal/ike/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// golden compares got with testdata/name.golden, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff shows the first differing lines.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n want %q\n got  %q", i+1, wl, gl)
		}
	}
	return ""
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
		Encr: wire.EncrAESGCM16, EncrKey: key(byte(in), 36), ReplayWindow: 32,
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
	prio := uint32(1<<18 - (out.Src.Bits()+out.Dst.Bits())<<3) // as program.PolicyPriority computes it
	return []Policy{
		{Sel: out, Dir: Out, Priority: prio, Action: Protect, Tmpl: Template{Src: gwA, Dst: gwB, ReqID: reqID}},
		{Sel: in, Dir: In, Priority: prio, Action: Protect, Tmpl: Template{Src: gwB, Dst: gwA, ReqID: reqID}},
		{Sel: in, Dir: Fwd, Priority: prio, Action: Protect, Tmpl: Template{Src: gwB, Dst: gwA, ReqID: reqID}},
	}
}
