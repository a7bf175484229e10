package engine

import (
	"bytes"
	"io"
	"secgw/internal/ipsec"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

// Additional key exchanges in CREATE_CHILD_SA (RFC 9370 §2.2.4): when the
// proposal accepted for an IKE SA rekey or for a child SA created or
// rekeyed with PFS lists additional key exchanges, the CREATE_CHILD_SA
// exchange carries the first key exchange as usual and the responder adds
// N(ADDITIONAL_KEY_EXCHANGE) with link data; one IKE_FOLLOWUP_KE
// exchange per additional key exchange follows:
//
//	HDR(IKE_FOLLOWUP_KE), SK {KEi(n), N(ADDITIONAL_KEY_EXCHANGE)(link n)}  -->
//	   <--  HDR(IKE_FOLLOWUP_KE), SK {KEr(n), [N(ADDITIONAL_KEY_EXCHANGE)(link n+1)]}
//
// The new SA is created once the last one is done, from all the shared
// secrets in order: SKEYSEED = prf(SK_d (old), g^ir (new) | SK(1) | ... |
// SK(n) | Ni | Nr) for an IKE SA, KEYMAT = prf+(SK_d, g^ir (new) | SK(1) |
// ... | SK(n) | Ni | Nr) for a child SA; both derivations take the
// concatenation where they took g^ir. A responder that does not know the
// link answers STATE_NOT_FOUND.

// linkLen is the length of the link data we send (RFC 9370 §2.2.4 leaves
// its content to the responder).
const linkLen = 8

// followupTask is the initiator's IKE_FOLLOWUP_KE of one additional key
// exchange.
type followupTask struct {
	// groups are the additional key exchanges still to run; groups[0]
	// is this exchange's.
	groups []ipsec.TransformID
	link   []byte
	// secrets is g^ir | SK(1) | ... so far.
	secrets []byte
	ke      ikecrypto.DH
	// done creates the new SA from all the secrets (it clears them);
	// abort gives up on it.
	done  func(sa *ikeSA, secrets []byte) error
	abort func(sa *ikeSA)
}

func (t *followupTask) exchange() wire.ExchangeType { return wire.ExchangeIKEFollowupKE }

func (t *followupTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if sa.state != stateEstablished || sa.successor != nil {
		t.fail(sa)
		return nil, errSkip
	}
	if t.ke == nil {
		ke, err := ikecrypto.NewKE(t.groups[0], sa.w.e.o.Rand)
		if err != nil {
			t.fail(sa)
			return nil, errSkip
		}
		t.ke = ke
	}
	return []wire.Payload{&wire.KE{Group: t.groups[0], Data: t.ke.PublicKey()},
		wire.NewNotify(wire.NotifyAdditionalKeyExchange, t.link)}, nil
}

func (t *followupTask) process(sa *ikeSA, m *wire.Message, ps []wire.Payload) error {
	if n := wire.FirstError(ps); n != nil {
		sa.lastError = n.NotifyType
		sa.log().Info("peer refused the additional key exchange", "notify", n.NotifyType)
		t.fail(sa)
		return nil
	}
	ke := find[*wire.KE](ps, nil)
	if ke == nil || ke.Group != t.groups[0] {
		t.fail(sa)
		return notifyErr(wire.NotifyInvalidSyntax, "IKE_FOLLOWUP_KE response without the KE payload of %s",
			ipsec.TransformName(ipsec.TransformKE, t.groups[0]))
	}
	secret, err := t.ke.SharedSecret(ke.Data)
	if err != nil {
		t.fail(sa)
		return notifyErr(wire.NotifyInvalidSyntax, "bad KE data in IKE_FOLLOWUP_KE: %v", err)
	}
	t.secrets = append(t.secrets, secret...)
	clear(secret)
	sa.log().Debug("additional key exchange done", "method", ipsec.TransformName(ipsec.TransformKE, t.groups[0]), "left", len(t.groups)-1)
	if len(t.groups) == 1 {
		return t.done(sa, t.secrets)
	}
	n := wire.FindNotify(ps, wire.NotifyAdditionalKeyExchange)
	if n == nil || len(n.Data) == 0 {
		t.fail(sa)
		return notifyErr(wire.NotifyInvalidSyntax, "IKE_FOLLOWUP_KE response without ADDITIONAL_KEY_EXCHANGE")
	}
	sa.queueFirst(&followupTask{groups: t.groups[1:], link: bytes.Clone(n.Data), secrets: t.secrets, done: t.done, abort: t.abort})
	return nil
}

func (t *followupTask) fail(sa *ikeSA) {
	clear(t.secrets)
	if t.abort != nil {
		t.abort(sa)
	}
}

// startFollowup queues, first, the IKE_FOLLOWUP_KE exchanges of the
// additional key exchanges groups that the CREATE_CHILD_SA response ps
// asked for (its ADDITIONAL_KEY_EXCHANGE notify), after the first key
// exchange's secret gir (copied). false: the response had no link data.
func (sa *ikeSA) startFollowup(ps []wire.Payload, groups []ipsec.TransformID, gir []byte,
	done func(sa *ikeSA, secrets []byte) error, abort func(sa *ikeSA)) bool {
	n := wire.FindNotify(ps, wire.NotifyAdditionalKeyExchange)
	if n == nil || len(n.Data) == 0 {
		return false
	}
	sa.queueFirst(&followupTask{groups: groups, link: bytes.Clone(n.Data), secrets: bytes.Clone(gir), done: done, abort: abort})
	return true
}

// followupState is the responder's side of a CREATE_CHILD_SA exchange
// waiting for its IKE_FOLLOWUP_KE exchanges. One at a time: a new one
// drops the previous (abort).
type followupState struct {
	link    []byte
	groups  []ipsec.TransformID
	secrets []byte
	// complete creates the new SA from all the secrets and returns what
	// the last response carries besides KEr (an error notify on
	// failure); abort gives up on it.
	complete func(secrets []byte) []wire.Payload
	abort    func()
}

// awaitFollowup records a CREATE_CHILD_SA exchange with additional key
// exchanges to come and returns the ADDITIONAL_KEY_EXCHANGE notify of its
// response; gir is copied.
func (sa *ikeSA) awaitFollowup(groups []ipsec.TransformID, gir []byte, complete func([]byte) []wire.Payload, abort func()) *wire.Notify {
	sa.dropFollowup()
	f := &followupState{link: make([]byte, linkLen), groups: groups, secrets: bytes.Clone(gir), complete: complete, abort: abort}
	io.ReadFull(sa.w.e.o.Rand, f.link)
	sa.followup = f
	return wire.NewNotify(wire.NotifyAdditionalKeyExchange, f.link)
}

// dropFollowup gives up on the pending IKE_FOLLOWUP_KE state, if any.
func (sa *ikeSA) dropFollowup() {
	if f := sa.followup; f != nil {
		sa.followup = nil
		clear(f.secrets)
		if f.abort != nil {
			f.abort()
		}
	}
}

// respondFollowup is the responder's IKE_FOLLOWUP_KE (RFC 9370 §2.2.4).
func (sa *ikeSA) respondFollowup(ps []wire.Payload) []wire.Payload {
	n := wire.FindNotify(ps, wire.NotifyAdditionalKeyExchange)
	f := sa.followup
	if f == nil || n == nil || !bytes.Equal(n.Data, f.link) {
		sa.log().Info("IKE_FOLLOWUP_KE with unknown link data")
		return []wire.Payload{wire.NewNotify(wire.NotifyStateNotFound, nil)}
	}
	group := f.groups[0]
	ke := find[*wire.KE](ps, nil)
	if ke == nil || ke.Group != group || len(ke.Data) != ikecrypto.InitiatorKEDataLen(group) {
		sa.dropFollowup()
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	data, secret, err := ikecrypto.RespondKE(group, ke.Data, sa.w.e.o.Rand)
	if err != nil {
		sa.dropFollowup()
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	f.secrets = append(f.secrets, secret...)
	clear(secret)
	f.groups = f.groups[1:]
	resp := []wire.Payload{&wire.KE{Group: group, Data: data}}
	if len(f.groups) > 0 {
		f.link = make([]byte, linkLen)
		io.ReadFull(sa.w.e.o.Rand, f.link)
		return append(resp, wire.NewNotify(wire.NotifyAdditionalKeyExchange, f.link))
	}
	sa.followup = nil
	extra := f.complete(f.secrets)
	clear(f.secrets)
	if len(extra) > 0 {
		if n, ok := extra[0].(*wire.Notify); ok && n.NotifyType.IsError() {
			return extra
		}
	}
	return append(resp, extra...)
}

// followupQueued reports whether one of our IKE_FOLLOWUP_KE exchanges is
// outstanding or next in the queue.
func (sa *ikeSA) followupQueued() bool {
	if _, ok := sa.pendingTask().(*followupTask); ok {
		return true
	}
	if len(sa.tasks) > 0 {
		_, ok := sa.tasks[0].(*followupTask)
		return ok
	}
	return false
}
