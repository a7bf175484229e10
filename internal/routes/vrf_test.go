package routes_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"secgw/internal/ike/config"
	"secgw/internal/ipsec"
	"secgw/internal/routes"
	"secgw/internal/routes/routestest"
)

// vrfSteps records the routing of the IKE vrf and of vrf trusted after
// each step.
type vrfSteps struct {
	own, trusted *routestest.Fake
	out          strings.Builder
}

func (s *vrfSteps) do(name string, fn func() error) {
	before := s.own.Ops() + s.trusted.Ops()
	err := fn()
	fmt.Fprintf(&s.out, "### %s\nchanges %d, err %v\n-- vrf untrusted\n%s-- vrf trusted\n%s", name,
		s.own.Ops()+s.trusted.Ops()-before, err, s.own.Render(), s.trusted.Render())
}

// TestInjectVRFGolden: inject-routes vrf, table and l3vrf, as the guide's
// cross-vrf example has them (IKE in vrf untrusted, svti100 in vrf
// trusted): the routes go to the other vrf's routing, in its table or the
// table of its VRF device, and leave with the child SA; the other vrf's
// routes of protocol Protocol that are not this Manager's are never
// removed, a route of ours deleted there by hand is put back.
func TestInjectVRFGolden(t *testing.T) {
	own, trusted := host(), routestest.New()
	own.AddLink("svti100")
	trusted.AddLink("svti100")
	trusted.AddL3VRF("blue", 1001)
	opened := 0
	m := routes.New(routes.Options{OS: own, VRF: "untrusted", OSOf: func(vrf string) (routes.OS, error) {
		opened++
		if vrf != "trusted" {
			return nil, fmt.Errorf("no namespace %s", vrf)
		}
		return trusted, nil
	}})
	// What trusted's own IKE instance installed there: never ours to remove.
	if err := trusted.AddRoute(routes.Route{Table: 220, Dst: netip.MustParsePrefix("10.50.0.0/16"), Dev: "svti100"}); err != nil {
		t.Fatal(err)
	}
	s := &vrfSteps{own: own, trusted: trusted}
	s.do("start: nothing opened in trusted", m.Start)
	if opened != 0 {
		t.Errorf("Start opened %d other vrfs, want none", opened)
	}

	cfg := config.Routes{Table: 220, RulePriority: 220, Policies: map[config.PolicyRef]config.PolicyRoutes{
		{VPN: "to-b", Policy: "t300"}:  {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100", VRF: "trusted", Table: 300}},
		{VPN: "to-b", Policy: "own"}:   {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100", VRF: "untrusted", Table: 301}},
		{VPN: "to-b", Policy: "blue"}:  {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100", VRF: "trusted", L3VRF: "blue"}},
		{VPN: "to-b", Policy: "red"}:   {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100", VRF: "trusted", L3VRF: "red"}},
		{VPN: "to-b", Policy: "gone"}:  {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100", VRF: "cust9"}},
		{VPN: "to-b", Policy: "tmain"}: {SVTI: true, Inject: &config.InjectRoutes{Dev: "svti100", VRF: "trusted"}},
	}}
	s.do("configuration", func() error { return m.SetConfig(cfg) })

	c300 := child(0xd1, "t300")
	c300.RemoteTS = []ipsec.TrafficSelector{subnet("10.0.0.0/8")}
	s.do("inject-routes next-hop svti100 vrf trusted table 300: in trusted's table 300", func() error { return m.Add(c300) })

	cOwn := child(0xd2, "own")
	cOwn.RemoteTS = []ipsec.TrafficSelector{subnet("10.3.0.0/16")}
	s.do("inject-routes vrf untrusted (the IKE vrf itself): in its own table 301", func() error { return m.Add(cOwn) })

	cBlue := child(0xd3, "blue")
	cBlue.RemoteTS = []ipsec.TrafficSelector{subnet("10.4.0.0/16")}
	s.do("inject-routes vrf trusted l3vrf blue: in the table of the VRF device blue (1001)", func() error { return m.Add(cBlue) })

	cRed := child(0xd4, "red")
	cRed.RemoteTS = []ipsec.TrafficSelector{subnet("10.5.0.0/16")}
	s.do("inject-routes l3vrf red, no such VRF device: no route", func() error { return m.Add(cRed) })
	trusted.AddL3VRF("red", 1002)
	s.do("VRF device red created: the reconcile injects its route", m.Reconcile)

	cGone := child(0xd5, "gone")
	cGone.RemoteTS = []ipsec.TrafficSelector{subnet("10.6.0.0/16")}
	s.do("inject-routes vrf cust9 whose namespace is missing: no route, an error", func() error { return m.Add(cGone) })

	cMain := child(0xd6, "tmain")
	cMain.RemoteTS = []ipsec.TrafficSelector{subnet("192.0.2.0/24")}
	s.do("inject-routes vrf trusted into its main table: the prefix holding the peer too (the peer is untrusted's)",
		func() error { return m.Add(cMain) })

	trusted.Drop(300, "10.0.0.0/8")
	s.do("drift in trusted (our route deleted by hand): the reconcile puts it back, trusted's other routes stay", m.Reconcile)
	s.do("idle reconcile: nothing", m.Reconcile)

	s.do("the table 300 child SA deleted: its route leaves trusted", func() error { return m.Remove(c300) })
	s.do("close: every route of ours goes, in both vrfs", m.Close)
	golden(t, "inject-vrf", s.out.String())
}
