package ikesvc

import (
	"slices"
	"testing"
	"time"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
)

// noTraps is a dataplane without trap policies (as the kernel and
// userspace dataplanes are).
type noTraps struct{ engine.Dataplane }

// TestWithActivity checks that the activity wrapper offers the trap
// methods only when the dataplane under it has them: the engine then
// sees that it cannot install traps (and warns once) instead of getting
// an error for every security policy.
func TestWithActivity(t *testing.T) {
	activity := func(engine.ChildSA) (in, out time.Time) { return time.Unix(1, 0), time.Unix(2, 0) }
	plain := withActivity(noTraps{enginetest.NewDataplane()}, activity)
	if _, ok := plain.(engine.TrapDataplane); ok {
		t.Error("a dataplane without traps got trap methods")
	}
	if in, out := plain.(engine.Activity).LastActivity(engine.ChildSA{}); in != time.Unix(1, 0) || out != time.Unix(2, 0) {
		t.Errorf("LastActivity = %v, %v", in, out)
	}
	rec := enginetest.NewDataplane()
	trapping := withActivity(rec, activity)
	td, ok := trapping.(engine.TrapDataplane)
	if !ok {
		t.Fatal("a dataplane with traps lost them")
	}
	if err := td.InstallTrap(engine.Trap{Policy: "p"}); err != nil {
		t.Fatal(err)
	}
	if err := td.RemoveTrap(engine.Trap{Policy: "p"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Log, []string{"trap p", "untrap p"}) {
		t.Errorf("the traps did not reach the dataplane: %q", rec.Log)
	}
	if _, ok := trapping.(engine.Activity); !ok {
		t.Error("the trap wrapper lost LastActivity")
	}
}
