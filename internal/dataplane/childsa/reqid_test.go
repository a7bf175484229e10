package childsa

import (
	"errors"
	"fmt"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/ike/engine"
)

// TestReqIDPool: ids come from the range in order, released ones are
// reused (the last released first), and an exhausted range is an error
// until an id is released.
func TestReqIDPool(t *testing.T) {
	p := newReqIDPool(dataplane.ReqIDRange{Min: 10, Max: 13})
	alloc := func() uint32 {
		t.Helper()
		id, err := p.peek()
		if err != nil {
			t.Fatal(err)
		}
		p.take(id)
		return id
	}
	for want := uint32(10); want <= 13; want++ {
		if id := alloc(); id != want {
			t.Fatalf("got %d, want %d", id, want)
		}
	}
	if _, err := p.peek(); !errors.Is(err, errNoReqID) {
		t.Fatalf("exhausted range: %v", err)
	}
	p.release(11)
	p.release(12)
	if a, b := alloc(), alloc(); a != 12 || b != 11 {
		t.Errorf("reused %d then %d, want 12 then 11", a, b)
	}
	// The highest id released with no other free goes back to the
	// never-used part of the range.
	p.release(13)
	if len(p.free) != 0 || p.next != 13 || alloc() != 13 {
		t.Errorf("release of the last id: free %v, next %d", p.free, p.next)
	}
	// The top of the range: next passes Max = 2^32-1 without wrapping.
	top := newReqIDPool(dataplane.ReqIDRange{Min: 1<<32 - 2, Max: 1<<32 - 1})
	for range 2 {
		id, _ := top.peek()
		top.take(id)
	}
	if _, err := top.peek(); err == nil {
		t.Error("range ending at 2^32-1 wrapped")
	}
}

// TestProgrammerReqIDsExhausted: a Programmer with a range of two
// reqids refuses a third distinct child, and takes it once one of the
// two is deleted.
func TestProgrammerReqIDsExhausted(t *testing.T) {
	p := NewProgrammer(ProgrammerOptions{Dataplane: dataplane.NewFake(), ReqIDs: dataplane.ReqIDRange{Min: 7, Max: 8}})
	child := func(i uint32) (c engine.ChildSA) {
		c = testChild(0x100+2*i, 0x101+2*i)
		c.VPN = fmt.Sprintf("vpn%d", i)
		return c
	}
	for i := uint32(0); i < 2; i++ {
		if err := p.InstallChild(child(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.InstallChild(child(2)); err == nil {
		t.Fatal("third reqid out of a range of two")
	}
	if err := p.DeleteChild(child(0)); err != nil {
		t.Fatal(err)
	}
	if err := p.InstallChild(child(2)); err != nil || must(p.ReqID(child(2).InSPI)) != 7 {
		t.Errorf("after a delete: %v, reqid %d, want 7", err, must(p.ReqID(child(2).InSPI)))
	}
}
