package ha

import (
	"testing"
	"time"

	"secgw/test/hatest"
)

func TestDev(t *testing.T) {
	requirePrerequisites(t)
	p := hatest.StartPair(t, secgwdBin, secgwBin, hatest.PairOptions{Config: func(t testing.TB, id int) string { return hatest.WithoutHA(hatest.ExampleConfig(t, id)) }})
	n1, n2 := p.Nodes[0], p.Nodes[1]
	step := func(what string, to *hatest.Node, act func()) {
		start := time.Now()
		act()
		got, ok := to.KA.WaitState("MASTER", 5*time.Second)
		t.Logf("%s: master after %v: %v %q", what, time.Since(start), ok, got.Line[:40])
	}
	step("lan down", n2, func() { hatest.IP(t, n1.NS, "link set lan down") })
	hatest.IP(t, n1.NS, "link set lan up")
	got, ok := n1.KA.WaitState("BACKUP", 5*time.Second)
	t.Logf("n1 back: %v %q", ok, got.Line[:40])
	step("kill", n1, func() { n2.Kill() })
	n2.Start(t)
	got, ok = n2.KA.WaitState("BACKUP", 5*time.Second)
	t.Logf("n2 back: %v %q", ok, got.Line[:40])
	step("ka stop", n2, func() { n1.KA.Stop() })
	n1.KA.Start()
	got, ok = n1.KA.WaitState("BACKUP", 5*time.Second)
	t.Logf("n1 back: %v %q", ok, got.Line[:40])
	for _, n := range p.Nodes {
		t.Logf("node %d notify:\n%s", n.ID, n.KA.NotifyLog())
	}
	t.Fail()
}
