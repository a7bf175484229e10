package e2e

import (
	"strings"
	"testing"
)

// TestConformanceStartupAtBoot: with :startup (RFC 6241 §8.7.1) the
// startup configuration is what secgwd runs after a restart, and the
// commits made after the last copy-config running to startup are not
// copied there by themselves; with startup deleted, a restart runs what
// was committed last, as before startup existed.
func TestConformanceStartupAtBoot(t *testing.T) {
	t.Parallel()
	dir := newDataDir(t)
	d := startDaemon(t, dir)
	s := mustDial(t, d.Addr, adminUser, adminPassword)
	threads := func(n string) string {
		return `<edit-config><target><candidate/></target>` + ikeConfig(`<global-options><threads>`+n+`</threads></global-options>`) + `</edit-config>`
	}
	for _, op := range []string{threads("3"), `<commit/>`,
		`<copy-config><target><startup/></target><source><running/></source></copy-config>`,
		threads("4"), `<commit/>`} {
		mustRPC(t, s, op)
	}
	restart := func() {
		t.Helper()
		s.Close()
		d.Stop(t)
		d = startDaemon(t, dir)
		s = mustDial(t, d.Addr, adminUser, adminPassword)
	}
	runningHas := func(when, want string) {
		t.Helper()
		if data := mustRPC(t, s, `<get-config><source><running/></source></get-config>`); !strings.Contains(data, want) {
			t.Fatalf("%s: running lacks %s: %s\nsecgwd log:\n%s", when, want, data, d.Logs())
		}
	}
	restart()
	runningHas("after a restart with startup saved at threads 3", "<threads>3</threads>")
	if !strings.Contains(d.Logs(), "running loaded from the startup configuration") {
		t.Errorf("secgwd did not log the load of startup:\n%s", d.Logs())
	}
	hist := mustRPC(t, s, `<get><filter><config-history xmlns="urn:secgw:yang:secgw-config"/></filter></get>`)
	if !strings.Contains(hist, "boot: running loaded from startup") {
		t.Errorf("the commit history lacks the boot's load: %s", hist)
	}
	for _, op := range []string{`<delete-config><target><startup/></target></delete-config>`, threads("5"), `<commit/>`} {
		mustRPC(t, s, op)
	}
	restart()
	runningHas("after a restart with startup deleted", "<threads>5</threads>")
}
