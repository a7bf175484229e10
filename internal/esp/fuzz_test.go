package esp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"secgw/internal/golden"
)

// fuzzInput is the fuzz input of one packet: the suite's index, then the
// ESP packet.
func fuzzInput(suite int, pkt []byte) []byte { return append([]byte{byte(suite)}, pkt...) }

// fuzzSeeds seals a few packets with every suite, with and without ESN.
func fuzzSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for i, s := range suites {
		o, _ := s.pair(t, false, 64)
		for _, n := range []int{0, 1, 20, 40, 64} {
			out = append(out, fuzzInput(i, seal(t, o, bytes.Repeat([]byte{0x45}, n), NextIPv4)))
		}
	}
	return out
}

// FuzzOpen feeds arbitrary packets to the decapsulation path of every
// suite: nothing may panic, and an accepted packet's payload lies inside
// the packet. Seeds are genuine packets (so mutations reach the ICV and
// trailer checks) and charon's captured packets in testdata/fuzz.
func FuzzOpen(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	ins := make([]*Inbound, len(suites))
	for i, s := range suites {
		_, ins[i] = s.pair(f, false, 64)
	}
	esn := make([]*Inbound, len(suites))
	for i, s := range suites {
		_, esn[i] = s.pair(f, true, 4096)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		k := int(data[0]) % (2 * len(suites))
		in := ins[k%len(suites)]
		if k >= len(suites) {
			in = esn[k-len(suites)]
		}
		pkt := data[1:]
		b := make([]byte, Scratch+len(pkt))
		copy(b[Scratch:], pkt)
		payload, _, _, err := in.Open(b, Scratch, len(b))
		if err != nil {
			if payload != nil {
				t.Fatalf("error %v with a payload", err)
			}
			return
		}
		if len(payload) > len(pkt)-HeaderLen {
			t.Fatalf("payload of %d octets from a %d-octet packet", len(payload), len(pkt))
		}
	})
}

// TestWriteFuzzCorpus writes the sealed seeds as checked-in corpus files
// with -update; without it, it checks they are there.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	seeds := fuzzSeeds(t)
	for i, s := range seeds {
		name := filepath.Join(dir, fmt.Sprintf("sealed-%02d", i))
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if golden.Update() {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := os.Stat(name); err != nil {
			t.Errorf("corpus file missing (go test ./internal/esp -run TestWriteFuzzCorpus -update): %v", err)
		}
	}
}
