package strongswan

import (
	"fmt"
	"strings"
	"testing"

	"secgw/internal/ike/engine"
)

// charonSuite renders the algorithms charon reports for an IKE or CHILD
// SA in `swanctl --list-sas --raw` (encr-alg, encr-keysize, integ-alg,
// prf-alg, dh-group) in the syntax of ikecrypto.Suite.String, e.g.
// "AES_CBC/128-HMAC_SHA2_256_128-HMAC_SHA2_256-MODP_2048".
func charonSuite(kv map[string]string) string {
	encr := kv["encr-alg"]
	// ChaCha20-Poly1305 has no Key Length attribute; charon still reports
	// its 256-bit key size.
	if ks := kv["encr-keysize"]; ks != "" && encr != "CHACHA20_POLY1305" {
		encr += "/" + ks
	}
	parts := []string{encr}
	if v := kv["integ-alg"]; v != "" {
		parts = append(parts, v)
	}
	if v := kv["prf-alg"]; v != "" {
		parts = append(parts, strings.TrimPrefix(v, "PRF_"))
	}
	if v := kv["dh-group"]; v != "" {
		parts = append(parts, strings.ReplaceAll(v, "CURVE_", "CURVE"))
	}
	return strings.Join(parts, "-")
}

// checkAlgs checks that charon and our engine report the suite s for the
// IKE SA and the child SA c: charon in `swanctl --list-sas --raw`, ours in
// the "IKE_SA_INIT done"/"IKE_SA_INIT answered" record and the child SA
// given to the dataplane.
func (st *setup) checkAlgs(t *testing.T, s suite, c engine.ChildSA, initiator bool) {
	t.Helper()
	raw, err := st.ch.Swanctl("--list-sas", "--raw")
	if err != nil {
		t.Fatalf("swanctl --list-sas: %v\n%s", err, raw)
	}
	sas := listSAs(raw)
	if len(sas) != 1 || len(sas[0].children) != 1 {
		t.Fatalf("charon SAs: %s", raw)
	}
	msg := "IKE_SA_INIT answered"
	if initiator {
		msg = "IKE_SA_INIT done"
	}
	recs := st.us.logs.find(msg)
	if len(recs) != 1 {
		t.Fatalf("our engine logged %d %q records, want 1", len(recs), msg)
	}
	ourIKE := fmt.Sprint(recs[0].attrs["suite"])
	charonIKE, wantIKE := charonSuite(sas[0].kv), s.ike.String()
	if ourIKE != wantIKE || charonIKE != wantIKE {
		t.Errorf("IKE SA suite: ours %s, charon %s, want %s", ourIKE, charonIKE, wantIKE)
	}
	ourESP, charonESP, wantESP := c.Suite.String(), charonSuite(sas[0].children[0].kv), s.esp.String()
	if ourESP != wantESP || charonESP != wantESP {
		t.Errorf("CHILD_SA suite: ours %s, charon %s, want %s", ourESP, charonESP, wantESP)
	}
	t.Logf("suites: IKE %s, ESP %s on both sides", charonIKE, charonESP)
}

func TestCharonSuite(t *testing.T) {
	for _, c := range []struct {
		kv   map[string]string
		want string
	}{
		{map[string]string{"encr-alg": "AES_GCM_16", "encr-keysize": "256", "prf-alg": "PRF_HMAC_SHA2_256", "dh-group": "ECP_256"},
			suiteGCM.ike.String()},
		{map[string]string{"encr-alg": "CHACHA20_POLY1305", "encr-keysize": "256", "prf-alg": "PRF_HMAC_SHA2_256", "dh-group": "CURVE_25519"},
			suiteChaCha.ike.String()},
		{map[string]string{"encr-alg": "AES_CBC", "encr-keysize": "128", "integ-alg": "HMAC_SHA2_256_128"},
			suiteCBC128.esp.String()},
	} {
		if got := charonSuite(c.kv); got != c.want {
			t.Errorf("charonSuite(%v) = %s, want %s", c.kv, got, c.want)
		}
	}
}
