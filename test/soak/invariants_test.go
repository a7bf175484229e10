package soak

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"secgw/internal/poll"
	"secgw/test/gwtest"
)

// checkStep checks what must hold after every step: no panic, both
// daemons alive, running equal to the model (A) and to its static
// configuration (B), SAs only for configured VPNs and policies (after
// graceTime), the dataplane equal to the child SAs; it samples memory
// and goroutines.
func (s *soak) checkStep() {
	for _, g := range []*gw{s.a, s.b} {
		if bad := g.scanLog(); len(bad) > 0 {
			s.fail("secgwd %s logged a panic or internal error:\n%s", g.name, strings.Join(bad, "\n"))
		}
		if !g.alive() {
			s.fail("secgwd %s exited: %v", g.name, g.d.State())
		}
	}
	if got, want := s.running(s.a), s.expectedRunning(); got != want {
		s.fail("A's running configuration differs from the model:\n%s", diffLines(want, got))
	}
	if got := s.running(s.b); got != s.bRunning {
		s.fail("B's running configuration changed:\n%s", diffLines(s.bRunning, got))
	}
	stA := s.state(s.a)
	s.checkConfigured(stA)
	var dpErr string
	if !poll.Until(5*time.Second, func() bool {
		dpErr = dataplaneErr(s.state(s.a))
		if dpErr == "" {
			dpErr = dataplaneErr(s.state(s.b))
		}
		return dpErr == ""
	}) {
		s.fail("the dataplane disagrees with the child SAs: %s", dpErr)
	}
	s.sample(stA)
}

// running is a daemon's running configuration in canonical form.
func (s *soak) running(g *gw) string {
	data := s.mustRPC(g, `<get-config><source><running/></source></get-config>`)
	root, err := parseXML(data)
	if err != nil {
		s.fail("%v\n%s", err, data)
	}
	return root.canon()
}

// expectedRunning is A's initial running configuration with the model's
// managed part in vrf main's ike container.
func (s *soak) expectedRunning() string {
	root, _ := parseXML(s.aInitial)
	data := root.child("data")
	if data == nil {
		data = &node{name: "data"}
		root.kids = append(root.kids, data)
	}
	var ike *node
	for _, v := range data.all("vrf") {
		if v.textOf("name") == "main" {
			if ike = v.child("ike"); ike == nil {
				ike = &node{name: "ike"}
				v.kids = append(v.kids, ike)
			}
		}
	}
	if ike == nil {
		ike = &node{name: "ike"}
		data.kids = append(data.kids, &node{name: "vrf", kids: []*node{{name: "name", text: "main"}, ike}})
	}
	ike.kids = slices.DeleteFunc(ike.kids, func(n *node) bool { return slices.Contains(managed, n.name) })
	m, _ := parseXML(s.m.ikeXML())
	ike.kids = append(ike.kids, m.kids...)
	if len(ike.kids) == 0 {
		// An empty ike container (and vrf) is not in the reply.
		for _, v := range data.all("vrf") {
			v.kids = slices.DeleteFunc(v.kids, func(n *node) bool { return n == ike })
		}
	}
	return root.canon()
}

// state reads a daemon's ike state.
func (s *soak) state(g *gw) ikeState {
	data := s.mustRPC(g, stateFilter)
	st, err := parseState(data)
	if err != nil {
		s.fail("secgwd %s: %v\n%s", g.name, err, data)
	}
	return st
}

// checkConfigured fails when an IKE SA of a VPN that is not configured,
// or a child SA of a policy that is not, outlives graceTime.
func (s *soak) checkConfigured(st ikeState) {
	now := time.Now()
	bad := map[string]bool{}
	for _, sa := range st.SAs {
		v, ok := s.m.VPNs[sa.VPN]
		if !ok {
			bad[fmt.Sprintf("IKE SA %s %s_i %s_r (%s) of a VPN not configured", sa.VPN, sa.SPIi, sa.SPIr, sa.State)] = true
			continue
		}
		for _, c := range sa.Children {
			if !slices.ContainsFunc(v.Policies, func(i int) bool { return policyName(sa.VPN, i) == c.Name }) {
				bad[fmt.Sprintf("child SA %s in %s out %s (%s) of %s: security policy not configured", c.Name, c.SPIIn, c.SPIOut, c.State, sa.VPN)] = true
			}
		}
	}
	for k := range s.unconfigured {
		if !bad[k] {
			delete(s.unconfigured, k)
		}
	}
	for k := range bad {
		first, ok := s.unconfigured[k]
		if !ok {
			s.unconfigured[k] = now
		} else if now.Sub(first) > graceTime {
			s.fail("A: %s, still there %v later", k, now.Sub(first).Round(time.Second))
		}
	}
}

// dataplaneErr compares what the dataplane holds (the diagnostics of the
// state) with the child SAs: the SAs' SPIs must be exactly the child SAs'
// spi-in and spi-out, and every installed child SA has its outbound
// policy with its reqid. "" when they agree.
func dataplaneErr(st ikeState) string {
	if !st.HasDiagnostics {
		return ""
	}
	var want []string
	pols := map[string]bool{}
	for _, p := range st.DPPolicies {
		pols[p] = true
	}
	for _, sa := range st.SAs {
		for _, c := range sa.Children {
			if c.SPIIn == "" || c.State == "CREATED" || c.State == "INSTALLING" || c.State == "DELETED" {
				continue
			}
			want = append(want, "in "+c.SPIIn, "out "+c.SPIOut)
		}
	}
	var got []string
	for _, l := range st.DPSAs {
		f := strings.Fields(l) // dir dst spi SPI reqid N
		if len(f) >= 4 {
			got = append(got, f[0]+" "+f[3])
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		return fmt.Sprintf("child SAs' SPIs %v, dataplane SAs %v (%v)", want, got, st.DPSAs)
	}
	reqids := map[string]bool{}
	for _, l := range st.DPSAs {
		if f := strings.Fields(l); len(f) == 6 {
			reqids[f[5]] = true
		}
	}
	for _, p := range st.DPPolicies {
		f := strings.Fields(p)
		if len(f) > 2 && f[len(f)-3] == "protect" && f[0] != "out" && !reqids[f[len(f)-1]] {
			return fmt.Sprintf("inbound policy %q has no SA", p)
		}
	}
	return ""
}

// sample records each daemon's RSS and goroutines.
func (s *soak) sample(stA ikeState) {
	stB := s.state(s.b)
	s.samples = append(s.samples, sample{rss: [2]int{s.a.rssKB(), s.b.rssKB()}, gor: [2]int{stA.Goroutines, stB.Goroutines}})
}

// sample is one step's RSS (kB) and goroutine count of A and B.
type sample struct{ rss, gor [2]int }

// checkGrowth fails when RSS or goroutines at the end of the walk are far
// above what they were after the warm-up: a leak, not the noise of the
// SAs of the moment.
func (s *soak) checkGrowth() {
	n := len(s.samples)
	if n < 20 {
		return
	}
	for i, name := range []string{"A", "B"} {
		var baseRSS, baseGor, endRSS, endGor int
		endRSS, endGor = 1<<62, 1<<62
		for _, x := range s.samples[n/10 : n/3] {
			baseRSS, baseGor = max(baseRSS, x.rss[i]), max(baseGor, x.gor[i])
		}
		for _, x := range s.samples[n-n/10:] {
			endRSS, endGor = min(endRSS, x.rss[i]), min(endGor, x.gor[i])
		}
		s.t.Logf("secgwd %s: RSS %d kB after warm-up, %d kB at the end; goroutines %d, %d", name, baseRSS, endRSS, baseGor, endGor)
		if endRSS > 2*baseRSS+32<<10 {
			s.fail("secgwd %s: RSS grew from %d kB to %d kB", name, baseRSS, endRSS)
		}
		if endGor > 2*baseGor+100 {
			s.fail("secgwd %s: goroutines grew from %d to %d", name, baseGor, endGor)
		}
	}
}

// settle waits until what must eventually hold holds: every policy
// expected up has an installed child SA, the peers' views agree, the
// dataplane agrees.
func (s *soak) settle() {
	var why string
	if !poll.Until(settleTime, func() bool { why = s.settledErr(); return why == "" }) {
		s.fail("not settled after %v: %s", settleTime, why)
	}
}

func (s *soak) settledErr() string {
	stA, stB := s.state(s.a), s.state(s.b)
	var chSAs []ikeSA
	if s.charonUp {
		sas, err := s.ch.ListSAs()
		if err != nil {
			s.fail("%v", err)
		}
		chSAs = fromCharon(sas)
	}
	for _, p := range sortedKeys(s.expectUp) {
		if s.expectUp[p] && !installed(stA, p) {
			return "security policy " + p + " is expected up (start-action start, initiated) and has no installed child SA on A"
		}
	}
	for _, peer := range []struct {
		vpn, peerVPN string
		sas          []ikeSA
	}{{"to-b", "to-a", swapAll(stB.SAs)}, {"to-c", "secgw", chSAs}} {
		for i := range peer.sas {
			if peer.sas[i].VPN == peer.peerVPN {
				peer.sas[i].VPN = peer.vpn
			}
		}
		if a, p := agreeKeys(stA.SAs, peer.vpn), agreeKeys(peer.sas, peer.vpn); !slices.Equal(a, p) {
			return fmt.Sprintf("A and its peer disagree on %s:\nA:    %v\npeer: %v", peer.vpn, a, p)
		}
	}
	if e := dataplaneErr(stA); e != "" {
		return "A: " + e
	}
	return dataplaneErr(stB)
}

func swapAll(sas []ikeSA) []ikeSA {
	out := make([]ikeSA, len(sas))
	for i, s := range sas {
		out[i] = s.swapped()
	}
	return out
}

// installed reports whether policy p has an installed child SA in an
// established IKE SA.
func installed(st ikeState, p string) bool {
	for _, sa := range st.SAs {
		if sa.State != "ESTABLISHED" {
			continue
		}
		for _, c := range sa.Children {
			if c.Name == p && c.State == "INSTALLED" {
				return true
			}
		}
	}
	return false
}

// checkTraffic pings through every child SA installed on A, both ways,
// and sometimes runs a small TCP transfer.
func (s *soak) checkTraffic(tcp bool) string {
	st := s.state(s.a)
	var did []string
	for _, vpn := range vpnNames {
		for i := range nets {
			p := policyName(vpn, i)
			if !installed(st, p) {
				continue
			}
			peer := peerOf[vpn]
			peerNS := map[byte]string{'b': s.top.b, 'c': s.top.c}[peer]
			src, dst := inner('a', i), inner(peer, i)
			if n, out := gwtest.Ping(s.top.a, src, dst, 2); n < 2 {
				// A rekey or a delete under way may take the SA away.
				if installed(s.state(s.a), p) {
					s.fail("ping %s -> %s through %s: %d of 2 answered\n%s", src, dst, p, n, out)
				}
				continue
			}
			if n, out := gwtest.Ping(peerNS, dst, src, 2); n < 2 && installed(s.state(s.a), p) {
				s.fail("ping %s -> %s through %s: %d of 2 answered\n%s", dst, src, p, n, out)
			}
			if tcp {
				if err := gwtest.TCPEcho(s.top.a, src, peerNS, dst, 32<<10); err != nil && installed(s.state(s.a), p) {
					s.fail("TCP %s -> %s through %s: %v", src, dst, p, err)
				}
			}
			did = append(did, p)
		}
	}
	return "traffic through " + strconv.Quote(strings.Join(did, ","))
}

// diffLines shows the lines only in want (-) and only in got (+).
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
