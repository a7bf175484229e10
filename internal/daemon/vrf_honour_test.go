package daemon

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/openconfig/ygot/ygot"

	"secgw/generated"
	"secgw/internal/cliedit"
	"secgw/internal/configtest"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/schema"
	"secgw/internal/support"
)

// referenceIn is the vsr guide's configuration of vrf main moved to vrf
// vrf, without the lines support refuses there (its rows marked
// NonMainVRF, and what it refuses everywhere); it returns the lines
// kept and left out.
func referenceIn(t *testing.T, s *schema.Schema, vrf string) (d *generated.Device, kept, left []string) {
	t.Helper()
	d = &generated.Device{}
	configtest.Apply(t, s, d, "/ vrf main", "/ vrf trusted", "/ vrf "+vrf)
	ed := &cliedit.Editor{S: s}
	checker := support.NewChecker(s)
	for _, l := range configtest.Lines(t, "vsr-config-lines.txt") {
		if !strings.HasPrefix(l, "/ vrf main ") {
			continue
		}
		l = "/ vrf " + vrf + " " + strings.TrimPrefix(l, "/ vrf main ")
		c, err := ygot.DeepCopy(d)
		if err != nil {
			t.Fatal(err)
		}
		try := c.(*generated.Device)
		if _, err := ed.Set(try, nil, cliedit.Fields(l)); err != nil || checker.Present(try) != nil {
			left = append(left, l)
			continue
		}
		d, kept = try, append(kept, l)
	}
	return d, kept, left
}

// TestHonouredInOtherVRF walks the guide's configuration in a vrf other
// than main: every line support lets through there (support.Honoured
// says the leaves under /vrf/ike run in every vrf but the rows of
// support.Refused marked NonMainVRF) is accepted by the IKE instance of
// that vrf, running (its namespace exists) or not (checked until it
// appears). A leaf support lets through and the instance refuses (the
// pools, before the instances had a lease store) fails it.
func TestHonouredInOtherVRF(t *testing.T) {
	netnstest.RequireRoot(t)
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	name := netnstest.Name("vrfopsr", 1)
	ref, kept, left := referenceIn(t, s, name)
	t.Logf("%d lines kept, %d refused in another vrf or everywhere: %q", len(kept), len(left), left)
	if len(kept) < 30 {
		t.Fatalf("only %d of the guide's lines kept in vrf %s: the walk is broken", len(kept), name)
	}
	empty := &generated.Device{}
	take := func(d *generated.Device) { *d = *ref }
	// Not running: the namespace does not exist yet.
	v := missingVRFs(t, DataplaneUserspace, empty)
	if _, err := commitTo(t, s, v, empty, 1, take); err != nil {
		t.Errorf("the guide's configuration in vrf %s without its namespace: %v", name, err)
	}
	// Running: the instance starts on the guide's first line, then
	// takes the rest in a commit.
	netnstest.NewNamed(t, name)
	d := &Daemon{cfg: Config{Dataplane: DataplaneFake, Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}}
	first := &generated.Device{}
	configtest.Apply(t, s, first, "/ vrf main", "/ vrf trusted", kept[0])
	r := newVRFs(d, NetnsDir)
	r.start(first)
	t.Cleanup(r.close)
	if e := r.serviceErr(name); e != "" {
		t.Fatal(e)
	}
	if _, err := commitTo(t, s, r, first, 1, take); err != nil {
		t.Errorf("the guide's configuration in vrf %s: %v", name, err)
	}
	if e := r.serviceErr(name); e != "" {
		t.Errorf("vrf %s does not run after the commit: %s", name, e)
	}
}
