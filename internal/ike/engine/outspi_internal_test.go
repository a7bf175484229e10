package engine

import "testing"

// TestOutSPIIndex: the index names the one IKE SA of an outbound SPI,
// follows a child SA moved to the IKE SA that replaces its own, and
// says "shared" once two IKE SAs hold the same outbound SPI (two peers'
// choice), which stays so: those lookups visit the IKE SAs.
func TestOutSPIIndex(t *testing.T) {
	e := New(Options{})
	sa1, sa2, sa3 := &ikeSA{}, &ikeSA{}, &ikeSA{}
	c1 := &childSA{childCore: childCore{InSPI: 0x1001, OutSPI: 0x2001}}
	c2 := &childSA{childCore: childCore{InSPI: 0x1002, OutSPI: 0x2001}} // same outbound SPI, another peer
	want := func(when string, spi uint32, sa *ikeSA, shared bool) {
		t.Helper()
		if got, sh := e.outOwner(spi); got != sa || sh != shared {
			t.Errorf("%s: outOwner(%#x) = %p, %v; want %p, %v", when, spi, got, sh, sa, shared)
		}
	}
	e.setSPIOwner(c1, sa1)
	want("installed", 0x2001, sa1, false)
	e.moveSPIOwner(c1, sa1, sa3)
	want("moved", 0x2001, sa3, false)
	e.dropSPI(c1, sa1) // not the owner any more: nothing changes
	want("dropped by the old owner", 0x2001, sa3, false)
	e.dropSPI(c1, sa3)
	want("dropped", 0x2001, nil, false)
	if e.spiOwner(0x1001) != nil {
		t.Error("inbound SPI kept after the drop")
	}
	e.setSPIOwner(c1, sa1)
	e.setSPIOwner(c2, sa2)
	want("two peers", 0x2001, nil, true)
	e.dropSPI(c2, sa2)
	want("one of two peers dropped", 0x2001, nil, true)
}
