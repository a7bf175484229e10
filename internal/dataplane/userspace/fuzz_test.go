package userspace

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/esp"
	"secgw/internal/golden"
)

// fuzzDataplanes returns a sender with an outbound SA and policies and a
// receiver with the matching inbound SA, on devices that drop everything.
func fuzzDataplanes(t testing.TB) (send, recv *Dataplane, sent *captureBind) {
	mk := func() *Dataplane {
		d, err := New(Options{TUN: []edgeDevice{newDiscard()}, Bind: newDiscard(), MTU: 1400})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	send, recv = mk(), mk()
	ab, abIn := saPair(suites[0], gwA, gwB, 0xa0000001, 1)
	ctx := context.Background()
	pols := append(policies(netA, netB, gwA, gwB, 1), policies(netA6, netB6, gwA, gwB, 1)...)
	if err := send.Apply(ctx, ops([]dataplane.SA{ab}, pols)); err != nil {
		t.Fatal(err)
	}
	pols = append(policies(netB, netA, gwB, gwA, 1), policies(netB6, netA6, gwB, gwA, 1)...)
	if err := recv.Apply(ctx, ops([]dataplane.SA{abIn}, pols)); err != nil {
		t.Fatal(err)
	}
	sent = &captureBind{}
	send.o.Bind = sent
	return send, recv, sent
}

// fuzzSeeds are inner packets (first byte 0: the TUN path) and the ESP
// they were sealed into (first byte 1: the UDP path).
func fuzzSeeds(t testing.TB) [][]byte {
	send, _, sent := fuzzDataplanes(t)
	var out [][]byte
	buf := new(buffer)
	for _, p := range [][]byte{ipv4(hostA, hostB, 20, false), ipv4(hostA, hostB, 1380, true), ipv6(hA6, hB6, 40),
		ipv4(hostA, netip.MustParseAddr("10.1.1.1"), 8, false), {0x45, 0, 0, 20}} {
		out = append(out, append([]byte{0}, p...))
		sent.last = nil
		send.outbound(send.o.TUN[0], buf, copy(buf.b[headroom:], p))
		if sent.last != nil {
			out = append(out, append([]byte{1}, sent.last...))
		}
	}
	out = append(out, []byte{1, 0, 0, 0, 0, 0x21}, []byte{1, 0xff})
	return out
}

// FuzzPaths feeds arbitrary bytes to both packet paths: as an inner
// packet read from the TUN (first byte 0) and as a datagram from the UDP
// socket (otherwise). Nothing may panic; seeds are real packets and the
// ESP they were sealed into.
func FuzzPaths(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	send, recv, _ := fuzzDataplanes(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 65000 {
			return
		}
		buf := new(buffer)
		if data[0] == 0 {
			send.outbound(send.o.TUN[0], buf, copy(buf.b[headroom:], data[1:]))
			return
		}
		recv.inbound(recv.o.TUN[0], buf.b[:], copy(buf.b[esp.Scratch:], data[1:]), netip.AddrPortFrom(gwB, 4500), netip.AddrPortFrom(gwA, 4500), false)
	})
}

// TestFuzzCorpus writes the seeds as checked-in corpus files with
// -update, and otherwise checks that they are there.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzPaths")
	for i, s := range fuzzSeeds(t) {
		name := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
		if golden.Update() {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(name, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := os.Stat(name); err != nil {
			t.Errorf("corpus file missing (go test ./internal/dataplane/userspace -run TestFuzzCorpus -update): %v", err)
		}
	}
}
