package gateway

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"secgw/internal/netnsutil/netnstest"
)

// charonMoved is charon's outer address after the move.
var charonMoved = netip.MustParseAddr("192.0.2.3")

// mobikeConf is swanctlConf with MOBIKE on and no fixed local address:
// charon follows its addresses (RFC 4555).
func mobikeConf(s suite, psk string, children ...child) string {
	conf := swanctlConf(s, psk, children...)
	return strings.Replace(conf, "local_addrs = "+charonOuter.String(), "local_addrs = %any\n\t\tmobike = yes", 1)
}

// TestCharonMOBIKE: charon, a road warrior with MOBIKE, changes its
// address while it pings through the tunnel (the old address removed, a
// new one added): it sends UPDATE_SA_ADDRESSES, secgwd (responder, VPN
// with ike-policy mobike true) moves the IKE SA and the child SA to the
// new address without renegotiation (the same IKE SPIs; secgwd's child SA
// keeps its SPIs and keys, see below for charon's) and the ping resumes
// within 2 s (RFC 4555 §3.5).
func TestCharonMOBIKE(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	top := newTopology(t)
	st := &setup{top: top, gw: startGateway(t, top.gw), ch: startCharon(t, top.charon), s: suiteGCM, policies: []policy{policy4}}
	st.gw.configure(t, append(ourVPN(ourVPNName, suiteGCM, testPSK, policy4), "vpn "+ourVPNName+" ike-policy mobike true")...)
	st.ch.Load(t, mobikeConf(suiteGCM, testPSK, charonChildren(policy4)...))
	st.ch.initiate(t, policy4.name)
	before := st.checkAgree(t, policy4.name)
	if get := st.gw.rpc(t, getFilter); !strings.Contains(get, "<mobike>true</mobike>") {
		t.Errorf("<get> does not report MOBIKE on the IKE SA:\n%s", get)
	}

	pinger := startPing(t, top.charon, charonIn4, gwInner4, 80)
	time.Sleep(1500 * time.Millisecond)
	moved := time.Now()
	run(t, "ip", "-n", top.charon, "addr", "del", netip.PrefixFrom(charonOuter, 24).String(), "dev", "veth-charon")
	run(t, "ip", "-n", top.charon, "addr", "add", netip.PrefixFrom(charonMoved, 24).String(), "dev", "veth-charon")
	replies := pinger.wait(t)

	gap, after := maxGap(replies, moved)
	t.Logf("ping: %d replies, %d after the move, largest gap %v", len(replies), after, gap)
	if after == 0 {
		t.Fatalf("no ping reply after the address change\ncharon:\n%s\nsecgwd:\n%s", tail(st.ch.ReadLog(), 30), tail(st.gw.readLog(), 30))
	}
	if gap >= 2*time.Second {
		t.Errorf("ping gap %v across the move, want < 2 s", gap)
	}
	if !strings.Contains(st.ch.ReadLog(), "N(UPD_SA_ADDR)") {
		t.Errorf("charon logged no UPDATE_SA_ADDRESSES:\n%s", tail(st.ch.ReadLog(), 30))
	}

	// The same IKE SA everywhere, at the new address.
	wantEnd := fmt.Sprintf("%s[4500] %s[4500]", gwOuter, charonMoved)
	var show, get, ch []saView
	ok := eventually(5*time.Second, func() bool {
		show, get, ch = st.views(t)
		for _, vs := range [][]saView{show, get, ch} {
			if len(vs) != 1 || vs[0].Endpoints != wantEnd || vs[0].SPIi != before.SPIi || vs[0].SPIr != before.SPIr ||
				len(vs[0].Children) != 1 || !sameSPIs(vs[0], show[0]) {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("after the move, want one IKE SA %s with the IKE SPIs of %v, the views agreeing\nshow %v\nget %v\ncharon %v",
			wantEnd, before, show, get, ch)
	}
	// secgwd moved its child SA, SPIs and keys kept. charon with
	// kernel-libipsec (the only ESP it has on a kernel without XFRM
	// ESP) cannot update its SAs' addresses and rekeys the child SA
	// instead (its child_sa update says not supported): the child SPIs
	// then change by charon's CREATE_CHILD_SA, not by a new IKE SA.
	in := before.Children[0].SPIIn
	if log := st.gw.readLog(); !strings.Contains(log, "IKE SA moved (MOBIKE)") || !regexp.MustCompile(`msg="child SA moved".* in=`+in).MatchString(log) {
		t.Errorf("secgwd did not move child SA %s:\n%s", in, tail(log, 30))
	}
	if !sameSPIs(show[0], before) {
		if !strings.Contains(st.ch.ReadLog(), "generating CREATE_CHILD_SA request") {
			t.Errorf("child SPIs changed from %v to %v without a rekey by charon", before.Children, show[0].Children)
		}
		t.Logf("charon rekeyed the child SA after the move (kernel-libipsec cannot update SAs): %s -> %s",
			before.Children[0].SPIIn, show[0].Children[0].SPIIn)
	}
	ping(t, top.gw, gwInner4, charonIn4)
}

// sameSPIs reports whether v has the IKE and child SPIs of w.
func sameSPIs(v, w saView) bool {
	if v.SPIi != w.SPIi || v.SPIr != w.SPIr || len(v.Children) != len(w.Children) {
		return false
	}
	for i := range v.Children {
		if v.Children[i].SPIIn != w.Children[i].SPIIn || v.Children[i].SPIOut != w.Children[i].SPIOut {
			return false
		}
	}
	return true
}

// pinger is a ping running in the background.
type pinger struct {
	cmd    *exec.Cmd
	out    strings.Builder
	cancel context.CancelFunc
}

// startPing pings dst from src in ns count times, every 100 ms, with
// the time of each reply printed (-D).
func startPing(t *testing.T, ns string, src, dst netip.Addr, count int) *pinger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count)*100*time.Millisecond+10*time.Second)
	p := &pinger{cancel: cancel}
	p.cmd = exec.CommandContext(ctx, "ip", "netns", "exec", ns, "ping", "-D", "-n", "-i", "0.1", "-W", "1",
		"-c", strconv.Itoa(count), "-I", src.String(), dst.String())
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("gateway: ping: %v", err)
	}
	t.Cleanup(cancel)
	return p
}

var replyRE = regexp.MustCompile(`^\[(\d+)\.(\d+)\] \d+ bytes from `)

// wait waits for the ping to end and returns the times of its replies.
func (p *pinger) wait(t *testing.T) []time.Time {
	t.Helper()
	p.cmd.Wait() // a lost reply makes ping exit 1
	p.cancel()
	var out []time.Time
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	for sc.Scan() {
		m := replyRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		frac, _ := strconv.ParseFloat("0."+m[2], 64)
		out = append(out, time.Unix(sec, int64(frac*1e9)))
	}
	if len(out) == 0 {
		t.Fatalf("gateway: ping got no reply at all:\n%s", p.out.String())
	}
	return out
}

// maxGap returns the largest interval between consecutive replies
// (counting from the move for the first reply after it) and the number
// of replies after the move.
func maxGap(replies []time.Time, moved time.Time) (gap time.Duration, after int) {
	prev := replies[0]
	for _, r := range replies[1:] {
		gap = max(gap, r.Sub(prev))
		prev = r
	}
	for _, r := range replies {
		if r.After(moved) {
			after++
		}
	}
	if last := replies[len(replies)-1]; last.Before(moved) {
		gap = max(gap, time.Since(moved))
	}
	return gap, after
}

// gwMoved is secgwd's outer address after its move.
var gwMoved = netip.MustParseAddr("192.0.2.4")

// TestSecgwdMOBIKE: secgwd is the mobile side. It initiates an IKE SA with
// MOBIKE to charon (responder, mobike = yes), then its address changes
// while it pings through the tunnel (old address removed, a new one
// added): secgwd sees it through netlink, sends UPDATE_SA_ADDRESSES from
// the new address with NAT detection and a COOKIE2, and moves its child
// SA; the IKE SA keeps its SPIs and the ping resumes within 2 s (RFC 4555
// §3.5).
func TestSecgwdMOBIKE(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	top := newTopology(t)
	st := &setup{top: top, gw: startGateway(t, top.gw), ch: startCharon(t, top.charon), s: suiteGCM, policies: []policy{policy4}}
	st.gw.configure(t, append(ourVPN(ourVPNName, suiteGCM, testPSK, policy4), "vpn "+ourVPNName+" ike-policy mobike true")...)
	conf := swanctlConf(suiteGCM, testPSK, charonChildren(policy4)...)
	conf = strings.Replace(conf, "remote_addrs = "+gwOuter.String(), "remote_addrs = %any\n\t\tmobike = yes", 1)
	st.ch.Load(t, conf)
	st.gwInitiate(t, policy4)
	before := st.checkAgree(t, policy4.name)

	pinger := startPing(t, top.gw, gwInner4, charonIn4, 80)
	time.Sleep(1500 * time.Millisecond)
	moved := time.Now()
	run(t, "ip", "-n", top.gw, "addr", "del", netip.PrefixFrom(gwOuter, 24).String(), "dev", "veth-gw")
	run(t, "ip", "-n", top.gw, "addr", "add", netip.PrefixFrom(gwMoved, 24).String(), "dev", "veth-gw")
	replies := pinger.wait(t)

	gap, after := maxGap(replies, moved)
	t.Logf("ping: %d replies, %d after the move, largest gap %v", len(replies), after, gap)
	if after == 0 {
		t.Fatalf("no ping reply after the address change\nsecgwd:\n%s\ncharon:\n%s", tail(st.gw.readLog(), 30), tail(st.ch.ReadLog(), 30))
	}
	if gap >= 2*time.Second {
		t.Errorf("ping gap %v across the move, want < 2 s", gap)
	}
	log := st.gw.readLog()
	if !strings.Contains(log, "MOBIKE: moving IKE SA to a new local address") || !strings.Contains(log, "IKE SA moved (MOBIKE)") {
		t.Errorf("secgwd did not move its IKE SA:\n%s", tail(log, 30))
	}
	in := before.Children[0].SPIIn
	if !regexp.MustCompile(`msg="child SA moved".* in=` + in).MatchString(log) {
		t.Errorf("secgwd did not move child SA %s:\n%s", in, tail(log, 30))
	}
	if !strings.Contains(st.ch.ReadLog(), "N(UPD_SA_ADDR)") {
		t.Errorf("charon logged no UPDATE_SA_ADDRESSES:\n%s", tail(st.ch.ReadLog(), 30))
	}
	wantEnd := fmt.Sprintf("%s[4500] %s[4500]", gwMoved, charonOuter)
	var show, get, ch []saView
	ok := eventually(5*time.Second, func() bool {
		show, get, ch = st.views(t)
		for _, vs := range [][]saView{show, get, ch} {
			if len(vs) != 1 || vs[0].Endpoints != wantEnd || vs[0].SPIi != before.SPIi || vs[0].SPIr != before.SPIr ||
				len(vs[0].Children) != 1 || !sameSPIs(vs[0], show[0]) {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("after the move, want one IKE SA %s with the IKE SPIs of %v, the views agreeing\nshow %v\nget %v\ncharon %v",
			wantEnd, before, show, get, ch)
	}
	if !sameSPIs(show[0], before) {
		t.Logf("charon rekeyed the child SA after the move (kernel-libipsec cannot update SAs): %s -> %s",
			before.Children[0].SPIIn, show[0].Children[0].SPIIn)
	}
	ping(t, top.charon, charonIn4, gwInner4)
}

// gwSecond is a second address of secgwd's, for a cheaper path.
var gwSecond = netip.MustParseAddr("192.0.2.5")

// TestSecgwdMOBIKEPreferBestPath: secgwd has a second address and a
// route to charon through it appears with a better metric than the
// connected route, while the current path still works. With
// mobike-prefer-best-path (the vsr guide: "on routing change, if a
// cheaper path exists, the SA will be updated") the IKE SA moves to it;
// without, it stays where it works.
func TestSecgwdMOBIKEPreferBestPath(t *testing.T) {
	for _, prefer := range []bool{true, false} {
		t.Run(fmt.Sprintf("prefer-best-path=%v", prefer), func(t *testing.T) {
			t.Parallel()
			requirePrerequisites(t)
			top := newTopology(t)
			st := &setup{top: top, gw: startGateway(t, top.gw), ch: startCharon(t, top.charon), s: suiteGCM, policies: []policy{policy4}}
			st.gw.configure(t, append(ourVPN(ourVPNName, suiteGCM, testPSK, policy4), "vpn "+ourVPNName+" ike-policy mobike true",
				fmt.Sprintf("global-options mobike-prefer-best-path %v", prefer))...)
			conf := swanctlConf(suiteGCM, testPSK, charonChildren(policy4)...)
			conf = strings.Replace(conf, "remote_addrs = "+gwOuter.String(), "remote_addrs = %any\n\t\tmobike = yes", 1)
			st.ch.Load(t, conf)
			st.gwInitiate(t, policy4)
			before := st.checkAgree(t, policy4.name)

			run(t, "ip", "-n", top.gw, "addr", "add", netip.PrefixFrom(gwSecond, 32).String(), "dev", "veth-gw")
			run(t, "ip", "-n", top.gw, "route", "add", netip.PrefixFrom(charonOuter, 32).String(), "dev", "veth-gw",
				"src", gwSecond.String(), "metric", "10")
			want := fmt.Sprintf("%s[4500] %s[4500]", gwOuter, charonOuter)
			if prefer {
				want = fmt.Sprintf("%s[4500] %s[4500]", gwSecond, charonOuter)
			}
			var show []saView
			ok := eventually(5*time.Second, func() bool {
				show, _, _ = st.views(t)
				return len(show) == 1 && show[0].Endpoints == want && show[0].SPIi == before.SPIi
			})
			if prefer && !ok {
				t.Fatalf("with prefer-best-path the IKE SA did not move to %s: %v\n%s", want, show, tail(st.gw.readLog(), 20))
			}
			if prefer && !regexp.MustCompile(`parsed INFORMATIONAL request .*N\(UPD_SA_ADDR\).*N\(ADD_4_ADDR\)`).MatchString(st.ch.ReadLog()) {
				// RFC 4555 §3.6: the update lists secgwd's other IKE-bound
				// address, the configured one it left.
				t.Errorf("charon got no UPDATE_SA_ADDRESSES with ADDITIONAL_IP4_ADDRESS:\n%s", tail(st.ch.ReadLog(), 30))
			}
			if !prefer {
				time.Sleep(time.Second) // what a move would take
				if show, _, _ = st.views(t); len(show) != 1 || show[0].Endpoints != want {
					t.Fatalf("without prefer-best-path the IKE SA left its working path: %v", show)
				}
			}
			ping(t, top.gw, gwInner4, charonIn4)
			ping(t, top.charon, charonIn4, gwInner4)
		})
	}
}

// Addresses of the NATed path of TestCharonMOBIKEBehindNAT: charon's
// private address behind the router, and the router's public one, which
// masquerades it.
var (
	charonPrivate = netip.MustParseAddr("10.9.0.2")
	routerPrivate = netip.MustParseAddr("10.9.0.1")
	routerPublic  = netip.MustParseAddr("198.51.100.2")
	gwToRouter    = netip.MustParseAddr("198.51.100.1")
)

// TestCharonMOBIKEBehindNAT: charon moves from its direct link to a
// network behind a NAT (a router namespace masquerading it with
// nftables): its UPDATE_SA_ADDRESSES arrives from the router's public
// address, secgwd's NAT detection over the update finds the NAT, and the
// IKE SA and child SA follow to the mapped address and port; the ping
// resumes within 2 s (RFC 4555 §3.5, RFC 7296 §2.23).
func TestCharonMOBIKEBehindNAT(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("gateway: nft (Debian package nftables) is needed for the NAT of this test")
	}
	top := newTopology(t)
	router := strings.TrimSuffix(top.gw, "-g") + "-r"
	rNS := netnstest.NewNamed(t, router)
	gwNS, chNS := nsHandle(t, top.gw), nsHandle(t, top.charon)
	netnstest.Veth(t, gwNS, rNS, "veth-gr", "veth-rg", netip.PrefixFrom(gwToRouter, 24), netip.PrefixFrom(routerPublic, 24))
	netnstest.Veth(t, rNS, chNS, "veth-rc", "veth-cr", netip.PrefixFrom(routerPrivate, 24), netip.PrefixFrom(charonPrivate, 24))
	// charon's private address comes with the move.
	run(t, "ip", "-n", top.charon, "addr", "flush", "dev", "veth-cr")
	netnstest.Sysctl(t, rNS, "net/ipv4/ip_forward", "1")
	run(t, "ip", "-n", router, "route", "add", netip.PrefixFrom(gwOuter, 24).Masked().String(), "via", gwToRouter.String())
	run(t, "ip", "netns", "exec", router, "nft",
		"add table ip nat; add chain ip nat post { type nat hook postrouting priority 100 ; } ; add rule ip nat post oifname veth-rg masquerade")

	st := &setup{top: top, gw: startGateway(t, top.gw), ch: startCharon(t, top.charon), s: suiteGCM, policies: []policy{policy4}}
	st.gw.configure(t, append(ourVPN(ourVPNName, suiteGCM, testPSK, policy4), "vpn "+ourVPNName+" ike-policy mobike true")...)
	st.ch.Load(t, mobikeConf(suiteGCM, testPSK, charonChildren(policy4)...))
	st.ch.initiate(t, policy4.name)
	before := st.checkAgree(t, policy4.name)

	pinger := startPing(t, top.charon, charonIn4, gwInner4, 80)
	time.Sleep(1500 * time.Millisecond)
	moved := time.Now()
	run(t, "ip", "-n", top.charon, "addr", "del", netip.PrefixFrom(charonOuter, 24).String(), "dev", "veth-charon")
	run(t, "ip", "-n", top.charon, "addr", "add", netip.PrefixFrom(charonPrivate, 24).String(), "dev", "veth-cr")
	run(t, "ip", "-n", top.charon, "route", "add", "default", "via", routerPrivate.String())
	replies := pinger.wait(t)

	gap, after := maxGap(replies, moved)
	t.Logf("ping: %d replies, %d after the move, largest gap %v", len(replies), after, gap)
	if after == 0 {
		t.Fatalf("no ping reply after the move behind the NAT\ncharon:\n%s\nsecgwd:\n%s", tail(st.ch.ReadLog(), 30), tail(st.gw.readLog(), 30))
	}
	if gap >= 2*time.Second {
		t.Errorf("ping gap %v across the move, want < 2 s", gap)
	}
	if log := st.gw.readLog(); !regexp.MustCompile(`msg="IKE SA moved \(MOBIKE\)".* remote=` + regexp.QuoteMeta(routerPublic.String()) + `:\d+ nat-local=\w+ nat-remote=true`).MatchString(log) {
		t.Errorf("secgwd did not move the IKE SA behind the NAT (nat-remote=true):\n%s", tail(log, 30))
	}
	var show []saView
	ok := eventually(5*time.Second, func() bool {
		show, _, _ = st.views(t)
		return len(show) == 1 && strings.HasPrefix(show[0].Endpoints, fmt.Sprintf("%s[4500] %s[", gwOuter, routerPublic)) &&
			show[0].SPIi == before.SPIi && show[0].SPIr == before.SPIr
	})
	if !ok {
		t.Fatalf("after the move, want the IKE SA of %v at the NAT's address %s: %v", before, routerPublic, show)
	}
	ping(t, top.gw, gwInner4, charonIn4)
}

// nsHandle opens the named namespace; t.Cleanup closes the handle.
func nsHandle(t *testing.T, name string) netns.NsHandle {
	t.Helper()
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("gateway: namespace %s: %v", name, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestSecgwdToSecgwdMOBIKE: two secgwd, both with MOBIKE; the initiator's
// address changes mid-ping. Both dataplanes move their child SA in place:
// the IKE SPIs and the child SPIs are the same on both sides after the
// move (no rekey on either side), and the ping resumes within 2 s.
func TestSecgwdToSecgwdMOBIKE(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	top := newTopology(t)
	mob, fixed := startGateway(t, top.gw), startGateway(t, top.charon)
	mob.configure(t, append(ourVPN(ourVPNName, suiteGCM, testPSK, policy4), "vpn "+ourVPNName+" ike-policy mobike true")...)
	p := "vpn from-mobile "
	fixed.configure(t,
		p+"local-address "+charonOuter.String(),
		p+"local-id "+charonID+" remote-id "+gwID,
		p+"ike-policy pre-shared-key "+testPSK,
		p+"ike-policy ike-proposal 1 "+suiteGCM.ourIKE,
		p+"ike-policy mobike true",
		p+"ipsec-policy esp-proposal 1 "+suiteGCM.ourESP,
		p+"security-policy "+policy4.name+" local-ts subnet "+policy4.remote,
		p+"security-policy "+policy4.name+" remote-ts subnet "+policy4.local)
	out := mob.mustCLI(t, "", "cmd", "ike", "initiate", "child-sa", "security-policy", policy4.name)
	if !strings.Contains(out, "established") {
		t.Fatalf("gateway: initiate:\n%s", out)
	}
	views := func(g *gateway) []saView {
		text := g.mustCLI(t, "", "show", "ike", "ike-sa", "details")
		v, err := viewsFromShow(text)
		if err != nil {
			t.Fatalf("gateway: %v\n%s", err, text)
		}
		return v
	}
	var before []saView
	if !eventually(5*time.Second, func() bool { before = views(mob); return len(before) == 1 && len(before[0].Children) == 1 }) {
		t.Fatalf("no tunnel: %v", before)
	}
	pinger := startPing(t, top.gw, gwInner4, charonIn4, 80)
	time.Sleep(1500 * time.Millisecond)
	moved := time.Now()
	run(t, "ip", "-n", top.gw, "addr", "del", netip.PrefixFrom(gwOuter, 24).String(), "dev", "veth-gw")
	run(t, "ip", "-n", top.gw, "addr", "add", netip.PrefixFrom(gwMoved, 24).String(), "dev", "veth-gw")
	replies := pinger.wait(t)
	gap, after := maxGap(replies, moved)
	t.Logf("ping: %d replies, %d after the move, largest gap %v", len(replies), after, gap)
	if after == 0 || gap >= 2*time.Second {
		t.Fatalf("ping across the move: %d replies after it, gap %v; want replies within 2 s\nmobile:\n%s\nfixed:\n%s",
			after, gap, tail(mob.readLog(), 30), tail(fixed.readLog(), 30))
	}
	var m, f []saView
	ok := eventually(5*time.Second, func() bool {
		m, f = views(mob), views(fixed)
		return len(m) == 1 && len(f) == 1 && m[0].Endpoints == fmt.Sprintf("%s[4500] %s[4500]", gwMoved, charonOuter) &&
			f[0].Endpoints == fmt.Sprintf("%s[4500] %s[4500]", charonOuter, gwMoved)
	})
	if !ok {
		t.Fatalf("after the move: mobile %v, fixed %v", m, f)
	}
	if !sameSPIs(m[0], before[0]) {
		t.Errorf("the mobile side's SPIs changed: before %v, after %v", before[0], m[0])
	}
	if f[0].SPIi != before[0].SPIi || f[0].SPIr != before[0].SPIr || f[0].Children[0].SPIIn != before[0].Children[0].SPIOut ||
		f[0].Children[0].SPIOut != before[0].Children[0].SPIIn {
		t.Errorf("the fixed side's SPIs do not match the mobile side's from before the move: %v vs %v", f[0], before[0])
	}
	for _, g := range []*gateway{mob, fixed} {
		if log := g.readLog(); strings.Contains(log, "child-rekeyed") {
			t.Errorf("a child SA was rekeyed in %s:\n%s", g.ns, tail(log, 20))
		}
	}
	ping(t, top.charon, charonIn4, gwInner4)
}
