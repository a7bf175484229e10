package datastore

import (
	"fmt"

	"secgw/generated"
)

// recoverValid runs at Open when the stored running configuration does
// not validate: a defect let an invalid commit through, or an upgrade made
// the rules stricter. Refusing to start would leave the gateway with no
// tunnel at all and no NETCONF to repair it with, so instead it goes back
// through the commit history to the newest configuration that validates,
// the factory configuration (vrf main alone) when none does, and makes
// that running with a commit of its own, whose comment says what
// happened. The caller reports Recovered loudly.
func (st *Store) recoverValid(cause error) error {
	s := st.opt.Schema
	target, from := (*generated.Device)(nil), uint64(0)
	cur := Clone(st.running)
	id := st.commits
	for i := len(st.history) - 1; i >= 0; i-- {
		r, err := st.withOps(st.history[i])
		if err != nil || r.ID != id {
			break // a gap: older records do not apply to cur
		}
		if err := applyOps(s, s.RootNode(cur), r.Inverse); err != nil {
			break
		}
		id--
		if st.opt.Validator.Validate(cur) == nil {
			target, from = cur, id
			break
		}
	}
	what := fmt.Sprintf("the configuration of commit %d", from)
	if target != nil && from == 0 {
		what = "the factory configuration (that before commit 1)"
	}
	if target == nil {
		target = &generated.Device{}
		target.GetOrCreateVrf("main")
		what = "the factory configuration (no valid configuration in the commit history)"
	}
	changes := Diff(s, st.running, target)
	fwd, _, err := opsFor(s, s.RootNode(st.running), s.RootNode(target), changes)
	if err != nil {
		return fmt.Errorf("datastore: the stored configuration is not valid (%v), and going back to %s failed: %w", cause, what, err)
	}
	st.discardLocked()
	if err := applyOps(s, st.editRoot(), fwd); err != nil {
		st.discardLocked()
		return fmt.Errorf("datastore: the stored configuration is not valid (%v), and going back to %s failed: %w", cause, what, err)
	}
	msg := fmt.Sprintf("the stored configuration of commit %d is not valid (%v): running is %s", st.commits, cause, what)
	if _, err := st.commitLocked("", "restart: "+msg, 0, false); err != nil {
		st.discardLocked()
		return fmt.Errorf("datastore: %s, which cannot be committed: %w", msg, err)
	}
	st.recovered = msg
	return nil
}

// Recovered says, when Open found the stored configuration invalid, what
// it did instead (see recoverValid); "" otherwise. The daemon logs it as
// an error: an operator must look at it.
func (st *Store) Recovered() string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.recovered
}
