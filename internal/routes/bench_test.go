package routes_test

import (
	"net/netip"
	"secgw/internal/ipsec"
	"testing"

	"secgw/internal/routes"
	"secgw/internal/routes/routestest"
)

// children returns n child SAs, each with its own remote /24.
func children(n int) []routes.Child {
	out := make([]routes.Child, n)
	for i := range out {
		c := child(uint32(i+1), "net")
		c.RemoteTS = []ipsec.TrafficSelector{subnet(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(100 + i>>16), byte(i >> 8), byte(i)}), 32).String())}
		out[i] = c
	}
	return out
}

// BenchmarkAddRemove: one child SA routed and unrouted (the Manager's
// cost per child on top of the OS's), with 10k others installed.
func BenchmarkAddRemove(b *testing.B) {
	f := host()
	m := routes.New(routes.Options{OS: f, TUN: "secgw0"})
	if err := m.Start(); err != nil {
		b.Fatal(err)
	}
	for _, c := range children(10000) {
		if err := m.Add(c); err != nil {
			b.Fatal(err)
		}
	}
	c := child(1<<30, "net")
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Add(c); err != nil {
			b.Fatal(err)
		}
		if err := m.Remove(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleReconcile10k: a reconcile of 10k child SAs' routes that
// finds nothing to change, against the in-memory twin.
func BenchmarkIdleReconcile10k(b *testing.B) {
	f := routestest.New()
	f.AddLink("secgw0")
	f.AddLink("lan", "10.1.0.1/24")
	m := routes.New(routes.Options{OS: f, TUN: "secgw0"})
	if err := m.Start(); err != nil {
		b.Fatal(err)
	}
	for _, c := range children(10000) {
		if err := m.Add(c); err != nil {
			b.Fatal(err)
		}
	}
	ops := f.Ops()
	for b.Loop() {
		if err := m.Reconcile(); err != nil {
			b.Fatal(err)
		}
	}
	if f.Ops() != ops {
		b.Fatalf("idle reconciles changed %d routes", f.Ops()-ops)
	}
}
