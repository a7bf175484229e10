package gateway

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// gwPPK is the PPK of both sides in TestPPK (32 octets).
const gwPPK = "0x9c3e5a0b7d14f2c86e11a4d70b9f35e2c6a8d4f1073be92a51c0d6e8f4a7b203"

// TestPPK: RFC 8784 end to end, configured over NETCONF (the secgw CLI):
// the ppk list, vpn ppk and require-ppk commit (no longer refused),
// secgwd initiates with the PPK charon also has, charon logs "using PPK",
// `show ike ike-sa details` appends /PPK to the algorithms as the guide
// prints it and <get> reports ppk-used true, and traffic passes. Then
// charon drops its PPK: with require-ppk secgwd's new attempt fails,
// saying why, and the statistics count a ppk-required failure.
func TestPPK(t *testing.T) {
	t.Parallel()
	st := newSetup(t, suiteGCM, policy4)
	conf := swanctlConf(suiteGCM, testPSK, charonChildren(policy4)...)
	st.ch.Load(t, strings.Replace(conf, "secrets {\n", "secrets {\n\tppk-1 {\n\t\tid = bar\n\t\tsecret = "+gwPPK+"\n\t}\n", 1))
	st.gw.configure(t, "ppk k1 id bar secret "+gwPPK, "vpn "+ourVPNName+" ppk k1", "vpn "+ourVPNName+" ike-policy require-ppk true")
	st.gwInitiate(t, policy4)
	if !strings.Contains(st.ch.ReadLog(), "using PPK for PPK_ID 'bar'") {
		t.Errorf("charon did not log \"using PPK\"")
	}
	show := st.gw.mustCLI(t, "", "show", "ike", "ike-sa", "details")
	if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(suiteGCM.ikeAlgs) + `/PPK$`).MatchString(show) {
		t.Errorf("show ike ike-sa details has no %s/PPK line:\n%s", suiteGCM.ikeAlgs, show)
	}
	if get := st.gw.rpc(t, getFilter); !strings.Contains(get, "<ppk-used>true</ppk-used>") {
		t.Errorf("<get> does not report ppk-used true:\n%s", get)
	}
	ping(t, st.top.gw, gwInner4, charonIn4)
	for _, s := range []string{gwPPK, gwPPK[2:]} {
		if strings.Contains(st.gw.readLog(), s) {
			t.Error("secgwd logged the PPK")
		}
	}

	// charon forgets its PPK: it no longer answers USE_PPK, and secgwd,
	// which requires one, gives up after IKE_SA_INIT (RFC 8784 §3).
	st.gw.mustCLI(t, "", "flush", "ike", "ike-sa", "vpn", ourVPNName)
	st.ch.Load(t, conf)
	if out, err := st.ch.Swanctl("--load-creds", "--clear", "--file", filepath.Join(st.ch.Dir, "swanctl.conf")); err != nil {
		t.Fatalf("swanctl --load-creds --clear: %v\n%s", err, out)
	}
	out, _ := st.gw.cli("", "cmd", "ike", "initiate", "child-sa", "security-policy", policy4.name)
	if !strings.Contains(out, "PPK required") {
		t.Errorf("initiating without a PPK on charon's side:\n%s\nwant the PPK named as the reason", out)
	}
	stats := `<get><filter type="subtree"><vrf xmlns="` + nsVRF + `"><name>main</name><ike xmlns="` + nsIKE + `"><statistics/></ike></vrf></filter></get>`
	re := regexp.MustCompile(`<failure>\s*<reason>ppk-required</reason>\s*<count>1</count>|<failure>\s*<count>1</count>\s*<reason>ppk-required</reason>`)
	if !eventually(10*time.Second, func() bool { return re.MatchString(st.gw.rpc(t, stats)) }) {
		t.Errorf("statistics count no ppk-required failure:\n%s", st.gw.rpc(t, stats))
	}
}
