package daemon

import (
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"secgw/internal/ipsec"
	"secgw/internal/ncclient"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"github.com/vishvananda/netlink"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"secgw/generated"
	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/datastore"
	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/routes"
	"secgw/internal/routes/routestest"
)

func sel4(p string) ipsec.TrafficSelector {
	pf := netip.MustParsePrefix(p)
	b := pf.Addr().As4()
	for i := pf.Bits(); i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return ipsec.TrafficSelector{Type: ipsec.TSIPv4AddrRange, StartAddr: pf.Addr(), EndAddr: netip.AddrFrom4(b), EndPort: 0xffff}
}

// routeChild is a child SA as the engine gives it: 192.0.2.1 to
// 192.0.2.2, 10.1.0.0/16 <-> 10.2.0.0/16, AES-GCM-256.
func routeChild(spi uint32) engine.ChildSA {
	k := func(seed byte) []byte {
		b := make([]byte, 36)
		for i := range b {
			b[i] = seed + byte(i)
		}
		return b
	}
	return engine.ChildSA{VPN: "to-b", Policy: "net", UniqueID: spi,
		Local: netip.MustParseAddrPort("192.0.2.1:4500"), Remote: netip.MustParseAddrPort("192.0.2.2:4500"), Encap: true,
		InSPI: spi, OutSPI: spi + 0x1000, Suite: ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256},
		In: engine.DirKeys{Encr: k(1)}, Out: engine.DirKeys{Encr: k(2)},
		LocalTS: []ipsec.TrafficSelector{sel4("10.1.0.0/16")}, RemoteTS: []ipsec.TrafficSelector{sel4("10.2.0.0/16")},
		Mode: config.ModeTunnel, Lifetimes: config.ChildLifetimes{RekeyTime: time.Hour, LifeTime: 2 * time.Hour, ReplayWindow: 32}}
}

func deviceWithRoutes(table, prio uint32) *generated.Device {
	main := "main"
	return &generated.Device{Vrf: map[string]*generated.SecgwVrf_Vrf{main: {Name: &main, Ike: &generated.SecgwVrf_Vrf_Ike{
		GlobalOptions: &generated.SecgwVrf_Vrf_Ike_GlobalOptions{RoutingTable: &table, RoutingTablePrio: &prio}}}}}
}

// TestRoutingGlue: the daemon's routing over the in-memory twin. The start
// applies the running routing-table; the engine's dataplane
// (routedProgrammer) routes a child SA after its SAs are in and unroutes
// it on delete; a failed install adds no route; a commit moves the routes
// and an abort after apply moves them back.
func TestRoutingGlue(t *testing.T) {
	f := routestest.New()
	f.AddLink("secgw0")
	f.AddLink("lan", "10.1.0.1/24")
	r := newRouting(f, "secgw0", slog.New(slog.DiscardHandler))
	r.start(deviceWithRoutes(230, 220))
	dp := dataplane.NewFake()
	p := routedProgrammer{Programmer: childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dp}), routes: r}

	c := routeChild(0xc1)
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	want := "rule inet 220: from all lookup 230 proto secgw\nrule inet6 220: from all lookup 230 proto secgw\n" +
		"route 10.2.0.0/16 dev secgw0 src 10.1.0.1 table 230 proto secgw\n"
	if got := f.Render(); got != want {
		t.Fatalf("after InstallChild:\n%s\nwant\n%s", got, want)
	}
	if err := p.InstallChild(c); err == nil {
		t.Fatal("installing the same child SA twice succeeded")
	}
	if got := f.Render(); got != want {
		t.Fatalf("a failed InstallChild changed the routes:\n%s", got)
	}

	tx := &datastore.Tx{ID: 7, Old: deviceWithRoutes(230, 220), New: deviceWithRoutes(240, 250)}
	if err := r.Prepare(tx); err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); got != want {
		t.Fatalf("Prepare changed the routes:\n%s", got)
	}
	if err := r.Apply(tx); err != nil {
		t.Fatal(err)
	}
	moved := "rule inet 250: from all lookup 240 proto secgw\nrule inet6 250: from all lookup 240 proto secgw\n" +
		"route 10.2.0.0/16 dev secgw0 src 10.1.0.1 table 240 proto secgw\n"
	if got := f.Render(); got != moved {
		t.Fatalf("after the commit:\n%s\nwant\n%s", got, moved)
	}
	r.Abort(tx)
	if got := f.Render(); got != want {
		t.Fatalf("after the abort:\n%s\nwant\n%s", got, want)
	}

	if err := p.DeleteChild(c); err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); strings.Contains(got, "route") {
		t.Fatalf("after DeleteChild:\n%s", got)
	}
	r.close()
	if got := f.Render(); got != "" {
		t.Fatalf("after close:\n%s", got)
	}
}

// TestRoutingReconcileLoop: a route the kernel dropped (drift) comes back
// at the next periodic reconcile, not before; close ends the loop.
func TestRoutingReconcileLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := routestest.New()
		f.AddLink("secgw0")
		r := newRouting(f, "secgw0", slog.New(slog.DiscardHandler))
		r.start(deviceWithRoutes(220, 220))
		if err := r.m.Add(childOf(routeChild(1))); err != nil {
			t.Fatal(err)
		}
		f.Drop(220, "10.2.0.0/16")
		time.Sleep(routeReconcileEvery - time.Second)
		synctest.Wait()
		if strings.Contains(f.Render(), "10.2.0.0/16") {
			t.Fatal("the route came back before the reconcile period")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if !strings.Contains(f.Render(), "route 10.2.0.0/16 dev secgw0 table 220 proto secgw") {
			t.Fatalf("the periodic reconcile did not restore the route:\n%s", f.Render())
		}
		r.close()
	})
}

// TestDaemonRoutesNetns runs a whole secgwd with the userspace dataplane
// in a fresh network namespace (the test binary re-runs itself in one):
// the start adds the rules of table 220 at priority 220 and removes a
// route a previous run left; a child SA installed through the engine's
// dataplane is routed into the TUN device; a NETCONF commit of
// routing-table 230 and routing-table-prio 300 moves route and rules
// live; the shutdown leaves no rule and no route of ours.
func TestDaemonRoutesNetns(t *testing.T) {
	if os.Getenv("SECGW_ROUTES_NETNS") == "" {
		if os.Geteuid() != 0 {
			t.Fatal("this test needs root (a network namespace, a TUN device); run it as root")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestDaemonRoutesNetns$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "SECGW_ROUTES_NETNS=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestDaemonRoutesNetns") {
			t.Fatalf("in a new network namespace: %v\n%s", err, out)
		}
		return
	}
	// In the fresh namespace: loopback up, the gateway's addresses on it.
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"192.0.2.1/32", "10.1.0.1/32"} {
		if err := netlink.AddrAdd(lo, &netlink.Addr{IPNet: ipNetOf(a)}); err != nil {
			t.Fatal(err)
		}
	}
	// What a previous run left: a route of ours in table 230.
	stale := &netlink.Route{Table: 230, Dst: ipNetOf("10.7.0.0/16"), LinkIndex: lo.Attrs().Index, Scope: netlink.SCOPE_LINK, Protocol: routes.Protocol}
	if err := netlink.RouteAdd(stale); err != nil {
		t.Fatal(err)
	}

	d, err := New(Config{Dir: filepath.Join(t.TempDir(), "d"), Listen: "127.0.0.1:0", Dataplane: DataplaneUserspace,
		TUN: "secgwrt0", IKEPort: 17900, NATTPort: 17901})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	wantNS(t, "start", "rule 220 lookup 220 family 2", "rule 220 lookup 220 family 10")

	p := routedProgrammer{Programmer: d.programmer, routes: d.routes}
	c := routeChild(0xc1)
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	wantNS(t, "child SA", "rule 220 lookup 220 family 2", "rule 220 lookup 220 family 10",
		"route 10.2.0.0/16 dev secgwrt0 src 10.1.0.1 table 220")

	s, err := ncclient.Dial(d.Addr().String(), &ssh.ClientConfig{User: "admin",
		Auth: []ssh.AuthMethod{ssh.Password(d.CreatedPassword())}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, op := range []string{`<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>` +
		`<ike xmlns="urn:secgw:yang:secgw-ike"><global-options><routing-table>230</routing-table><routing-table-prio>300</routing-table-prio>` +
		`</global-options></ike></vrf></config></edit-config>`, `<commit/>`} {
		if _, err := s.Exec(gonetconf.RawMethod(op)); err != nil {
			t.Fatalf("%.40s: %v", op, err)
		}
	}
	wantNS(t, "commit of routing-table 230, routing-table-prio 300", "rule 300 lookup 230 family 2", "rule 300 lookup 230 family 10",
		"route 10.2.0.0/16 dev secgwrt0 src 10.1.0.1 table 230")

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	wantNS(t, "shutdown")
}

func ipNetOf(p string) *net.IPNet {
	pf := netip.MustParsePrefix(p)
	return &net.IPNet{IP: pf.Addr().AsSlice(), Mask: net.CIDRMask(pf.Bits(), pf.Addr().BitLen())}
}

// wantNS checks this namespace's rules and routes of protocol
// routes.Protocol.
func wantNS(t *testing.T, step string, want ...string) {
	t.Helper()
	var got []string
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := netlink.RuleList(fam)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			if r.Protocol == routes.Protocol {
				got = append(got, "rule "+strconv.Itoa(r.Priority)+" lookup "+strconv.Itoa(r.Table)+" family "+strconv.Itoa(fam))
			}
		}
		rs, err := netlink.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: routes.Protocol},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			l, _ := netlink.LinkByIndex(r.LinkIndex)
			line := "route " + r.Dst.String()
			if l != nil {
				line += " dev " + l.Attrs().Name
			}
			if r.Src != nil {
				line += " src " + r.Src.String()
			}
			got = append(got, line+" table "+strconv.Itoa(r.Table))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got:\n%s\nwant:\n%s", step, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
