package e2e

import (
	"strings"
	"testing"
)

// TestNACMNcclient runs testdata/nc_nacm.py: RFC 8341 rules through
// Debian's ncclient against secgwd — a user in a custom group allowed
// /vrf/ike and denied the rest of /vrf and /aaa (data-node rules), a
// denied rpc (get-schema), a denied notification (netconf-config-change),
// a secret (a PSK) visible only while a rule grants it, and rules that
// would lock the last admin out refused at commit.
func TestNACMNcclient(t *testing.T) {
	t.Parallel()
	needNcclient(t)
	d := startDaemon(t, newDataDir(t))
	out := runChecks(t, "nc_nacm.py", "--host", d.Host, "--port", d.Port, "--password="+adminPassword,
		"--reader-user", readerUser, "--reader-password="+readerPassword)
	if n := strings.Count(out, "PASS "); n < 10 {
		t.Errorf("only %d checks passed, want 10; the script stopped early?", n)
	}
}
