package engine

// The operator's commands (cmd ike initiate / rekey / reauth, flush ike):
// the daemon's RPCs select SAs by VPN, security policy or unique-id from
// Snapshot and call these per SA. Each locks the worker of the SA it acts
// on; finding an SA by unique-id visits the workers one at a time.

// InitiateChildless starts an IKE SA of the VPN without child SA (RFC
// 6023; "cmd ike initiate ike-sa vpn NAME") and returns its unique-id.
func (e *Engine) InitiateChildless(vpn string) (uint32, error) {
	v := e.config().VPN(vpn)
	if v == nil || !v.Initiator() {
		return 0, ErrUnknownVPN
	}
	if e.standby() {
		return 0, ErrStandby
	}
	return e.initiateOn(v, nil), nil
}

// InitiateChild sets up a child SA of the security policy ("cmd ike
// initiate child-sa security-policy NAME"): with CREATE_CHILD_SA on an
// IKE SA of its VPN that is up or being set up, else with a new IKE SA
// (RFC 7296 §1.3.1). It returns the unique-id of the IKE SA used. When
// a child SA of the policy exists or is being set up, nothing more is
// done.
func (e *Engine) InitiateChild(policy string) (uint32, error) {
	v, pol := e.config().PolicyVPN(policy)
	if v == nil {
		return 0, ErrUnknownPolicy
	}
	if e.standby() {
		return 0, ErrStandby
	}
	var uid uint32
	var err error
	e.onVPN(v, func(ws []*worker) { uid, err = e.initiateChild(ws, v, *pol, nil) })
	return uid, err
}

// RekeyIKE rekeys the IKE SA with the given unique-id (RFC 7296 §2.18):
// a new IKE SA inherits its child SAs.
func (e *Engine) RekeyIKE(uid uint32) error {
	sa, w := e.byUID(uid)
	if sa == nil {
		return ErrNoSA
	}
	defer w.unlock()
	if !sa.rekeyIKE() {
		return ErrNoSA
	}
	return nil
}

// RekeyChild rekeys the child SA with the given unique-id (RFC 7296
// §1.3.3): a new child SA replaces it, then it is deleted.
func (e *Engine) RekeyChild(uid uint32) error {
	sa, c, w := e.childByUID(uid)
	if c == nil {
		return ErrNoSA
	}
	defer w.unlock()
	if !sa.rekeyChild(c) {
		return ErrNoSA
	}
	return nil
}

// Reauth reauthenticates the IKE SA with the given unique-id, in the
// order make-before-break says (see reauth).
func (e *Engine) Reauth(uid uint32) error {
	sa, w := e.byUID(uid)
	if sa == nil {
		return ErrNoSA
	}
	defer w.unlock()
	return e.reauth(sa)
}

// FlushIKE removes the IKE SA with the given unique-id at once ("flush
// ike ike-sa"): its child SAs and their routes leave the dataplane now,
// and the peer is told with one INFORMATIONAL D(IKE) request, sent once
// and never retransmitted nor waited for (best effort: an operator's
// flush does not wait minutes for a peer that may be gone). See flush.
func (e *Engine) FlushIKE(uid uint32) error {
	sa, w := e.byUID(uid)
	if sa == nil {
		return ErrNoSA
	}
	defer w.unlock()
	e.flush(sa)
	return nil
}

// DeleteChildByUID deletes the child SA with the given unique-id with an
// INFORMATIONAL exchange (RFC 7296 §1.4.1).
func (e *Engine) DeleteChildByUID(uid uint32) error {
	sa, c, w := e.childByUID(uid)
	if c == nil {
		return ErrNoSA
	}
	defer w.unlock()
	if sa.state != stateEstablished || c.state == childDeleting {
		return ErrNoSA
	}
	c.state = childDeleting
	sa.queue(&deleteTask{child: c.InSPI})
	sa.startNext()
	return nil
}

// byUID finds an IKE SA by unique-id and locks its worker; the caller
// unlocks w when sa is not nil.
func (e *Engine) byUID(uid uint32) (sa *ikeSA, w *worker) {
	for _, w := range e.set.Load().workers {
		w.mu.Lock()
		w.each(func(x *ikeSA) bool {
			if x.uid == uid {
				sa = x
			}
			return sa == nil
		})
		if sa != nil {
			return sa, w
		}
		w.unlock()
	}
	return nil, nil
}

// PolicyVPN names the VPN of a security policy, or "".
func (e *Engine) PolicyVPN(policy string) string {
	if v, _ := e.config().PolicyVPN(policy); v != nil {
		return v.Name
	}
	return ""
}
