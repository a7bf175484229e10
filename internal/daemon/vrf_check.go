package daemon

import (
	"fmt"
	"net/netip"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/dataplane/userspace"
	"secgw/internal/datastore"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ikesvc"
)

// A configured vrf that runs no instance yet (added by the commit, or
// whose namespace is missing) is checked by a check-only IKE service
// (ikesvc.Options.CheckOnly) built with the options its instance would
// have (open): what the instance would refuse is refused at commit, and
// nothing it would accept is. The checker of a vrf is kept from commit
// to commit, so that a check costs what the commit changed in that vrf;
// a commit that changes nothing in the vrf does not ask it at all. The
// vrf's instance replaces it once the namespace is there.

// errDryRun is what a checker's InVRF answers: it opens no socket.
var errDryRun = fmt.Errorf("daemon: a vrf without its namespace opens no socket")

// vrfChecks are the checkers of the vrfs without an instance. Guarded
// by vrfs.mu.
type vrfChecks struct {
	svc map[string]*ikesvc.Service
	// prepared are the checkers that prepared the current transaction
	// (until the next Prepare: an Abort may follow the Apply).
	prepared []*ikesvc.Service
	// checked counts the checks of commits, resolved the VPNs they
	// resolved (tests count the work).
	checked, resolved uint64
}

// newChecker builds the checker of vrf name, with the options of its
// instance as open gives them.
func (v *vrfs) newChecker(name string) *ikesvc.Service {
	var us *userspace.Dataplane // SupportsESP reads no instance
	var supportsESP func(ikecrypto.Suite) bool
	kind, tcp := DataplaneUserspace, true
	switch {
	case v.d.cfg.Dataplane == DataplaneFake:
		kind, tcp = DataplaneFake, false
	case v.d.kernel:
		// The vrf's instance runs the kernel dataplane: XFRM interfaces,
		// no TCP encapsulation (no espintcp).
		kind, tcp = DataplaneKernel, false
	default:
		supportsESP = us.SupportsESP
	}
	// No logger: the checker's warnings (a VPN's, at each start of a
	// checker) are the instance's to log when it runs the VPNs.
	return ikesvc.New(ikesvc.Options{VRF: name, DataplaneKind: kind, SupportsESP: supportsESP,
		NoIfID:    kind != DataplaneKernel,
		Dataplane: childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dataplane.NewFake()}),
		InVRF:     func(func() error) error { return errDryRun }, HostAddrs: func() []netip.Addr { return nil },
		OtherVRFsRun: true, TCPStreams: tcp, CheckOnly: true})
}

// checker is the checker of vrf name, made when missing.
func (v *vrfs) checker(name string) *ikesvc.Service {
	if v.checks.svc == nil {
		v.checks.svc = map[string]*ikesvc.Service{}
	}
	s := v.checks.svc[name]
	if s == nil {
		s = v.newChecker(name)
		v.checks.svc[name] = s
	}
	return s
}

// changesVRF says whether tx changed anything under vrf name (a
// transaction without its changes changed everything).
func changesVRF(name string, tx *datastore.Tx) bool {
	if tx.Changes == nil {
		return true
	}
	for _, c := range tx.Changes {
		if len(c.Path) == 0 || c.Path[0].Name == "vrf" && c.Path[0].Key == name {
			return true
		}
	}
	return false
}

// prepareCheck checks tx in vrf name, which runs no instance, if tx
// changed it.
func (v *vrfs) prepareCheck(name string, tx *datastore.Tx) error {
	if !changesVRF(name, tx) {
		return nil
	}
	s := v.checker(name)
	v.checks.checked++
	before := s.CommitWork().VPNsResolved
	err := s.Prepare(tx)
	v.checks.resolved += s.CommitWork().VPNsResolved - before
	if err != nil {
		return fmt.Errorf("vrf %s: %w", name, err)
	}
	v.checks.prepared = append(v.checks.prepared, s)
	return nil
}

// applyChecks makes tx the base of the next checks.
func (v *vrfs) applyChecks(tx *datastore.Tx) {
	for _, s := range v.checks.prepared {
		_ = s.Apply(tx) // a checker's Apply fails only without its Prepare
	}
}

// abortChecks forgets tx's checks.
func (v *vrfs) abortChecks(tx *datastore.Tx) {
	for _, s := range v.checks.prepared {
		s.Abort(tx)
	}
	v.checks.prepared = nil
}

// syncChecks keeps a checker for each wanted vrf without an instance,
// started on the running configuration when it is new (the one full
// check, at the poll or the commit that made the vrf lose its
// instance), and closes the others.
func (v *vrfs) syncChecks(want map[string]bool) {
	for name, s := range v.checks.svc {
		if !want[name] || v.inst[name] != nil {
			_ = s.Close()
			delete(v.checks.svc, name)
		}
	}
	for name := range want {
		if v.inst[name] != nil || v.checks.svc[name] != nil {
			continue
		}
		if err := v.checker(name).Start(v.running); err != nil {
			// Its next commit is checked in full: the checker is not
			// started.
			v.log.Warn("vrf: the running configuration does not pass the check of its instance", "vrf", name, "err", err)
		}
	}
}
