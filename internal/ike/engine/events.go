package engine

// EventKind is what happened to an SA. Its String method
// (eventkind_string.go) returns the event name of the sa-event
// notification and of the log, e.g. "child-up".
type EventKind uint8

//go:generate go tool stringer -type=EventKind -linecomment

// Event kinds.
const (
	// noEvent is the zero EventKind, no event.
	noEvent EventKind = iota // ?
	// IKEUp: an IKE SA was established (IKE_AUTH completed).
	IKEUp // ike-up
	// IKEDown: an established IKE SA was deleted, by us or by the peer,
	// or expired.
	IKEDown // ike-down
	// IKEFailed: an IKE SA failed before it was established; Reason
	// says why (a notify received or sent, or no response).
	IKEFailed // ike-failed
	// ChildUp: a child SA was installed in the dataplane.
	ChildUp // child-up
	// ChildDown: a child SA was removed.
	ChildDown // child-down
	// IKERekeyed: a rekey (RFC 7296 §2.18) replaced the IKE SA Old by
	// SA, which inherits its child SAs. No IKEUp/IKEDown pair is
	// reported for a rekey.
	IKERekeyed // ike-rekeyed
	// ChildRekeyed: a rekey (RFC 7296 §1.3.3) replaced the child SA Old
	// by Child. No ChildUp/ChildDown pair is reported for a rekey.
	ChildRekeyed // child-rekeyed
	// ChildFailed: a child SA of Policy was not set up on an IKE SA that
	// stays up (RFC 7296 §2.21.3); Reason says why.
	ChildFailed // child-failed
)

// Event reports a change of an IKE or child SA to Options.Events (the
// daemon turns them into NETCONF notifications and command output).
type Event struct {
	Kind EventKind
	// SA is the unique-id of the IKE SA; Child that of the child SA for
	// the child events.
	SA, Child uint32
	// Old is the unique-id of the SA a rekey replaced.
	Old         uint32
	VPN, Policy string
	// Reason explains IKEFailed, IKEDown and ChildFailed; it never holds
	// key material.
	Reason string
}

func (e *Engine) emit(ev Event) {
	if e.o.Events != nil {
		e.o.Events(ev)
	}
}

// emitDown reports the end of sa (and of its child SAs) as it is removed.
func (e *Engine) emitDown(sa *ikeSA) {
	if e.o.Events == nil || sa.redirected {
		return // a redirected IKE SA lives on at the new gateway (redirect.go)
	}
	vpn := ""
	if sa.vpn != nil {
		vpn = sa.vpn.Name
	}
	for _, c := range sa.children {
		if !c.replaced {
			e.emit(Event{Kind: ChildDown, SA: sa.uid, Child: c.UniqueID, VPN: vpn, Policy: c.Policy})
		}
	}
	if sa.successor != nil {
		return // replaced by a rekey: IKERekeyed said so
	}
	if sa.established != 0 {
		e.emit(Event{Kind: IKEDown, SA: sa.uid, VPN: vpn, Reason: sa.failure})
		return
	}
	reason := sa.failure
	if reason == "" && sa.lastError != 0 {
		reason = sa.lastError.String()
	}
	if reason == "" {
		reason = "deleted before it was established"
	}
	e.emit(Event{Kind: IKEFailed, SA: sa.uid, VPN: vpn, Reason: reason})
}
