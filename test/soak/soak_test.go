package soak

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"secgw/test/charontest"
)

// soak is one run of the walk.
type soak struct {
	t    *testing.T
	seed int64
	r    *rand.Rand
	top  *topology
	a, b *gw
	ch   *charontest.Charon

	charonUp bool
	// m is A's expected running configuration; aInitial its running
	// configuration before the walk (XML), bRunning B's (canonical).
	m        model
	aInitial string
	bRunning string
	// history maps commit ids of A's config-history to the model then.
	history map[uint64]model
	// expectUp holds the security policies that must have an installed
	// child SA after a settle time: start-action start after a commit
	// that (re)applied their VPN, or successfully initiated; a flush or
	// the peer's terminate or restart takes them out.
	expectUp map[string]bool
	// unconfigured maps a violation of "SAs only for configured VPNs"
	// to when it was first seen (graceTime).
	unconfigured map[string]time.Time
	samples      []sample
	step         int
	current      string // the operation under way
	trace        []string
}

// TestSoak is the soak: see doc.go.
func TestSoak(t *testing.T) {
	requirePrerequisites(t)
	seed := *flagSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_000
	}
	t.Logf("soak: seed %d (rerun: go test ./test/soak -soak.seed=%d)", seed, seed)
	s := &soak{t: t, seed: seed, r: rand.New(rand.NewPCG(uint64(seed), 23)), m: newModel(),
		history: map[uint64]model{}, expectUp: map[string]bool{}, unconfigured: map[string]time.Time{}}
	s.setup()
	start := time.Now()
	for s.step = 1; ; s.step++ {
		if *flagDuration > 0 {
			if time.Since(start) > *flagDuration {
				break
			}
		} else if s.step > *flagSteps {
			break
		}
		o := s.pickOp()
		s.current = o.name
		t0 := time.Now()
		what := o.run(s)
		s.record(fmt.Sprintf("%4d %-18s %5dms %s", s.step, o.name, time.Since(t0).Milliseconds(), what))
		s.checkStep()
	}
	s.settle()
	s.checkTraffic(true)
	s.checkGrowth()
	t.Logf("soak: seed %d: %d steps in %v", seed, s.step-1, time.Since(start).Round(time.Second))
	if testing.Verbose() {
		t.Logf("trace:\n%s", strings.Join(s.trace, "\n"))
	}
}

// setup builds the topology, starts the daemons and charon, configures B
// and charon and gives A its first configuration.
func (s *soak) setup() {
	t := s.t
	s.top = newTopology(t)
	s.a = startGW(t, "A", s.top.a)
	s.b = startGW(t, "B", s.top.b)
	s.ch = charontest.Start(t, s.top.c, charontest.Options{})
	s.charonUp = true
	if err := s.ch.TryLoad(charonConf()); err != nil {
		t.Fatal(err)
	}
	s.mustRPC(s.b, editConfig(bConfig()))
	s.mustRPC(s.b, `<commit/>`)
	s.bRunning = s.running(s.b)
	s.aInitial = s.mustRPC(s.a, `<get-config><source><running/></source></get-config>`)
	first := newModel()
	first.IKETmpls["ike-gcm"] = true
	first.IPsecTmpls["esp-start"] = true
	first.VPNs["to-b"] = vpnM{IKETmpl: "ike-gcm", IPsecTmpl: "esp-start", Policies: []int{0, 1}}
	first.VPNs["to-c"] = vpnM{Start: "start", Policies: []int{0}}
	s.mustRPC(s.a, editConfig(first.ikeXML()))
	s.mustRPC(s.a, `<commit/>`)
	s.committed(first)
	s.checkStep()
	s.settle()
}

// committed records a commit that made next A's running configuration:
// the model, the expectations of the VPNs it changed, and its id in
// config-history.
func (s *soak) committed(next model) {
	old := s.m
	s.m = next.clone()
	for _, vpn := range vpnNames {
		_, had := old.VPNs[vpn]
		v, has := next.VPNs[vpn]
		if had && has && old.effective(vpn) == next.effective(vpn) {
			continue
		}
		for i := range nets {
			delete(s.expectUp, policyName(vpn, i))
		}
		if has && next.startAction(vpn) == "start" && next.canComeUp(vpn) && s.peerUp(vpn) {
			for _, i := range v.Policies {
				s.expectUp[policyName(vpn, i)] = true
			}
		}
	}
	s.history[s.lastCommitID()] = s.m.clone()
}

// lastCommitID is the id of A's newest commit in config-history.
func (s *soak) lastCommitID() uint64 {
	data := s.mustRPC(s.a, `<get><filter type="subtree"><config-history xmlns="`+nsCfg+`"/></filter></get>`)
	root, err := parseXML(data)
	if err != nil {
		s.fail("%v", err)
	}
	var last uint64
	for _, c := range root.child("data").child("config-history").all("commit") {
		var id uint64
		fmt.Sscan(c.textOf("id"), &id)
		last = max(last, id)
	}
	if last == 0 {
		s.fail("config-history lists no commit:\n%s", data)
	}
	return last
}

// rpc is g.rpc; mustRPC fails the walk on any error.
func (s *soak) rpc(g *gw, op string) (string, error) { return g.rpc(op) }

func (s *soak) mustRPC(g *gw, op string) string {
	data, err := g.rpc(op)
	if err != nil {
		s.fail("secgwd %s: %.300s: %v", g.name, op, err)
	}
	return data
}

// record keeps the trace of the walk (the last steps are printed on
// failure).
func (s *soak) record(line string) {
	s.trace = append(s.trace, line)
}

// fail stops the walk with the seed, the step and the last steps.
func (s *soak) fail(format string, args ...any) {
	s.t.Helper()
	last := s.trace[max(0, len(s.trace)-25):]
	s.t.Fatalf("soak: seed %d, step %d (%s): %s\nrerun: go test ./test/soak -soak.seed=%d -soak.steps=%d\nlast steps:\n%s",
		s.seed, s.step, s.current, fmt.Sprintf(format, args...), s.seed, s.step, strings.Join(last, "\n"))
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
