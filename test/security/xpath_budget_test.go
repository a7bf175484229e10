package security

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"secgw/internal/poll"
	"secgw/test/secgwdtest"
)

// attackVPNs is the size of the configuration the expensive filters run
// over: the quadratic predicate needs some 10^8 steps on it (seconds to
// minutes unbounded), and it loads in a second. At 10k VPNs a commit of
// one changed VPN takes 0.6 s in secgwd on two CPUs without any attack
// (the subscribers' cost, measured on the code before these bounds too), which
// leaves no room for the probe bound on a machine shared with the attack.
const attackVPNs = 3000

// TestXPathBudget: a read-only user's expensive xpath
// filters (a quadratic predicate, nested count(), a pairwise node-set
// comparison) over thousands of VPNs are refused with application
// resource-denied within secgwd's bound (defaults: netconf's
// DefaultXPathTimeout and DefaultXPathMaxSteps), and all along another
// session's <get> and an admin's edit and commit are answered within
// probeBound: the filter runs on a snapshot, holding no lock writers need.
func TestXPathBudget(t *testing.T) {
	d := secgwdtest.Start(t, secgwdBin, secgwdtest.NewDataDir(t))
	admin := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	loadVPNs(t, admin, attackVPNs)
	attacker := secgwdtest.MustDial(t, d.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword)
	prober := secgwdtest.MustDial(t, d.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword)

	const refuseBound = 2*time.Second + 1500*time.Millisecond // the default timeout, and slack for two loaded CPUs
	attacks := []string{
		"/vrf/ike/vpn[name = /vrf/ike/vpn/name]",
		"/vrf/ike/vpn[count(/vrf/ike/vpn[count(/vrf/ike/vpn/security-policy) > 0]) > 0]",
		"/vrf/ike/vpn[/vrf/ike/vpn/remote-id = /vrf/ike/vpn/local-id]",
		"//*[string(/) = 'x']",
	}
	var attacking atomic.Bool
	attacking.Store(true)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer attacking.Store(false)
		for _, a := range attacks {
			start := time.Now()
			_, err := getXPath(attacker, "get-config", "running", a)
			took := time.Since(start)
			re := rpcError(err)
			if re == nil || re.Type != "application" || re.Tag != "resource-denied" {
				t.Errorf("%s: %v after %v; want application resource-denied", a, err, took)
				continue
			}
			if took > refuseBound {
				t.Errorf("%s: refused after %v, want within %v", a, took, refuseBound)
			}
			t.Logf("%s: refused after %v: %s", a, took.Round(time.Millisecond), re.Message)
		}
	}()

	// The probes, for as long as the attack lasts: a <get> of one VPN by
	// another session, and an edit and commit by the admin.
	probes, worst := 0, time.Duration(0)
	probe := func(what string, f func() error) {
		start := time.Now()
		err := f()
		took := time.Since(start)
		worst = max(worst, took)
		probes++
		if err != nil {
			t.Errorf("probe %s: %v", what, err)
		} else if took > probeBound {
			t.Errorf("probe %s took %v during the attack, want within %v", what, took, probeBound)
		}
	}
	time.Sleep(100 * time.Millisecond) // let the first filter start
	for i := 0; attacking.Load(); i++ {
		probe("get", func() error {
			_, err := secgwdtest.RPC(prober, `<get><filter type="subtree"><vrf xmlns="`+secgwdtest.NsVRF+`"><ike xmlns="`+secgwdtest.NsIKE+
				`"><vpn><name>vpn00042</name></vpn></ike></vrf></filter></get>`)
			return err
		})
		probe("edit and commit", func() error {
			if _, err := editCandidate(admin, secgwdtest.IKEConfig(`<vpn><name>vpn00042</name><remote-id>`+[]string{"a", "b"}[i%2]+`.example.com</remote-id></vpn>`)); err != nil {
				return err
			}
			_, err := secgwdtest.RPC(admin, `<commit/>`)
			return err
		})
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	if probes < 4 {
		t.Errorf("only %d probes ran during the attack", probes)
	}
	t.Logf("%d probes during the attack, the slowest %v", probes, worst.Round(time.Millisecond))

	// A filter that names what it wants still works on the same tree.
	data, err := getXPath(attacker, "get-config", "running", "/vrf/ike/vpn[remote-id = 'peer02999.example.com']/name")
	if err != nil || !contains(data, "<name>vpn02999</name>") {
		t.Errorf("a cheap filter after the attack: %v %.300s", err, data)
	}
}

// TestXPathStopsWhenClientLeaves checks that secgwd stops evaluating a
// filter when its session's connection closes, rather than run it to
// the end: here without any step or time bound of its own.
func TestXPathStopsWhenClientLeaves(t *testing.T) {
	d := secgwdtest.Start(t, secgwdBin, secgwdtest.NewDataDir(t), "-xpath-max-steps", "-1", "-xpath-timeout", "-1s")
	admin := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	loadVPNs(t, admin, 300)
	leaver, err := secgwdtest.Dial(d.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword)
	if err != nil {
		t.Fatal(err)
	}
	// Cubic: about 10^10 steps, hours without a bound.
	go func() {
		_, _ = getXPath(leaver, "get-config", "running", "/vrf/ike/vpn[count(/vrf/ike/vpn[name = /vrf/ike/vpn/name]) > 0]")
	}()
	time.Sleep(300 * time.Millisecond)
	leaver.Close()
	if !poll.Until(3*time.Second, func() bool { return contains(d.Logs(), `msg="netconf xpath filter refused"`) }) {
		t.Fatalf("secgwd still evaluates the filter 3 s after its client left:\n%s", tail(d.Logs(), 2000))
	}
	if !contains(d.Logs(), `reason="context canceled"`) {
		t.Errorf("the filter stopped, but not because the session ended:\n%s", tail(d.Logs(), 2000))
	}
	// And the daemon serves as before.
	start := time.Now()
	secgwdtest.MustRPC(t, admin, `<get-config><source><running/></source><filter type="xpath" select="/vrf/ike/vpn[name='vpn00001']"/></get-config>`)
	if took := time.Since(start); took > probeBound {
		t.Errorf("a get-config after the client left took %v", took)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
