//go:build vmtest

package kernel

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/xfrm"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
	"secgw/test/gwtest"
	"secgw/test/secgwdtest"
)

// binDir is where run.sh puts the static secgwd and secgw binaries in
// the initramfs; SECGW_VM_BIN overrides it.
func binDir() string {
	if d := os.Getenv("SECGW_VM_BIN"); d != "" {
		return d
	}
	return "/secgw-bin"
}

// vmGW is one secgwd process (the real binary, -dataplane kernel)
// started in network namespace ns, which is its vrf main.
type vmGW struct {
	name string
	ns   netns.NsHandle
	d    *secgwdtest.Daemon
}

// startVMGW starts secgwd in ns: the process is forked from an OS thread
// inside ns, so that ns is its own. It is stopped (SIGTERM, checked to
// exit cleanly, its log free of panics) when the test ends, and its log
// tail shown on failure.
func startVMGW(t *testing.T, name string, ns netns.NsHandle) *vmGW {
	t.Helper()
	bin := filepath.Join(binDir(), "secgwd")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("secgwd binary missing (%v): make test-kernel (test/kernel/run.sh) puts a static one in the initramfs", err)
	}
	dir := secgwdtest.NewDataDir(t)
	g := &vmGW{name: name, ns: ns}
	err := netnsutil.Run(ns, func() (err error) {
		g.d, err = secgwdtest.LaunchIn("", bin, dir, "info", "-dataplane", "kernel")
		return err
	})
	if err != nil {
		t.Fatalf("secgwd %s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("secgwd %s log, last lines:\n%s", name, gwtest.Tail(g.d.Logs(), 60))
		}
		g.d.Stop(t)
		for _, l := range strings.Split(g.d.Logs(), "\n") {
			if ll := strings.ToLower(l); strings.Contains(ll, "panic") || strings.Contains(ll, "internal error") {
				t.Errorf("secgwd %s logged: %s", name, l)
			}
		}
	})
	return g
}

// cli runs the secgw CLI (the real binary) in the gateway's namespace
// against its secgwd, with script as its standard input, and fails the
// test if it fails or prints an error.
func (g *vmGW) cli(t *testing.T, script string, args ...string) string {
	t.Helper()
	bin := filepath.Join(binDir(), "secgw")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-host", g.d.Host, "-port", g.d.Port, "-user", secgwdtest.AdminUser,
		"-history", "", "-known-hosts", "", "-host-key-check", "off"}, args...)...)
	cmd.Env = append(os.Environ(), "SECGW_PASSWORD="+secgwdtest.AdminPassword)
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := netnsutil.Run(g.ns, cmd.Run); err != nil || strings.Contains(strings.ToLower(out.String()), "error") {
		t.Fatalf("secgw %s (secgwd %s): %v\n%s%s", strings.Join(args, " "), g.name, err, script, out.String())
	}
	return out.String()
}

// eventually polls cond every 200 ms for up to 30 s (guest time).
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s; last seen: %s", what, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// walkthroughA is README's "Cross-vrf SVTI" configuration, line for
// line, in the CLI's configuration mode.
const walkthroughA = `edit running
/ vrf trusted
/ vrf untrusted ike vpn myvpn local-address 192.0.2.1 remote-address 198.51.100.1
/ vrf untrusted ike vpn myvpn ike-policy pre-shared-key MYVPN-KEY
/ vrf untrusted ike vpn myvpn ipsec-policy start-action start
/ vrf untrusted ike vpn myvpn security-policy mytunnel local-ts subnet 192.168.0.0/16
/ vrf untrusted ike vpn myvpn security-policy mytunnel remote-ts subnet 10.0.0.0/8
/ vrf untrusted ike vpn myvpn security-policy mytunnel svti-id-out 100
/ vrf untrusted ike vpn myvpn security-policy mytunnel svti-id-in 100
/ vrf untrusted ike vpn myvpn security-policy mytunnel inject-routes next-hop svti100
/ vrf untrusted ike vpn myvpn security-policy mytunnel inject-routes vrf trusted
/ vrf untrusted ike vpn myvpn security-policy mytunnel inject-routes table 300
commit
`

// peerB is the peer at 198.51.100.1: a policy-based VPN in its vrf main
// protecting 10.0.0.0/8, answering A.
const peerB = `edit running
/ vrf main ike vpn toa local-address 198.51.100.1 remote-address 192.0.2.1
/ vrf main ike vpn toa ike-policy pre-shared-key MYVPN-KEY
/ vrf main ike vpn toa security-policy net local-ts subnet 10.0.0.0/8
/ vrf main ike vpn toa security-policy net remote-ts subnet 192.168.0.0/16
commit
`

// TestCrossVRFSecgwd is README's "Cross-vrf SVTI" walkthrough with two
// secgwd processes (-dataplane kernel) configured through the secgw CLI:
// gateway A runs in its own namespace (its vrf main) with the named
// namespaces untrusted (eth1, 192.0.2.1) and trusted (eth2,
// 192.168.1.1/24, host H 192.168.1.10 behind it), svti100 made in
// untrusted on eth1 and moved to trusted, and trusted's PBR rule to
// table 300; peer B is a second secgwd in its own namespace
// (198.51.100.1, 10.2.0.1 behind it), policy-based. After A's commit:
//   - "10.0.0.0/8 dev svti100 proto 212" is in trusted's table 300, and
//     no route of secgwd's is in untrusted, A's main or another table;
//   - A's child SAs are in untrusted's XFRM state with if_id 100;
//   - H's pings to 10.2.0.1 are answered, A's outbound and inbound SAs
//     in untrusted count them, and so does B's inbound SA;
//   - after `flush ike ike-sa vpn myvpn vrf untrusted` the route leaves
//     table 300, the SAs leave untrusted and H's pings no longer pass;
//   - initiated again (`cmd ike initiate child-sa`), the route comes
//     back, and leaves with the SAs when a commit deletes the VPN.
//
// With l3vrf, trusted holds a Linux VRF device blue (table 1001) with
// svti100 and eth2 enslaved and no PBR rule, and the walkthrough's
// "inject-routes table 300" is "inject-routes l3vrf blue": the route
// goes to table 1001.
func TestCrossVRFSecgwd(t *testing.T) {
	t.Run("table 300", func(t *testing.T) { testCrossVRFSecgwd(t, false) })
	t.Run("l3vrf blue", func(t *testing.T) { testCrossVRFSecgwd(t, true) })
}

func testCrossVRFSecgwd(t *testing.T, l3vrf bool) {
	ctx := context.Background()
	untrusted, trusted := netnstest.NewNamed(t, "untrusted"), netnstest.NewNamed(t, "trusted")
	aMain, b, host := netnstest.NewNS(t), netnstest.NewNS(t), netnstest.NewNS(t)
	aOuter, bOuter := addr("192.0.2.1"), addr("198.51.100.1")
	hostAddr, bInner := addr("192.168.1.10"), addr("10.2.0.1")
	hU, hT, hB, hH, hM := netnstest.Handle(t, untrusted), netnstest.Handle(t, trusted), netnstest.Handle(t, b),
		netnstest.Handle(t, host), netnstest.Handle(t, aMain)

	// The operator's links: eth1 the untrusted uplink (to B, another
	// subnet reached on the link), eth2 trusted's network with H.
	netnstest.Veth(t, untrusted, b, "eth1", "ethb", netip.PrefixFrom(aOuter, 24), netip.PrefixFrom(bOuter, 24))
	netnstest.Veth(t, trusted, host, "eth2", "ethh", netip.MustParsePrefix("192.168.1.1/24"), netip.PrefixFrom(hostAddr, 24))
	eth1, err := hU.LinkByName("eth1")
	if err != nil {
		t.Fatal(err)
	}
	ethb, err := hB.LinkByName("ethb")
	if err != nil {
		t.Fatal(err)
	}
	netnstest.Route(t, hU, netip.MustParsePrefix("198.51.100.0/24"), netip.Addr{}, netip.Addr{}, eth1)
	netnstest.Route(t, hB, netip.MustParsePrefix("192.0.2.0/24"), netip.Addr{}, netip.Addr{}, ethb)
	netnstest.LoAddr(t, hB, netip.PrefixFrom(bInner, 32))
	netnstest.Route(t, hB, netip.MustParsePrefix("192.168.0.0/16"), netip.Addr{}, bInner, ethb)
	netnstest.Route(t, hH, netip.MustParsePrefix("0.0.0.0/0"), addr("192.168.1.1"), netip.Addr{}, nil)
	netnstest.Sysctl(t, trusted, "net/ipv4/ip_forward", "1")

	// ip -n untrusted link add svti100 link eth1 type xfrm if_id 100
	// ip -n untrusted link set svti100 netns trusted
	// ip -n trusted link set svti100 up
	if err := hU.LinkAdd(&netlink.Xfrmi{LinkAttrs: netlink.LinkAttrs{Name: "svti100", ParentIndex: eth1.Attrs().Index}, Ifid: 100}); err != nil {
		t.Fatalf("ip -n untrusted link add svti100 link eth1 type xfrm if_id 100: %v", err)
	}
	svti, err := hU.LinkByName("svti100")
	if err != nil {
		t.Fatal(err)
	}
	if err := hU.LinkSetNsFd(svti, int(trusted)); err != nil {
		t.Fatalf("ip -n untrusted link set svti100 netns trusted: %v", err)
	}
	if err := netnsutil.LinkUp(hT, "svti100"); err != nil {
		t.Fatalf("ip -n trusted link set svti100 up: %v", err)
	}
	config, wantRoute := walkthroughA, "10.0.0.0/8 dev svti100 table 300 proto 212"
	if l3vrf {
		// ip -n trusted link add blue type vrf table 1001; ip -n trusted
		// link set blue up; ip -n trusted link set svti100 master blue;
		// ip -n trusted link set eth2 master blue
		if err := hT.LinkAdd(&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: "blue"}, Table: 1001}); err != nil {
			t.Fatalf("ip -n trusted link add blue type vrf table 1001: %v", err)
		}
		blue, err := hT.LinkByName("blue")
		if err == nil {
			err = hT.LinkSetUp(blue)
		}
		for _, name := range []string{"svti100", "eth2"} {
			var l netlink.Link
			if err == nil {
				l, err = hT.LinkByName(name)
			}
			if err == nil {
				err = hT.LinkSetMasterByIndex(l, blue.Attrs().Index)
			}
		}
		if err != nil {
			t.Fatalf("VRF device blue in trusted: %v", err)
		}
		config = strings.Replace(config, "inject-routes table 300", "inject-routes l3vrf blue", 1)
		wantRoute = "10.0.0.0/8 dev svti100 table 1001 proto 212"
	} else {
		// ip -n trusted rule add from 192.168.0.0/16 lookup 300
		rule := netlink.NewRule()
		rule.Src, rule.Table = netnsutil.IPNet(netip.MustParsePrefix("192.168.0.0/16")), 300
		if err := hT.RuleAdd(rule); err != nil {
			t.Fatalf("ip -n trusted rule add from 192.168.0.0/16 lookup 300: %v", err)
		}
	}

	a := startVMGW(t, "A", aMain)
	peer := startVMGW(t, "B", b)
	peer.cli(t, peerB)
	a.cli(t, config)

	eventually(t, "the injected route in trusted", func() (bool, string) {
		got := ourRoutes(t, hT)
		return slices.Equal(got, []string{wantRoute}), fmt.Sprintf("%q", got)
	})
	for name, h := range map[string]*netlink.Handle{"untrusted (the IKE vrf)": hU, "A's vrf main": hM} {
		if got := ourRoutes(t, h); len(got) != 0 {
			t.Errorf("%s got routes of secgwd's: %q", name, got)
		}
	}

	// A's SAs, read from untrusted's XFRM state by an observer.
	obs, err := xfrm.New(xfrm.Options{NetNS: untrusted})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Close() })
	var outSA, inSA dataplane.SAKey
	eventually(t, "A's two child SAs in untrusted", func() (bool, string) {
		st, err := obs.List(ctx)
		if err != nil {
			return false, err.Error()
		}
		outSA, inSA = dataplane.SAKey{}, dataplane.SAKey{}
		var seen []string
		for _, sa := range st.SAs {
			seen = append(seen, fmt.Sprintf("%v if_id %d", sa.Key(), sa.IfID))
			if sa.IfID != 100 {
				continue
			}
			switch sa.Dst {
			case bOuter:
				outSA = sa.Key()
			case aOuter:
				inSA = sa.Key()
			}
		}
		return len(st.SAs) == 2 && outSA.Dst.IsValid() && inSA.Dst.IsValid(), fmt.Sprintf("%q", seen)
	})

	const pings = 4
	if n, err := ping(host, hostAddr, bInner, pings); err != nil || n != pings {
		t.Fatalf("H (trusted) to B's 10.2.0.1 through svti100: %d of %d replies, %v", n, pings, err)
	}
	out, err := obs.Counters(ctx, outSA)
	if err != nil {
		t.Fatal(err)
	}
	in, err := obs.Counters(ctx, inSA)
	if err != nil {
		t.Fatal(err)
	}
	// A's outbound SA is B's inbound one, in B's namespace.
	obsB, err := xfrm.New(xfrm.Options{NetNS: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obsB.Close() })
	bIn, err := obsB.Counters(ctx, outSA)
	if err != nil {
		t.Fatalf("B's inbound SA %v: %v", outSA, err)
	}
	t.Logf("A's SAs in untrusted: outbound %d packets, inbound %d packets (%d auth drops); B's inbound: %d packets",
		out.Packets, in.Packets, in.AuthDrops, bIn.Packets)
	if out.Packets < pings || in.Packets < pings || in.AuthDrops != 0 || bIn.Packets < pings {
		t.Errorf("the pings were not encrypted in untrusted and decrypted by B: A out %+v, A in %+v, B in %+v", out, in, bIn)
	}

	// The IKE SA deleted: the route leaves trusted, the SAs untrusted.
	a.cli(t, "", "flush", "ike", "ike-sa", "vpn", "myvpn", "vrf", "untrusted")
	eventually(t, "the route gone from trusted after the flush", func() (bool, string) {
		got := ourRoutes(t, hT)
		return len(got) == 0, fmt.Sprintf("%q", got)
	})
	eventually(t, "the SAs gone from untrusted after the flush", func() (bool, string) {
		st, err := obs.List(ctx)
		if err != nil {
			return false, err.Error()
		}
		return len(st.SAs) == 0, fmt.Sprintf("%d SAs", len(st.SAs))
	})
	if n, _ := ping(host, hostAddr, bInner, 1); n != 0 {
		t.Errorf("H's ping passed with no SA and no route")
	}

	// Initiated again, then the VPN deleted by a commit: the route
	// comes back, then leaves with the VPN.
	a.cli(t, "", "cmd", "ike", "initiate", "child-sa", "security-policy", "mytunnel", "vrf", "untrusted")
	eventually(t, "the route back in trusted after initiate", func() (bool, string) {
		got := ourRoutes(t, hT)
		return slices.Equal(got, []string{wantRoute}), fmt.Sprintf("%q", got)
	})
	a.cli(t, "edit running\ndel / vrf untrusted ike vpn myvpn\ncommit\n")
	eventually(t, "the route gone from trusted after the VPN's deletion", func() (bool, string) {
		got := ourRoutes(t, hT)
		return len(got) == 0, fmt.Sprintf("%q", got)
	})
	eventually(t, "the SAs gone from untrusted after the VPN's deletion", func() (bool, string) {
		st, err := obs.List(ctx)
		if err != nil {
			return false, err.Error()
		}
		return len(st.SAs) == 0, fmt.Sprintf("%d SAs", len(st.SAs))
	})
}
