package engine

// EventKind is what happened to an SA.
type EventKind uint8

// Event kinds.
const (
	// IKEUp: an IKE SA was established (IKE_AUTH completed).
	IKEUp EventKind = iota + 1
	// IKEDown: an established IKE SA was deleted, by us or by the peer,
	// or expired.
	IKEDown
	// IKEFailed: an IKE SA failed before it was established; Reason
	// says why (a notify received or sent, or no response).
	IKEFailed
	// ChildUp: a child SA was installed in the dataplane.
	ChildUp
	// ChildDown: a child SA was removed.
	ChildDown
)

func (k EventKind) String() string {
	return [...]string{"?", "ike-up", "ike-down", "ike-failed", "child-up", "child-down"}[k]
}

// Event reports a change of an IKE or child SA to Options.Events (the
// daemon turns them into NETCONF notifications and command output).
type Event struct {
	Kind EventKind
	// SA is the unique-id of the IKE SA; Child that of the child SA for
	// the child events.
	SA, Child   uint32
	VPN, Policy string
	// Reason explains IKEFailed; it never holds key material.
	Reason string
}

func (e *Engine) emit(ev Event) {
	if e.o.Events != nil {
		e.o.Events(ev)
	}
}

// emitDown reports the end of sa (and of its child SAs) as it is removed.
func (e *Engine) emitDown(sa *ikeSA) {
	if e.o.Events == nil {
		return
	}
	vpn := ""
	if sa.vpn != nil {
		vpn = sa.vpn.Name
	}
	for _, c := range sa.children {
		e.emit(Event{Kind: ChildDown, SA: sa.uid, Child: c.UniqueID, VPN: c.VPN, Policy: c.Policy})
	}
	if !sa.established.IsZero() {
		e.emit(Event{Kind: IKEDown, SA: sa.uid, VPN: vpn})
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
