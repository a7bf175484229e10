package gateway

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFlush: `flush ike ike-sa vpn NAME` removes secgwd's IKE SA, its
// child SA and its route at once, even while charon cannot answer (its
// process is stopped): the DELETE goes out once and is not waited for.
// charon, running again, reads that DELETE and drops its SA; nothing
// brings the tunnel back (dpd-action restart, the default, answers a
// peer's failure, not a flush).
func TestFlush(t *testing.T) {
	t.Parallel()
	st := newSetup(t, suiteGCM, policy4)
	// No trap: its route into the TUN would stay after the flush (the
	// trap is start-action's, which a flush leaves as configured).
	st.gw.configure(t, "vpn "+ourVPNName+" ipsec-policy start-action none")
	st.gwInitiate(t, policy4)
	st.checkAgree(t, policy4.name)

	pid := st.ch.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	resume := func() {
		if stopped {
			syscall.Kill(pid, syscall.SIGCONT)
			stopped = false
		}
	}
	t.Cleanup(resume) // before charon's own cleanup stops it
	out := st.gw.mustCLI(t, "", "flush", "ike", "ike-sa", "vpn", ourVPNName)
	if !strings.Contains(out, "deleting IKE_SA "+ourVPNName+"[") {
		t.Errorf("flush ike ike-sa vpn %s printed:\n%s", ourVPNName, out)
	}
	// At once: no eventually, charon has not even read the DELETE.
	gwEmpty := func() string {
		text := st.gw.mustCLI(t, "", "show", "ike", "ike-sa", "details")
		show, err := viewsFromShow(text)
		if err != nil {
			t.Fatalf("gateway: %v\n%s", err, text)
		}
		data := st.gw.rpc(t, getFilter)
		get, err := viewsFromGet(data)
		if err != nil {
			t.Fatalf("gateway: %v\n%s", err, data)
		}
		if len(show) != 0 || len(get) != 0 {
			return "show:\n" + text + "\n<get>:\n" + data
		}
		return ""
	}
	if left := gwEmpty(); left != "" {
		t.Fatalf("secgwd keeps SAs right after the flush:\n%s", left)
	}
	if routes := run(t, "ip", "-n", st.top.gw, "route", "show", "table", "220"); strings.Contains(routes, charonNet4) {
		t.Errorf("secgwd kept its route into the TUN device after the flush:\n%s", routes)
	}

	resume()
	if !eventually(5*time.Second, func() bool { return len(st.ch.listSAs(t)) == 0 }) {
		t.Fatalf("charon keeps its SA after secgwd's flush:\n%v", viewsFromCharon(st.ch.listSAs(t)))
	}
	if log := st.ch.ReadLog(); !strings.Contains(log, "received DELETE for IKE_SA secgw[") {
		t.Errorf("charon logged no Delete of the IKE SA from secgwd:\n%s", tail(log, 20))
	}
	// The DELETE went out once: charon's answer finds no SA, and secgwd
	// neither retransmits nor negotiates again.
	time.Sleep(3 * time.Second)
	if left := gwEmpty(); left != "" {
		t.Fatalf("secgwd has SAs again after the flush:\n%s", left)
	}
	if sas := st.ch.listSAs(t); len(sas) != 0 {
		t.Fatalf("charon has SAs again after the flush:\n%v", viewsFromCharon(sas))
	}
	if n := strings.Count(st.ch.ReadLog(), "received DELETE for IKE_SA"); n != 1 {
		t.Errorf("charon received %d DELETEs of the IKE SA, want 1", n)
	}
}
