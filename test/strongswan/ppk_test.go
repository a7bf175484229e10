package strongswan

import (
	"strings"
	"testing"
	"time"

	"secgw/internal/poll"
)

// RFC 8784 (post-quantum preshared keys) against charon, which supports
// them since 5.7 (connection ppk_id and ppk_required, ppk secrets) and
// logs "using PPK" when a PPK went into the keys. Each case runs in both
// roles; when the PPK is used, the child SA keys derive from SK_d' and
// checkKeys compares them with those charon logged: a known answer for
// prf+(PPK, SK_d) across two implementations.

// ppkValue is the PPK of both sides (32 octets, as RFC 8784 §3 wants
// at least 256 bits of entropy) and otherPPK one neither names.
const (
	ppkValue = "0x5fa2cb81d6b1bd7ccb0e91b0fbc28b7c2a1b37bf11e8a6f5d03972e9b7e7e0a4"
)

// ppkCase is one configuration of both sides.
type ppkCase struct {
	ourID, charonID string // the PPK identity each side has ("" none)
	ourRequire      bool   // our require-ppk
	charonRequire   bool   // charon's ppk_required
}

// charonPPKConf is swanctlConf with charon's PPK: its ppk secret with
// identity id, and, when initiator, ppk_id and ppk_required on the
// connection (charon only proposes a PPK when its connection names one).
func charonPPKConf(top *topology, c ppkCase, initiator bool) string {
	conf := swanctlConf(suiteGCM, "interop-secret", top)
	if c.charonID == "" {
		return conf
	}
	if initiator || c.charonRequire {
		req := "no"
		if c.charonRequire {
			req = "yes"
		}
		conf = strings.Replace(conf, "\t\tversion = 2\n", "\t\tversion = 2\n\t\tppk_id = "+c.charonID+"\n\t\tppk_required = "+req+"\n", 1)
	}
	return strings.Replace(conf, "secrets {\n", "secrets {\n\tppk-1 {\n\t\tid = "+c.charonID+"\n\t\tsecret = "+ppkValue+"\n\t}\n", 1)
}

// ourPPKConf is ourConf with our PPK k1 (identity id) named by VPN v1, and
// require-ppk.
func ourPPKConf(top *topology, c ppkCase) []string {
	lines := ourConf(suiteGCM, "interop-secret", top)
	if c.ourID != "" {
		lines = append(lines, "ppk k1 id "+c.ourID+" secret "+ppkValue, "vpn v1 ppk k1")
	}
	if c.ourRequire {
		lines = append(lines, "vpn v1 ike-policy require-ppk true")
	}
	return lines
}

func newPPKSetup(t *testing.T, c ppkCase, charonInitiates bool) *setup {
	t.Helper()
	requirePrerequisites(t)
	top := newTopology(t)
	ch := startCharon(t, top.charon)
	ch.Load(t, charonPPKConf(top, c, charonInitiates))
	return &setup{top: top, ch: ch, us: startOurs(t, top.ours, top.ourAddr, ourPPKConf(top, c)...)}
}

// charonPPKLines logs charon's lines about PPKs and returns them.
func (st *setup) charonPPKLines(t *testing.T) string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(st.ch.ReadLog(), "\n") {
		if strings.Contains(l, "PPK") {
			out = append(out, l)
			t.Logf("charon: %s", l)
		}
	}
	return strings.Join(out, "\n")
}

// checkPPKUp checks an established SA on both sides, with the PPK used
// or not on both.
func (st *setup) checkPPKUp(t *testing.T, ours bool, used bool) {
	t.Helper()
	c := st.establish(t, ours)
	st.checkCharonSAs(t, c)
	st.checkKeys(t, c, ours)
	lines := st.charonPPKLines(t)
	if got := strings.Contains(lines, "using PPK"); got != used {
		t.Errorf("charon logged \"using PPK\": %v, want %v", got, used)
	}
	s, ok := st.ourSA()
	if !ok {
		t.Fatal("our IKE SA is not established with one child SA")
	}
	if s.PPKUsed != used {
		t.Errorf("our ppk-used %v, want %v", s.PPKUsed, used)
	}
	if got := len(st.us.logs.find("using PPK")); got != map[bool]int{true: 1}[used] {
		t.Errorf("our engine logged %d \"using PPK\" records", got)
	}
}

// TestPPKInterop: the same PPK on both sides, optional and required, in
// both roles: both use it (charon logs "using PPK", our ppk-used), and
// the child SA keys, derived from SK_d', are charon's.
func TestPPKInterop(t *testing.T) {
	for _, req := range []bool{false, true} {
		c := ppkCase{ourID: "bar", charonID: "bar", ourRequire: req, charonRequire: req}
		name := map[bool]string{false: "optional", true: "required"}[req]
		t.Run(name+"/ours-initiates", func(t *testing.T) {
			t.Parallel()
			newPPKSetup(t, c, false).checkPPKUp(t, true, true)
		})
		t.Run(name+"/charon-initiates", func(t *testing.T) {
			t.Parallel()
			newPPKSetup(t, c, true).checkPPKUp(t, false, true)
		})
	}
}

// TestPPKInteropMismatch: the two sides name different PPK identities.
// With optional PPKs the responder authenticates the initiator's
// NO_PPK_AUTH and both proceed without PPK; with the initiator's PPK
// required, the responder answers AUTHENTICATION_FAILED.
func TestPPKInteropMismatch(t *testing.T) {
	t.Run("optional/ours-initiates", func(t *testing.T) {
		t.Parallel()
		st := newPPKSetup(t, ppkCase{ourID: "bar", charonID: "baz"}, false)
		st.checkPPKUp(t, true, false)
		if !strings.Contains(st.ch.ReadLog(), "NO_PPK_AUTH") {
			t.Error("charon did not fall back on NO_PPK_AUTH")
		}
	})
	t.Run("optional/charon-initiates", func(t *testing.T) {
		t.Parallel()
		st := newPPKSetup(t, ppkCase{ourID: "bar", charonID: "baz"}, true)
		st.checkPPKUp(t, false, false)
		if len(st.us.logs.find("the peer's PPK is not configured here: authenticated with NO_PPK_AUTH")) != 1 {
			t.Error("our engine did not fall back on NO_PPK_AUTH")
		}
	})
	t.Run("required/ours-initiates", func(t *testing.T) {
		t.Parallel()
		st := newPPKSetup(t, ppkCase{ourID: "bar", charonID: "baz", ourRequire: true}, false)
		if err := st.us.e.Initiate("v1"); err != nil {
			t.Fatal(err)
		}
		if !st.ch.WaitLog("N(AUTH_FAILED)", 10*time.Second) {
			t.Fatalf("charon did not send AUTHENTICATION_FAILED\n%s", tail(st.ch.ReadLog(), 30))
		}
		st.charonPPKLines(t)
		st.checkFailed(t, "IKE SA failed", "AUTHENTICATION_FAILED")
	})
	t.Run("required/charon-initiates", func(t *testing.T) {
		t.Parallel()
		st := newPPKSetup(t, ppkCase{ourID: "bar", charonID: "baz", charonRequire: true}, true)
		out, err := st.ch.Swanctl("--initiate", "--child", "net", "--timeout", "10")
		if err == nil {
			t.Errorf("swanctl --initiate succeeded with a PPK we do not have:\n%s", out)
		}
		if !st.ch.WaitLog("received AUTHENTICATION_FAILED notify error", 5*time.Second) {
			t.Fatalf("charon did not log AUTHENTICATION_FAILED\n%s", tail(st.ch.ReadLog(), 30))
		}
		st.charonPPKLines(t)
		st.checkFailed(t, "authentication of peer failed", "")
		if recs := st.us.logs.find("authentication of peer failed"); len(recs) == 0 || !strings.Contains(recs[0].attrs["reason"].(string), "PPK required") {
			t.Errorf("our engine did not say the PPK was the reason: %+v", recs)
		}
	})
}

// TestPPKInteropPeerWithout: charon has no PPK at all: an optional PPK
// of ours is not used; a required one fails after IKE_SA_INIT (no
// USE_PPK in charon's response).
func TestPPKInteropPeerWithout(t *testing.T) {
	t.Run("optional", func(t *testing.T) {
		t.Parallel()
		newPPKSetup(t, ppkCase{ourID: "bar"}, false).checkPPKUp(t, true, false)
	})
	t.Run("required", func(t *testing.T) {
		t.Parallel()
		st := newPPKSetup(t, ppkCase{ourID: "bar", ourRequire: true}, false)
		if err := st.us.e.Initiate("v1"); err != nil {
			t.Fatal(err)
		}
		poll.Require(t, 10*time.Second, "our SA to fail", func() bool { return len(st.us.logs.find("IKE SA failed")) > 0 })
		if err := st.us.logs.find("IKE SA failed")[0].attrs["err"]; !strings.Contains(err.(error).Error(), "PPK required") {
			t.Errorf("our SA failed with %v, want PPK required", err)
		}
	})
}
