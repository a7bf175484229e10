package userspace

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"

	"secgw/internal/edge"
	"secgw/internal/edge/edgetest"
)

// holdTUN is an edge.CoalescingDevice over a TUN twin: WriteCoalesced
// holds copies of the packets and Flush writes them, in order.
type holdTUN struct {
	*edgetest.TUN
	mu   sync.Mutex
	held [][]byte
}

func (h *holdTUN) WriteCoalesced(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, append([]byte(nil), b...))
	return len(b), nil
}

func (h *holdTUN) Flush() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.held {
		if _, err := h.TUN.Write(p); err != nil {
			return err
		}
	}
	h.held = nil
	return nil
}

var _ edge.CoalescingDevice = (*holdTUN)(nil)

// TestCoalescedInbound: with a TUN that coalesces, HandleESPBatched
// leaves the decrypted packets to it until FlushESP, which writes them
// in order; HandleESP writes at once; the Bind's readers flush at the
// end of each batch, so packets through the twin network arrive.
func TestCoalescedInbound(t *testing.T) {
	tunB := edgetest.NewTUN(256)
	hold := &holdTUN{TUN: tunB}
	tw := newTwin(t, Options{}, Options{TUN: []edge.Device{hold}})
	tw.tunB = tunB
	tw.install(t, suites[1])

	// Through the network: readUDP, then its end-of-batch flush.
	inner := ipv4(hostA, hostB, 64, false)
	tw.tunA.Inject(inner)
	if got := recv(t, tw.tunB); !bytes.Equal(got, inner) {
		t.Fatalf("through the Bind: got %x", got)
	}

	sent := make(chan []byte, 3)
	tw.net.Filter = func(from, to netip.AddrPort, b []byte) bool {
		sent <- append([]byte(nil), b...)
		return false
	}
	local, remote := netip.AddrPortFrom(gwB, 4500), netip.AddrPortFrom(gwA, 4500)
	var inners [][]byte
	for i := range 3 {
		p := ipv4(hostA, hostB, 100+i, false)
		inners = append(inners, p)
		tw.tunA.Inject(p)
	}
	var sealed [][]byte
	for range 3 {
		sealed = append(sealed, <-sent)
	}
	tw.b.HandleESPBatched(local, remote, sealed[0])
	tw.b.HandleESPBatched(local, remote, sealed[1])
	select {
	case p := <-tw.tunB.Out():
		t.Fatalf("written before FlushESP: %x", p)
	default:
	}
	tw.b.FlushESP()
	for i := range 2 {
		if got := recv(t, tw.tunB); !bytes.Equal(got, inners[i]) {
			t.Fatalf("packet %d after FlushESP: %x", i, got)
		}
	}
	tw.b.HandleESP(local, remote, sealed[2])
	select {
	case got := <-tw.tunB.Out():
		if !bytes.Equal(got, inners[2]) {
			t.Fatalf("HandleESP wrote %x", got)
		}
	default:
		t.Fatal("HandleESP held its packet")
	}
	if st := tw.b.Stats(); st.TUNErrors != 0 || st.Replay != 0 {
		t.Errorf("stats %+v", st)
	}
}
