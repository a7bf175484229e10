package daemon

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/dataplane/xfrm"
	"secgw/internal/datastore"
	"secgw/internal/ike/config"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/routes/routestest"
)

func deviceWithSPDHash(v4l, v4r, v6l, v6r uint8) *generated.Device {
	main := "main"
	return &generated.Device{Vrf: map[string]*generated.SecgwVrf_Vrf{main: {Name: &main, Ike: &generated.SecgwVrf_Vrf_Ike{
		GlobalOptions: &generated.SecgwVrf_Vrf_Ike_GlobalOptions{
			SpHashIpv4: &generated.SecgwVrf_Vrf_Ike_GlobalOptions_SpHashIpv4{Local: &v4l, Remote: &v4r},
			SpHashIpv6: &generated.SecgwVrf_Vrf_Ike_GlobalOptions_SpHashIpv6{Local: &v6l, Remote: &v6r}}}}}}
}

func TestSPDHashFromConfig(t *testing.T) {
	if got := spdHashFromConfig(nil); got != xfrm.DefaultSPDHash {
		t.Errorf("defaults: %+v, want the kernel's %+v", got, xfrm.DefaultSPDHash)
	}
	g := &generated.SecgwVrf_Vrf_Ike_GlobalOptions{}
	g.GetOrCreateSpHashIpv4().Local = new(uint8(16))
	g.GetOrCreateSpHashIpv4().Remote = new(uint8(24))
	g.GetOrCreateSpHashIpv6().Remote = new(uint8(64))
	if got, want := spdHashFromConfig(g), (xfrm.SPDHash{IPv4Local: 16, IPv4Remote: 24, IPv6Local: 128, IPv6Remote: 64}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestSPDHashWiring: sp-hash-ipv4/ipv6 reach the kernel dataplane's
// setter at start (the defaults when unset) and at a commit that changes
// them, not at one that does not; an abort after apply sets the previous
// ones back; a failing setter does not refuse the commit.
func TestSPDHashWiring(t *testing.T) {
	var set []xfrm.SPDHash
	var fail error
	h := newSPDHash(func(x xfrm.SPDHash) error {
		if fail != nil {
			return fail
		}
		set = append(set, x)
		return nil
	}, slog.New(slog.DiscardHandler))
	h.start(&generated.Device{})
	if len(set) != 1 || set[0] != xfrm.DefaultSPDHash {
		t.Fatalf("at start: %+v", set)
	}
	commit := func(id uint64, old, new *generated.Device) *datastore.Tx {
		tx := &datastore.Tx{ID: id, Old: old, New: new}
		if err := h.Prepare(tx); err != nil {
			t.Fatal(err)
		}
		if err := h.Apply(tx); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	d24 := deviceWithSPDHash(24, 16, 64, 56)
	commit(2, &generated.Device{}, d24)
	if want := (xfrm.SPDHash{IPv4Local: 24, IPv4Remote: 16, IPv6Local: 64, IPv6Remote: 56}); len(set) != 2 || set[1] != want {
		t.Fatalf("after the commit: %+v, want %+v", set, want)
	}
	commit(3, d24, deviceWithSPDHash(24, 16, 64, 56))
	if len(set) != 2 {
		t.Fatalf("an unchanged commit set the thresholds again: %+v", set)
	}
	tx := commit(4, d24, deviceWithSPDHash(32, 32, 128, 128))
	h.Abort(tx)
	if len(set) != 4 || set[3] != set[1] {
		t.Fatalf("after the abort: %+v", set)
	}
	fail = errors.New("EPERM")
	commit(5, d24, deviceWithSPDHash(8, 8, 8, 8))
}

// TestChildOptionsWiring: the programmer's Options read priority and
// svti-id-in/out of the configuration the engine runs, so that child SAs
// of an svti policy get their if_id on SAs and policies.
func TestChildOptionsWiring(t *testing.T) {
	cfg := &config.Config{VPNs: []*config.VPN{{Name: "to-b", Policies: []config.SecurityPolicy{
		{Name: "net", Priority: 40, IfIDIn: 7, IfIDOut: 8}, {Name: "plain"}}}}}
	o := &childOptions{cfg: func() *config.Config { return cfg }}
	if got := o.options("to-b", "net"); got != (childsa.ChildOptions{Priority: 40, IfIDIn: 7, IfIDOut: 8}) {
		t.Errorf("net: %+v", got)
	}
	if got := o.options("to-b", "plain"); got != (childsa.ChildOptions{}) {
		t.Errorf("plain: %+v", got)
	}
	dp := dataplane.NewFake()
	p := childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dp, Options: o.options})
	if err := p.InstallChild(routeChild(0xc1)); err != nil {
		t.Fatal(err)
	}
	st := dp.All()
	for _, sa := range st.SAs {
		if want := map[dataplane.Dir]uint32{dataplane.In: 7, dataplane.Out: 8}[sa.Dir]; sa.IfID != want {
			t.Errorf("SA %s: if_id %d, want %d", sa.String(), sa.IfID, want)
		}
	}
	for _, pol := range st.Policies {
		want := uint32(7)
		if pol.Dir == dataplane.Out {
			want = 8
		}
		if pol.IfID != want || pol.Priority != 40 {
			t.Errorf("policy %s %s: if_id %d priority %d, want %d and 40", pol.Dir, pol.Sel, pol.IfID, pol.Priority, want)
		}
	}
	// A new configuration (a commit) is read at once.
	cfg = &config.Config{VPNs: []*config.VPN{{Name: "to-b", Policies: []config.SecurityPolicy{{Name: "net"}}}}}
	if got := o.options("to-b", "net"); got != (childsa.ChildOptions{}) {
		t.Errorf("after a new configuration: %+v", got)
	}
}

// TestClearPolicyRoutes: with the userspace dataplane a drop policy's
// remote selectors are routed into the TUN (where its Discard policy
// drops them) and a pass policy's are thrown out of routing-table (they
// leave by the host's routes, in clear, even inside an esp policy's
// route); both go with the policies.
func TestClearPolicyRoutes(t *testing.T) {
	f := routestest.New()
	f.AddLink("secgw0")
	f.AddLink("lan", "10.1.0.1/24")
	r := newRouting(f, "secgw0", slog.New(slog.DiscardHandler))
	r.start(deviceWithRoutes(220, 220))
	dp := dataplane.NewFake()
	p := routedProgrammer{Programmer: childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dp}), routes: r}
	if err := p.InstallChild(routeChild(0xc1)); err != nil {
		t.Fatal(err)
	}
	cp := func(name string, act config.ClearAction, remote string) config.ClearPolicy {
		return config.ClearPolicy{VPN: "to-b", Action: act, SecurityPolicy: config.SecurityPolicy{Name: name,
			Local: config.MustSelector(sel4("10.1.0.0/16")), Remote: config.MustSelector(sel4(remote))}}
	}
	if err := p.SetClearPolicies([]config.ClearPolicy{cp("pass", config.ClearPass, "10.2.5.0/24"), cp("drop", config.ClearDrop, "10.9.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	want := "rule inet 220: from all lookup 220 proto secgw\nrule inet6 220: from all lookup 220 proto secgw\n" +
		"route 10.2.0.0/16 dev secgw0 src 10.1.0.1 table 220 proto secgw\n" +
		"route throw 10.2.5.0/24 table 220 proto secgw\n" +
		"route 10.9.0.0/24 dev secgw0 table 220 proto secgw\n"
	if got := f.Render(); got != want {
		t.Fatalf("with pass and drop:\n%s\nwant\n%s", got, want)
	}
	actions := map[string]dataplane.Action{}
	for _, pol := range dp.All().Policies {
		actions[pol.Dir.String()+" "+pol.Sel.String()] = pol.Action
	}
	if actions["out src 10.1.0.0/16 dst 10.9.0.0/24"] != dataplane.Discard || actions["out src 10.1.0.0/16 dst 10.2.5.0/24"] != dataplane.Bypass {
		t.Errorf("policies: %v", actions)
	}
	if err := p.SetClearPolicies(nil); err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); strings.Contains(got, "10.9.") || strings.Contains(got, "throw") {
		t.Fatalf("after removing them:\n%s", got)
	}
	if n := len(dp.All().Policies); n != 3 {
		t.Errorf("%d policies left, want the child's 3", n)
	}
	r.close()
}

// TestSPDHashKernel: the same wiring against this machine's kernel (XFRM
// without ESP is enough for the SPD), in a fresh network namespace: the
// thresholds of the running configuration, then of a commit, are what
// XFRM_MSG_GETSPDINFO reads back.
func TestSPDHashKernel(t *testing.T) {
	ns := netnstest.NewNS(t)
	dp, err := xfrm.New(xfrm.Options{NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	h := newSPDHash(dp.SetSPDHash, slog.New(slog.DiscardHandler))
	read := func() xfrm.SPDHash {
		t.Helper()
		info, err := dp.SPDInfo()
		if err != nil {
			t.Fatal(err)
		}
		return info.Hash
	}
	running := deviceWithSPDHash(24, 24, 64, 64)
	h.start(running)
	if got, want := read(), (xfrm.SPDHash{IPv4Local: 24, IPv4Remote: 24, IPv6Local: 64, IPv6Remote: 64}); got != want {
		t.Fatalf("after start: the kernel has %+v, want %+v", got, want)
	}
	tx := &datastore.Tx{ID: 2, Old: running, New: deviceWithSPDHash(16, 20, 48, 56)}
	if err := h.Prepare(tx); err != nil {
		t.Fatal(err)
	}
	if err := h.Apply(tx); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), (xfrm.SPDHash{IPv4Local: 16, IPv4Remote: 20, IPv6Local: 48, IPv6Remote: 56}); got != want {
		t.Fatalf("after the commit: the kernel has %+v, want %+v", got, want)
	}
}
