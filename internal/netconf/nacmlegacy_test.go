package netconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNACMLegacyStoredConfig: a data directory written by a release
// that kept access control at /aaa/nacm (secgw-aaa, groups directly
// under it) starts with those rules at /nacm, and enforces them: the
// reader, in group ops whose rule denies reading /vrf, no longer reads
// it, while the admin does and sees the group under /nacm/groups.
func TestNACMLegacyStoredConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	old := `{"format":"secgw-config/1","commit":1,"data":{"vrf":[{"name":"main","ike":{"global-options":{"retransmit-tries":"3"}}}],` +
		`"aaa":{"nacm":{"group":[{"name":"ops","user-name":["reader"]}],` +
		`"rule-list":[{"name":"ops","group":["ops"],"rule":[{"name":"no-vrf","path":"/vrf","access-operations":"read","action":"deny"}]}]}}}}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "config", "running.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	f := startIn(t, dir)
	if f.store.Migrated() == "" {
		t.Error("the store does not say it carried /aaa/nacm")
	}
	reader := dial(t, f.addr, "reader", "secret-reader")
	got, err := exec1(t, reader, `<get-config><source><running/></source></get-config>`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "<vrf") || strings.Contains(got, "retransmit-tries") {
		t.Errorf("the reader reads /vrf, which the carried rule denies:\n%s", got)
	}
	admin := dial(t, f.addr, "admin", "secret-admin")
	got, err = exec1(t, admin, `<get-config><source><running/></source></get-config>`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "<retransmit-tries>3</retransmit-tries>") ||
		!strings.Contains(got, `<nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm"><groups><group><name>ops</name><user-name>reader</user-name></group></groups>`) ||
		strings.Contains(got, "secgw-aaa") {
		t.Errorf("admin get-config: want /vrf and the group at /nacm/groups, no /aaa:\n%s", got)
	}
}
