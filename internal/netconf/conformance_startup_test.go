package netconf

import (
	"strings"
	"testing"
)

// TestConformanceStartup: the :startup capability (RFC 6241 §8.7).
// copy-config running to startup saves running; later commits do not
// reach startup by themselves (§8.7.1); get-config and validate read it;
// copy-config startup to candidate loads it for a commit; a lock of
// startup keeps other sessions from changing it (§7.5); delete-config
// deletes it (§7.4) and leaves an empty startup.
func TestConformanceStartup(t *testing.T) {
	f := start(t)
	a := dial(t, f.addr, "admin", "secret-admin")
	b := dial(t, f.addr, "admin", "secret-admin")
	found := false
	for _, c := range a.ServerCapabilities {
		found = found || c == "urn:ietf:params:netconf:capability:startup:1.0"
	}
	if !found {
		t.Error("hello lacks the :startup capability")
	}
	run := func(op string) string {
		t.Helper()
		out, err := exec1(t, a, op)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return out
	}
	getStartup := `<get-config><source><startup/></source></get-config>`
	if data := run(getStartup); strings.Contains(data, "<vrf") {
		t.Errorf("startup before any save: %s", data)
	}
	_, err := exec1(t, a, `<copy-config><target><candidate/></target><source><startup/></source></copy-config>`)
	wantRPCError(t, "copy-config of an empty startup", err, "application", "data-missing", "", "no startup configuration", "")

	for _, op := range []string{editIKE(`<global-options><threads>3</threads></global-options>`), `<commit/>`,
		`<copy-config><target><startup/></target><source><running/></source></copy-config>`,
		editIKE(`<global-options><threads>4</threads></global-options>`), `<commit/>`} {
		run(op)
	}
	if data := run(getStartup); !strings.Contains(data, "<threads>3</threads>") {
		t.Errorf("startup after the save and a later commit: %s", data)
	}
	run(`<validate><source><startup/></source></validate>`)

	// Session b locks startup: a's save and delete are refused.
	if _, err := exec1(t, b, `<lock><target><startup/></target></lock>`); err != nil {
		t.Fatal(err)
	}
	_, err = exec1(t, a, `<copy-config><target><startup/></target><source><running/></source></copy-config>`)
	wantRPCError(t, "save while another session locks startup", err, "protocol", "in-use", "", "locked by session", "")
	_, err = exec1(t, a, `<delete-config><target><startup/></target></delete-config>`)
	wantRPCError(t, "delete while another session locks startup", err, "protocol", "in-use", "", "locked by session", "")
	if _, err := exec1(t, b, `<unlock><target><startup/></target></unlock>`); err != nil {
		t.Fatal(err)
	}

	// Back to startup through the candidate.
	run(`<copy-config><target><candidate/></target><source><startup/></source></copy-config>`)
	run(`<commit/>`)
	if got := f.store.Running().Vrf["main"].Ike.GlobalOptions.GetThreads(); got != 3 {
		t.Errorf("running after loading startup and committing: threads %d", got)
	}
	for _, c := range []struct{ rpc, msg string }{
		{`<copy-config><target><startup/></target><source><candidate/></source></copy-config>`, "copies running"},
		{`<copy-config><target><running/></target><source><startup/></source></copy-config>`, "goes to the candidate"},
		{`<delete-config><target><running/></target></delete-config>`, "running and candidate cannot be deleted"},
		{`<edit-config><target><startup/></target><config/></edit-config>`, "edit-config targets the candidate"},
	} {
		_, err := exec1(t, a, c.rpc)
		wantRPCError(t, c.rpc, err, "protocol", "operation-not-supported", "", c.msg, "")
	}
	run(`<delete-config><target><startup/></target></delete-config>`)
	if data := run(getStartup); strings.Contains(data, "<vrf") {
		t.Errorf("startup after delete-config: %s", data)
	}
}
