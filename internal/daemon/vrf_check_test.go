package daemon

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/datastore"
	"secgw/internal/schema"
)

// missingVRFs starts the vrfs of a daemon with dataplane dp on running,
// in a namespace directory where no vrf's namespace exists.
func missingVRFs(t *testing.T, dp string, running *generated.Device) *vrfs {
	t.Helper()
	d := &Daemon{cfg: Config{Dataplane: dp, Logger: slog.New(slog.DiscardHandler)}}
	v := newVRFs(d, t.TempDir())
	v.start(running)
	t.Cleanup(v.close)
	return v
}

// commitTo commits the edit of dev through v as the datastore would
// (prepare, then apply or, on a refusal, abort) and returns the new
// configuration (dev when refused) and the refusal.
func commitTo(t *testing.T, s *schema.Schema, v *vrfs, dev *generated.Device, id uint64, edit func(*generated.Device)) (*generated.Device, error) {
	t.Helper()
	next := datastore.Clone(dev)
	edit(next)
	tx := &datastore.Tx{ID: id, Old: dev, New: next, Changes: datastore.Diff(s, dev, next)}
	if err := v.Prepare(tx); err != nil {
		v.Abort(tx)
		return dev, err
	}
	if err := v.Apply(tx); err != nil {
		t.Fatal(err)
	}
	return next, nil
}

// TestVRFMissingAcceptsWhatItsInstanceRuns: with the userspace dataplane,
// a vrf's instance carries ESP over TCP (listen-tcp, transport tcp). A
// running configuration with them in vrf cust, whose namespace is
// missing, does not make the next commits fail, neither in vrf main nor
// in cust; a vrf added by a commit with listen-tcp is accepted too. What
// the instance refuses (svti-id-out: no XFRM interfaces) is still
// refused, naming the vrf.
func TestVRFMissingAcceptsWhatItsInstanceRuns(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	dev := &generated.Device{}
	vpn := func(vrf, name string) []string {
		p := "/ vrf " + vrf + " ike vpn " + name
		return []string{p + " remote-address 192.0.2.7", p + " local-id a.example", p + " remote-id b.example",
			p + " ike-policy transport tcp", p + " security-policy sp local-ts subnet 10.1.0.0/16",
			p + " security-policy sp remote-ts subnet 10.2.0.0/16"}
	}
	configtest.Apply(t, s, dev, append(vpn("cust", "v1"), "/ vrf cust ike global-options listen-tcp true")...)
	v := missingVRFs(t, DataplaneUserspace, dev)
	if st := v.serviceErr("cust"); !strings.Contains(st, "missing") {
		t.Fatalf("vrf cust without its namespace: %s", st)
	}
	id := uint64(1)
	for _, c := range []struct {
		what  string
		lines []string
	}{
		{"a VPN in vrf main", vpn("main", "m1")},
		{"a VPN over TCP in vrf cust", vpn("cust", "v2")},
		{"vrf new with listen-tcp", append(vpn("new", "n1"), "/ vrf new ike global-options listen-tcp true")},
	} {
		var err error
		dev, err = commitTo(t, s, v, dev, id, func(d *generated.Device) { configtest.Apply(t, s, d, c.lines...) })
		if err != nil {
			t.Errorf("commit of %s refused: %v", c.what, err)
		}
		id++
	}
	_, err = commitTo(t, s, v, dev, id, func(d *generated.Device) {
		configtest.Apply(t, s, d, "/ vrf cust ike vpn v1 security-policy sp svti-id-out 100")
	})
	if err == nil || !strings.Contains(err.Error(), "vrf cust") || !strings.Contains(err.Error(), "svti-id") {
		t.Errorf("svti-id-out in vrf cust without its namespace: %v, want a refusal naming the vrf", err)
	}
}

// serviceErr is the error of vrfs.service for name, "" without one.
func (v *vrfs) serviceErr(name string) string {
	if _, err := v.service(name); err != nil {
		return err.Error()
	}
	return ""
}

// TestVRFMissingCheckFollowsTheChange counts the work, not the time, of
// the commits of one VPN while vrf cust, which holds n VPNs, has no
// namespace: a commit in vrf main does not check cust at all, and one in
// cust (a VPN added, changed, removed) resolves that VPN only, whether
// cust holds 10 VPNs or 10,000. Checking cust's whole configuration at
// each commit, as a throwaway dry run does, fails it.
func TestVRFMissingCheckFollowsTheChange(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	work := map[int][2]uint64{}
	for _, n := range []int{10, 10000} {
		dev := configtest.Concentrator(t, s, n)
		cust := dev.Vrf["main"]
		cust.Name = ptrTo("cust")
		dev.Vrf = map[string]*generated.SecgwVrf_Vrf{"cust": cust}
		v := missingVRFs(t, DataplaneFake, dev)
		before, checksBefore := v.checkWork(t, "cust"), v.checkCount()
		id := uint64(1)
		commit := func(lines ...string) {
			var err error
			dev, err = commitTo(t, s, v, dev, id, func(d *generated.Device) { configtest.Apply(t, s, d, lines...) })
			if err != nil {
				t.Fatal(err)
			}
			id++
		}
		commit("/ vrf main ike vpn m1 remote-address 192.0.2.9", "/ vrf main ike vpn m1 security-policy sp local-ts subnet 10.8.0.0/16")
		inMain := v.checkWork(t, "cust") - before
		if n := v.checkCount() - checksBefore; n != 0 {
			t.Errorf("a commit in vrf main checked vrf cust %d times", n)
		}
		x := fmt.Sprintf("vpn%05d", n)
		commit("/ vrf cust ike vpn "+x+" remote-address 192.0.2.7", "/ vrf cust ike vpn "+x+" ike-policy template vpnc_ike",
			"/ vrf cust ike vpn "+x+" security-policy extra local-ts subnet 172.30.0.0/24")
		commit("/ vrf cust ike vpn " + x + " remote-id other.example.com")
		var err error
		dev, err = commitTo(t, s, v, dev, id, func(d *generated.Device) { delete(d.Vrf["cust"].Ike.Vpn, x) })
		if err != nil {
			t.Fatal(err)
		}
		work[n] = [2]uint64{inMain, v.checkWork(t, "cust") - before - inMain}
	}
	t.Logf("VPNs resolved by the check of vrf cust (commit in main, three in cust): 10 VPNs %v, 10,000 VPNs %v", work[10], work[10000])
	if w := work[10000]; w[0] != 0 || w[1] > 2 || work[10] != w {
		t.Errorf("the check of a vrf without its namespace resolved %v VPNs with 10,000 VPNs, %v with 10 (want 0 for a commit in main, at most 2 for three one-VPN commits in it)", w, work[10])
	}
}

// checkWork is the VPNs the checks of commits resolved so far.
func (v *vrfs) checkWork(t *testing.T, name string) uint64 {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.checks.svc[name] == nil {
		t.Fatalf("vrf %s has no checker", name)
	}
	return v.checks.resolved
}

// checkCount is the checks made so far.
func (v *vrfs) checkCount() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.checks.checked
}

func ptrTo[T any](x T) *T { return &x }
