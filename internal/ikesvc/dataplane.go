package ikesvc

import (
	"errors"
	"time"

	"secgw/internal/dataplane"
	"secgw/internal/ike/engine"
)

// DataplaneEvent hands an event of the dataplane to the engine (the
// daemon calls it for each event of its dataplane's Events channel):
//
//   - an acquire (traffic matched a trap policy) starts the negotiation
//     of the security policy whose trap holds the packet, at most once
//     per acquire-timeout;
//   - a soft expiry (a rekey-bytes or rekey-packets limit, or a time
//     limit) rekeys the child SA;
//   - a hard expiry (life-*) means the SA is gone: the child SA is
//     deleted with the peer;
//   - ESP with an unknown SPI is answered with INVALID_SPI under
//     respond-bad-spi.
//
// Sequence number overflows are hard expiries of the outbound SA (RFC
// 4303 §3.3.3: it must not send any more). It returns the engine's
// error, engine.ErrNoSA for an SA it does not know (one it already
// replaced).
func (s *Service) DataplaneEvent(ev dataplane.Event) error {
	switch ev.Kind {
	case dataplane.Acquire:
		p := engine.Packet{Src: ev.Sel.Src.Addr(), Dst: ev.Sel.Dst.Addr(), Proto: ev.Sel.Proto,
			SrcPort: ev.Sel.SrcPort, DstPort: ev.Sel.DstPort}
		return s.eng.Acquire("", p)
	case dataplane.SoftExpire:
		return s.eng.ExpireSA(ev.SA.Dst, ev.SA.SPI, false)
	case dataplane.HardExpire, dataplane.SeqOverflow:
		return s.eng.ExpireSA(ev.SA.Dst, ev.SA.SPI, true)
	case dataplane.UnknownSPI:
		// respond-bad-spi: INVALID_SPI over the IKE SA with the
		// packet's source, if any (engine.UnknownSPI).
		s.eng.UnknownSPI(ev.SA.Dst, ev.Src, ev.SA.SPI)
		return nil
	}
	return errors.New("ike: unknown dataplane event " + ev.Kind.String())
}

// activityDataplane adds Options.Activity to the daemon's dataplane.
type activityDataplane struct {
	engine.Dataplane
	activity func(c engine.ChildSA) (in, out time.Time)
}

// LastActivity implements engine.Activity.
func (d activityDataplane) LastActivity(c engine.ChildSA) (in, out time.Time) { return d.activity(c) }

// InstallChildren implements engine.BatchDataplane: passed through in
// one batch when the daemon's dataplane batches.
func (d activityDataplane) InstallChildren(cs []engine.ChildSA) []error {
	return engine.InstallChildren(d.Dataplane, cs)
}

// DeleteChildren implements engine.BatchDataplane as InstallChildren.
func (d activityDataplane) DeleteChildren(cs []engine.ChildSA) []error {
	return engine.DeleteChildren(d.Dataplane, cs)
}

// MoveChild implements engine.ChildMover over the daemon's dataplane:
// passed through when it can move child SAs (MOBIKE), else the child SA
// is reinstalled at its new addresses.
func (d activityDataplane) MoveChild(old, moved engine.ChildSA) error {
	if m, ok := d.Dataplane.(engine.ChildMover); ok {
		return m.MoveChild(old, moved)
	}
	if err := d.Dataplane.DeleteChild(old); err != nil {
		return err
	}
	return d.Dataplane.InstallChild(moved)
}

// trapActivityDataplane is activityDataplane over a dataplane that
// installs trap policies: it passes them through. Only such a dataplane
// gets the trap methods, so that the engine sees that the others cannot
// (and says so once, not once per security policy).
type trapActivityDataplane struct {
	activityDataplane
	traps engine.TrapDataplane
}

// InstallTrap implements engine.TrapDataplane.
func (d trapActivityDataplane) InstallTrap(t engine.Trap) error { return d.traps.InstallTrap(t) }

// RemoveTrap implements engine.TrapDataplane.
func (d trapActivityDataplane) RemoveTrap(t engine.Trap) error { return d.traps.RemoveTrap(t) }

// withActivity wraps dp with the activity function, keeping its trap
// methods if it has them.
func withActivity(dp engine.Dataplane, activity func(c engine.ChildSA) (in, out time.Time)) engine.Dataplane {
	a := activityDataplane{Dataplane: dp, activity: activity}
	if td, ok := dp.(engine.TrapDataplane); ok {
		return trapActivityDataplane{activityDataplane: a, traps: td}
	}
	return a
}
