package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"secgw/internal/poll"
)

// TestConfirmedCommitKilled SIGKILLs secgwd while a confirmed commit is
// pending and restarts it: running must be the configuration before the
// confirmed commit (RFC 6241 §8.4.1, "If the device reboots for any reason
// before the confirm timeout expires, the server MUST restore the
// configuration to its state before the confirmed commit was issued"),
// for a persistent confirmed commit too, with the revert in
// config-history; a confirmed commit that was confirmed before the kill
// stays.
func TestConfirmedCommitKilled(t *testing.T) {
	t.Parallel()
	dir := newDataDir(t)
	d := startDaemon(t, dir)
	s := mustDial(t, d.Addr, adminUser, adminPassword)
	edit := func(threads int, vpn string) string {
		return `<edit-config><target><candidate/></target>` + ikeConfig(fmt.Sprintf(
			`<global-options><threads>%d</threads></global-options>%s`, threads, vpn)) + `</edit-config>`
	}
	mustRPC(t, s, edit(5, vpnXML("keep", "198.51.100.5")))
	mustRPC(t, s, `<commit/>`)

	wantReverts := 0
	for _, c := range []struct {
		name, commit string
		confirm      bool // a confirming commit follows
		want         int
	}{
		{"pending", `<commit><confirmed/></commit>`, false, 5},
		{"persistent", `<commit><confirmed/><confirm-timeout>3600</confirm-timeout><persist>tok-e2e</persist></commit>`, false, 5},
		{"confirmed", `<commit><confirmed/></commit>`, true, 6},
	} {
		mustRPC(t, s, edit(6, vpnXML("trial", "198.51.100.6")))
		mustRPC(t, s, c.commit)
		if c.confirm {
			mustRPC(t, s, `<commit/>`)
		}
		running := mustRPC(t, s, `<get-config><source><running/></source></get-config>`)
		if !strings.Contains(running, "<threads>6</threads>") || !strings.Contains(running, "<name>trial</name>") {
			t.Fatalf("%s: the confirmed commit is not running: %s", c.name, running)
		}
		// SIGKILL first: closing the session first would revert a
		// non-persistent confirmed commit before the kill (§8.4.1).
		d.Kill()
		s.Close()

		d = startDaemon(t, dir)
		s = mustDial(t, d.Addr, adminUser, adminPassword)
		running = mustRPC(t, s, `<get-config><source><running/></source></get-config>`)
		names := vpnNames(t, running)
		switch {
		case c.want == 5 && (!strings.Contains(running, "<threads>5</threads>") || strings.Join(names, ",") != "keep"):
			t.Errorf("%s: after SIGKILL and restart, running holds VPNs %q: %s; want the configuration before the confirmed commit",
				c.name, names, running)
		case c.want == 6 && (!strings.Contains(running, "<threads>6</threads>") || strings.Join(names, ",") != "keep,trial"):
			t.Errorf("%s: a confirmed commit confirmed before the kill is gone: VPNs %q: %s", c.name, names, running)
		}
		history := mustRPC(t, s, `<get><filter><config-history xmlns="urn:secgw:yang:secgw-config"/></filter></get>`)
		if c.want == 5 {
			wantReverts++
		}
		if n := strings.Count(history, "<comment>rollback of a confirmed commit: restart before it was confirmed</comment>"); n != wantReverts {
			t.Errorf("%s: config-history holds %d reverts at restart, want %d: %s", c.name, n, wantReverts, history)
		}
		if c.want == 6 {
			// Back to threads 5 and VPN keep for the next case.
			mustRPC(t, s, `<edit-config><target><candidate/></target>`+ikeConfig(
				`<global-options><threads>5</threads></global-options>`+
					`<vpn xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="remove"><name>trial</name></vpn>`)+`</edit-config>`)
			mustRPC(t, s, `<commit/>`)
		}
	}
}

// TestLockedChangesOfADeadSession: a session that locked the candidate and
// changed it dies without committing; its changes go with its lock (RFC
// 6241 §8.3.5.2: "any outstanding changes are discarded when the lock is
// released, whether explicitly with the <unlock> operation or implicitly
// from session failure"), so that the next client that locks (Ansible's
// netconf_config with lock: always) gets in and finds a clean candidate.
func TestLockedChangesOfADeadSession(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, newDataDir(t))
	dead, err := dialNetconf(d.Addr, adminUser, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	mustRPC(t, dead, `<lock><target><candidate/></target></lock>`)
	mustRPC(t, dead, `<edit-config><target><candidate/></target>`+ikeConfig(`<global-options><threads>7</threads></global-options>`)+`</edit-config>`)
	dead.Close() // the connection drops, no close-session

	s := mustDial(t, d.Addr, adminUser, adminPassword)
	if !poll.Until(10*time.Second, func() bool { _, err = rpc(s, `<lock><target><candidate/></target></lock>`); return err == nil }) {
		t.Fatalf("lock after the holder's connection dropped: %v", err)
	}
	if cand := mustRPC(t, s, `<get-config><source><candidate/></source></get-config>`); strings.Contains(cand, "<threads>7</threads>") {
		t.Fatalf("the dead session's changes are still in the candidate: %s", cand)
	}
	mustRPC(t, s, `<unlock><target><candidate/></target></unlock>`)
}
