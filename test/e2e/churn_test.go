package e2e

import (
	"secgw/internal/ncclient"
	"strings"
	"testing"
	"time"

	"secgw/internal/poll"
)

// TestDeleteVPNThenCommitThenShow replays the defect the product soak
// found, through secgwd: A and B have a tunnel; A's VPN, the
// last one on its local address, is deleted, then another commit follows
// at once. A must go on answering <get> of the IKE state (it answered
// "internal error" from a panic, then hung for good), tell B with a
// DELETE that still has a socket to go out on (B kept a stale SA), and
// take a new VPN and tunnel afterwards.
func TestDeleteVPNThenCommitThenShow(t *testing.T) {
	t.Parallel()
	a, b := startIKEPeers(t, "17950")
	sb := mustDial(t, b.Addr, adminUser, adminPassword)
	mustRPC(t, sb, `<edit-config><target><candidate/></target>`+ikeConfig(vpnElem("churn-secret", "from-a", "b-net", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16"))+`</edit-config>`)
	mustRPC(t, sb, `<commit/>`)
	sa := mustDial(t, a.Addr, adminUser, adminPassword)
	toB := vpnElem("churn-secret", "to-b", "a-net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	mustRPC(t, sa, `<edit-config><target><candidate/></target>`+ikeConfig(toB)+`</edit-config>`)
	mustRPC(t, sa, `<commit/>`)
	mustRPC(t, sa, `<initiate xmlns="`+nsIKE+`"><child-sa><security-policy>a-net</security-policy></child-sa></initiate>`)
	waitState(t, sb, func(s string) bool { return strings.Contains(s, "<ike-sa>") })

	mustRPC(t, sa, `<edit-config><target><candidate/></target>`+ikeConfig(`<vpn xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete"><name>to-b</name></vpn>`)+`</edit-config>`)
	mustRPC(t, sa, `<commit/>`)
	mustRPC(t, sa, `<edit-config><target><candidate/></target>`+ikeConfig(`<global-options><threads>4</threads></global-options>`)+`</edit-config>`)
	mustRPC(t, sa, `<commit/>`)
	for range 3 {
		ikeState(t, sa) // answered, never "internal error"
	}
	waitState(t, sb, func(s string) bool { return !strings.Contains(s, "<ike-sa>") })
	waitState(t, sa, func(s string) bool { return !strings.Contains(s, "<ike-sa>") })

	mustRPC(t, sa, `<edit-config><target><candidate/></target>`+ikeConfig(toB)+`</edit-config>`)
	mustRPC(t, sa, `<commit/>`)
	mustRPC(t, sa, `<initiate xmlns="`+nsIKE+`"><child-sa><security-policy>a-net</security-policy></child-sa></initiate>`)
	waitState(t, sb, func(s string) bool { return strings.Contains(s, "<ike-sa>") })
	for _, d := range []*daemon{a, b} {
		if l := d.Logs(); strings.Contains(l, "panic") {
			t.Fatalf("secgwd logged a panic:\n%s", l)
		}
	}
}

// ikeState returns the <get> of vrf main's IKE state, within 5 s.
func ikeState(t *testing.T, s *ncclient.Session) string {
	t.Helper()
	type result struct {
		data string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		d, err := rpc(s, `<get><filter type="subtree"><vrf xmlns="`+nsVRF+`"><name>main</name><ike xmlns="`+nsIKE+`"><ike-sa/></ike></vrf></filter></get>`)
		ch <- result{d, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("<get> of the IKE state: %v", r.err)
		}
		return r.data
	case <-time.After(5 * time.Second):
		t.Fatal("<get> of the IKE state not answered in 5 s")
	}
	return ""
}

// waitState polls the IKE state until cond holds, for up to 10 s.
func waitState(t *testing.T, s *ncclient.Session, cond func(string) bool) {
	t.Helper()
	var st string
	if !poll.Until(10*time.Second, func() bool { st = ikeState(t, s); return cond(st) }) {
		t.Fatalf("state not reached in 10 s:\n%s", st)
	}
}

// TestDeleteVRFMainRefusedByCommit: deleting vrf main is refused by
// commit as by validate (commit let it through, and secgwd then refused
// to start on the stored configuration); running keeps vrf main and a
// restart serves it.
func TestDeleteVRFMainRefusedByCommit(t *testing.T) {
	t.Parallel()
	dir := newDataDir(t)
	d := startDaemon(t, dir)
	s := mustDial(t, d.Addr, adminUser, adminPassword)
	// With test-option set the edit lands unchecked (RFC 6241 §7.2);
	// validate and commit must then refuse it.
	mustRPC(t, s, `<edit-config><target><candidate/></target><test-option>set</test-option><config><vrf xmlns="`+nsVRF+`" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete"><name>main</name></vrf></config></edit-config>`)
	for _, op := range []string{`<validate><source><candidate/></source></validate>`, `<commit/>`} {
		if _, err := rpc(s, op); err == nil || !strings.Contains(err.Error(), "vrf main must exist") {
			t.Fatalf("%s: %v, want the vrf main error", op, err)
		}
	}
	s.Close()
	d.Stop(t)
	d = startDaemon(t, dir)
	s = mustDial(t, d.Addr, adminUser, adminPassword)
	if data := mustRPC(t, s, `<get-config><source><running/></source></get-config>`); !strings.Contains(data, "<name>main</name>") {
		t.Fatalf("running after restart: %s", data)
	}
}

// TestReplaceContainerByNothing: an edit-config that replaces a
// container by an empty one removes its children from running (RFC 6241
// §7.2, "replace"); the soak found it ignored.
func TestReplaceContainerByNothing(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, newDataDir(t))
	s := mustDial(t, d.Addr, adminUser, adminPassword)
	mustRPC(t, s, `<edit-config><target><candidate/></target>`+ikeConfig(`<global-options><retransmit-timeout>2.0</retransmit-timeout></global-options>`)+`</edit-config>`)
	mustRPC(t, s, `<commit/>`)
	for _, empty := range []string{`<global-options xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="replace"></global-options>`,
		`<global-options xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="replace"/>`} {
		mustRPC(t, s, `<edit-config><target><candidate/></target>`+ikeConfig(`<global-options><retransmit-timeout>2.0</retransmit-timeout></global-options>`)+`</edit-config>`)
		mustRPC(t, s, `<commit/>`)
		mustRPC(t, s, `<edit-config><target><candidate/></target>`+ikeConfig(empty)+`</edit-config>`)
		mustRPC(t, s, `<commit/>`)
		if data := mustRPC(t, s, `<get-config><source><running/></source></get-config>`); strings.Contains(data, "retransmit-timeout") {
			t.Fatalf("after %s, running still has retransmit-timeout:\n%s", empty, data)
		}
	}
}
