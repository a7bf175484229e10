package gateway

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lossRE reads ping's summary: "N packets transmitted, M received".
var lossRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// TestRekeyWithoutLoss: "traffic continues across a child
// rekey without loss": while a ping runs through the tunnel (userspace
// ESP on secgwd, kernel-libipsec on charon), the child SA is rekeyed, once
// by secgwd (cmd ike rekey, CREATE_CHILD_SA from our side) and once by
// charon (swanctl --rekey); every echo request is answered and the SPIs
// changed. secgwd opens inbound ESP in four workers (-esp-workers 4), so
// that the old and the new SA of a rekey are in different hands.
func TestRekeyWithoutLoss(t *testing.T) {
	st := newSetupArgs(t, []string{"-esp-workers", "4"}, suiteGCM, policy4)
	st.gwInitiate(t, policy4)
	before := st.checkAgree(t, policy4.name)

	const count = 60 // at 50 ms: 3 s of traffic around each rekey
	for _, by := range []string{"secgwd", "charon"} {
		done := make(chan string, 1)
		go func() {
			out, _ := runErr("ip", "netns", "exec", st.top.gw, "ping", "-n", "-q", "-c", strconv.Itoa(count), "-i", "0.05", "-W", "2",
				"-I", gwInner4.String(), charonIn4.String())
			done <- out
		}()
		time.Sleep(time.Second) // the ping is under way
		if by == "secgwd" {
			out := st.gw.mustCLI(t, "", "cmd", "ike", "rekey", "child-sa", "security-policy", policy4.name)
			t.Logf("cmd ike rekey: %s", strings.TrimSpace(out))
		} else if out, err := st.ch.Swanctl("--rekey", "--child", policy4.name); err != nil {
			t.Fatalf("swanctl --rekey: %v\n%s", err, out)
		}
		out := <-done
		m := lossRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("ping output: %s", out)
		}
		if m[1] != m[2] {
			t.Errorf("rekey by %s: %s of %s echo requests answered:\n%s", by, m[2], m[1], out)
		}
		after := st.checkAgree(t, policy4.name)
		if after.String() == before.String() {
			t.Fatalf("rekey by %s: the SPIs did not change: %v", by, after)
		}
		before = after
	}
}
