package gateway

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// ourVPNName is the VPN secgwd has with charon.
const ourVPNName = "to-charon"

// testPSK is the pre-shared key of both sides.
const testPSK = "gateway-test-secret-0123456789"

// setup is one test's topology, secgwd and charon, configured for a
// suite and a set of policies.
type setup struct {
	top      *topology
	gw       *gateway
	ch       *charon
	s        suite
	policies []policy
}

func newSetup(t *testing.T, s suite, policies ...policy) *setup {
	t.Helper()
	return newSetupArgs(t, nil, s, policies...)
}

// newSetupArgs is newSetup with extra secgwd flags.
func newSetupArgs(t *testing.T, secgwdArgs []string, s suite, policies ...policy) *setup {
	t.Helper()
	requirePrerequisites(t)
	top := newTopology(t)
	st := &setup{top: top, gw: startGateway(t, top.gw, secgwdArgs...), ch: startCharon(t, top.charon), s: s, policies: policies}
	st.gw.configure(t, ourVPN(ourVPNName, s, testPSK, policies...)...)
	st.ch.Load(t, swanctlConf(s, testPSK, charonChildren(policies...)...))
	return st
}

// gwInitiate brings a child SA up with secgwd's initiate RPC through the
// CLI and checks the negotiation log it prints.
func (st *setup) gwInitiate(t *testing.T, p policy) {
	t.Helper()
	out := st.gw.mustCLI(t, "", "cmd", "ike", "initiate", "child-sa", "security-policy", p.name)
	if !strings.Contains(out, "CHILD_SA "+p.name+"{") || !strings.Contains(out, "established") {
		t.Fatalf("gateway: cmd ike initiate child-sa security-policy %s:\n%s", p.name, out)
	}
}

// views returns the three views of the tunnel: secgw's CLI, <get>, and
// charon's swanctl.
func (st *setup) views(t *testing.T) (show, get, ch []saView) {
	t.Helper()
	text := st.gw.mustCLI(t, "", "show", "ike", "ike-sa", "details")
	show, err := viewsFromShow(text)
	if err != nil {
		t.Fatalf("gateway: %v\n%s", err, text)
	}
	data := st.gw.rpc(t, getFilter)
	if get, err = viewsFromGet(data); err != nil {
		t.Fatalf("gateway: %v\n%s", err, data)
	}
	return show, get, viewsFromCharon(st.ch.listSAs(t))
}

// want is the one IKE SA both sides must hold, with a child SA per
// policy named, all in the setup's suite; the SPIs come from got.
func (st *setup) want(got saView, names ...string) saView {
	// The userspace dataplane forces ESP in UDP: IKE floats to 4500.
	w := saView{State: "ESTABLISHED", Endpoints: fmt.Sprintf("%s[4500] %s[4500]", gwOuter, charonOuter),
		SPIi: got.SPIi, SPIr: got.SPIr, Algs: st.s.ikeAlgs}
	for _, p := range st.policies {
		if !slices.Contains(names, p.name) {
			continue
		}
		var in, out string
		for _, c := range got.Children {
			if c.Name == p.name {
				in, out = c.SPIIn, c.SPIOut
			}
		}
		// kernel-libipsec always encapsulates ESP in UDP, and secgwd's
		// userspace dataplane forces it too.
		w.Children = append(w.Children, childView{Name: p.name, State: "INSTALLED", Encap: true,
			SPIIn: in, SPIOut: out, Algs: st.s.espAlgs, Local: p.local, Remote: p.remote})
	}
	return w.comparable()
}

// checkAgree checks that `show ike ike-sa details`, <get> and
// `swanctl --list-sas` all show exactly one IKE SA, established, with
// the same SPIs, the suite's algorithms, and one installed child SA per
// policy named, with the same SPIs (swapped on charon's side) and
// selectors. Right after a negotiation one side may still be installing:
// it retries for a few seconds. It returns the agreed view.
func (st *setup) checkAgree(t *testing.T, names ...string) saView {
	t.Helper()
	var show, get, ch []saView
	var diag string
	ok := eventually(5*time.Second, func() bool {
		show, get, ch = st.views(t)
		diag = agreeErr(show, get, ch, st, names)
		return diag == ""
	})
	if !ok {
		t.Fatalf("gateway: the views of the tunnel disagree: %s\nsecgw show ike ike-sa details:\n%v\n<get>:\n%v\nswanctl --list-sas:\n%v",
			diag, show, get, ch)
	}
	return show[0]
}

// agreeErr says what is wrong with the three views, "" if nothing.
func agreeErr(show, get, ch []saView, st *setup, names []string) string {
	for _, v := range []struct {
		name  string
		views []saView
	}{{"show", show}, {"get", get}, {"charon", ch}} {
		if len(v.views) != 1 {
			return fmt.Sprintf("%s has %d IKE SAs, want 1", v.name, len(v.views))
		}
		want := st.want(v.views[0], names...)
		if got := v.views[0].comparable(); !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("%s:\n%v\nwant:\n%v", v.name, got, want)
		}
	}
	s, g, c := show[0].comparable(), get[0].comparable(), ch[0].comparable()
	if !reflect.DeepEqual(s, g) || !reflect.DeepEqual(s, c) {
		return "the SPIs differ"
	}
	return ""
}
