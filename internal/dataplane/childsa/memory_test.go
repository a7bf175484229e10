package childsa

import (
	"cmp"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"secgw/internal/dataplane"
)

// TestChildRecordKeepsNoEntries: a child SA's record holds what its
// entries derive from, not the entries (two SAs and three policies, about
// 1 KB a child SA at 100k of them): the record fits the 512-octet size
// class, and entries derives them again.
func TestChildRecordKeepsNoEntries(t *testing.T) {
	if n := unsafe.Sizeof(child{}); n > 512 {
		t.Errorf("a child record is %d octets, want at most 512", n)
	}
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f})
	c := testChild(0x1001, 0x2001)
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	if ch := p.children[0x1001]; ch.pols != nil {
		t.Errorf("the child SA's record keeps %d policies", len(ch.pols))
	}
}

// TestStateDerivedAgainIsInstalled: the desired state the Programmer
// derives again from its records is what it applied, after installs, a
// rekey, a move (the moved outbound SA's sequence number included) and a
// delete.
func TestStateDerivedAgainIsInstalled(t *testing.T) {
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f, Options: func(vpn, policy string) ChildOptions {
		return ChildOptions{Priority: 77, IfIDIn: 5, IfIDOut: 6, MarkIn: dataplane.Mark{Value: 1, Mask: 0xff}}
	}})
	same := func(step string) {
		t.Helper()
		want, got := f.All(), p.State()
		if a, b := render(want), render(got); a != b {
			t.Errorf("%s: Programmer.State\n%s\nwant (the dataplane)\n%s", step, b, a)
		}
	}
	c := testChild(0x1001, 0x2001)
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	same("install")
	r := testChild(0x1002, 0x2002)
	if err := p.InstallChild(r); err != nil {
		t.Fatal(err)
	}
	same("rekey")
	f.SetCounters(dataplane.SAKey{Dst: gwB, SPI: 0x2002}, dataplane.Counters{OSeq: 900})
	moved := r
	moved.Remote = netip.AddrPortFrom(netip.MustParseAddr("192.0.2.9"), 4500)
	if err := p.MoveChild(r, moved); err != nil {
		t.Fatal(err)
	}
	same("move")
	if err := p.DeleteChild(c); err != nil {
		t.Fatal(err)
	}
	same("delete")
}

// render prints a state in a stable order, keys included.
func render(s dataplane.State) string {
	var lines []string
	for _, sa := range s.SAs {
		lines = append(lines, fmt.Sprintf("sa %s oseq %d keys %x/%x limits %+v mark %+v", sa.String(), sa.OSeq, sa.EncrKey, sa.IntegKey, sa.Limits, sa.Mark))
	}
	for _, pol := range s.Policies {
		lines = append(lines, fmt.Sprintf("policy %+v", pol))
	}
	slices.SortFunc(lines, cmp.Compare)
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}

// TestNoFwd: with NoFwd (the userspace dataplane) a tunnel-mode child SA
// has its out and in policies and no fwd policy; without it, all three.
func TestNoFwd(t *testing.T) {
	for _, noFwd := range []bool{false, true} {
		f := dataplane.NewFake()
		p := NewProgrammer(ProgrammerOptions{Dataplane: f, NoFwd: noFwd})
		if err := p.InstallChild(testChild(0x1001, 0x2001)); err != nil {
			t.Fatal(err)
		}
		dirs := map[dataplane.Dir]int{}
		for _, pol := range f.All().Policies {
			dirs[pol.Dir]++
		}
		want := map[dataplane.Dir]int{dataplane.Out: 1, dataplane.In: 1, dataplane.Fwd: 1}
		if noFwd {
			delete(want, dataplane.Fwd)
		}
		if fmt.Sprint(dirs) != fmt.Sprint(want) {
			t.Errorf("NoFwd %v: policies by direction %v, want %v", noFwd, dirs, want)
		}
		same := render(f.All()) == render(p.State())
		if !same {
			t.Errorf("NoFwd %v: State differs from the dataplane", noFwd)
		}
	}
}

// TestInTimeLimits: with InTimeLimits (the userspace dataplane) the
// outbound SA has no time limits (its byte, packet and sequence number
// limits stay), the inbound SA has rekey-time and life-time; without it
// both have them.
func TestInTimeLimits(t *testing.T) {
	for _, in := range []bool{false, true} {
		f := dataplane.NewFake()
		p := NewProgrammer(ProgrammerOptions{Dataplane: f, InTimeLimits: in})
		if err := p.InstallChild(testChild(0x1001, 0x2001)); err != nil {
			t.Fatal(err)
		}
		for _, sa := range f.All().SAs {
			timed := sa.Limits.SoftAdd != 0 && sa.Limits.HardAdd != 0
			if want := sa.Dir == dataplane.In || !in; timed != want {
				t.Errorf("InTimeLimits %v: %s SA limits %+v, want time limits %v", in, sa.Dir, sa.Limits, want)
			}
			if sa.Dir == dataplane.Out && sa.Limits.HardPackets == 0 {
				t.Errorf("InTimeLimits %v: the outbound SA lost its sequence number limit: %+v", in, sa.Limits)
			}
		}
		if render(f.All()) != render(p.State()) {
			t.Errorf("InTimeLimits %v: State differs from the dataplane", in)
		}
	}
}

// TestEntriesAllocation: deriving a record's entries again (each delete,
// move and State of a child SA) allocates its policies and selector
// prefixes, not a copy of its two SAs: measured 544 octets a call, 1,120
// when the SAs came back in a slice.
func TestEntriesAllocation(t *testing.T) {
	p := NewProgrammer(ProgrammerOptions{Dataplane: dataplane.NewFake()})
	if err := p.InstallChild(testChild(0x1001, 0x2001)); err != nil {
		t.Fatal(err)
	}
	ch := p.children[0x1001]
	const n = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		sas, pols := ch.entries()
		if sas[0].SPI != 0x1001 || len(pols) != 3 {
			t.Fatalf("entries: SPI %08x, %d policies", sas[0].SPI, len(pols))
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("%d octets a call", per)
	if per > 800 {
		t.Errorf("entries allocates %d octets a call, want at most 800", per)
	}
}
