package e2e

import (
	"errors"
	"strings"
	"testing"

	gonetconf "github.com/Juniper/go-netconf/netconf"
)

// TestRefusedNodeCommit: through secgwd, a commit that sets a node this
// release does not act on (here global-options snmp, which waits for
// SNMP) fails with an <rpc-error> of error-type application, error-tag
// operation-not-supported, error-app-tag not-supported, the node as
// error-path and a message naming the feature; running is untouched, and
// the default value commits.
func TestRefusedNodeCommit(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, newDataDir(t))
	s := mustDial(t, d.Addr, adminUser, adminPassword)
	before := mustRPC(t, s, `<get-config><source><running/></source></get-config>`)
	mustRPC(t, s, `<edit-config><target><candidate/></target>`+ikeConfig(`<global-options><snmp>true</snmp></global-options>`)+`</edit-config>`)
	_, err := s.Exec(gonetconf.RawMethod(`<commit/>`))
	var re *gonetconf.RPCError
	if !errors.As(err, &re) {
		t.Fatalf("commit: %v, want an rpc-error", err)
	}
	if re.Type != "application" || re.Tag != "operation-not-supported" || !strings.Contains(re.Info, "<error-app-tag>not-supported</error-app-tag>") ||
		!strings.HasSuffix(re.Path, ":global-options/ike:snmp") || !strings.Contains(re.Message, "SNMP") {
		t.Fatalf("rpc-error %+v", re)
	}
	if after := mustRPC(t, s, `<get-config><source><running/></source></get-config>`); after != before {
		t.Fatalf("running changed:\n%s\n%s", before, after)
	}
	mustRPC(t, s, `<discard-changes/>`)
	mustRPC(t, s, `<edit-config><target><candidate/></target>`+ikeConfig(`<global-options><snmp>false</snmp></global-options>`)+`</edit-config>`)
	mustRPC(t, s, `<commit/>`)
}
