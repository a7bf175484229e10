package engine

import (
	"net/netip"
	"strings"
	"sync"

	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// Uniqueness of IKE SAs per peer identity: INITIAL_CONTACT (RFC 7296
// §2.4, §3.10.1) and unique-sa, whose semantics are strongSwan's
// uniqueids (charon's ike_sa_manager check_uniqueness).
//
// RFC 7296 §2.4: "The INITIAL_CONTACT notification asserts that this IKE
// SA is the only IKE SA currently active between the authenticated
// identities. It MAY be sent when an IKE SA is established after a
// crash, and the recipient MAY use this information to delete any other
// IKE SAs it has to the same authenticated identity without waiting for
// a timeout. [...] The INITIAL_CONTACT notification, if sent, MUST be in
// the first IKE_AUTH request or response, not as a separate exchange
// afterwards; receiving parties MAY ignore it in other messages."
//
// Sending. Our IKE_AUTH request carries N(INITIAL_CONTACT) unless the
// VPN's unique-sa is never (an identity that may be replicated, §2.4:
// "MUST NOT be sent by an entity that may be replicated"), or we already
// have an established IKE SA (not yet removed, whatever its state of
// deletion) that is
//
//   - of the same VPN, or
//   - with our local identity and the VPN's remote-id as the peer's
//     proven identity, or, when the VPN has no remote-id (the peer's
//     identity is unknown before IKE_AUTH), with our local identity and
//     the VPN's peer address.
//
// So a freshly started gateway asserts it, and the new IKE SA of a
// make-before-break reauthentication (the old one is still up) does not;
// that of a break-before-make reauthentication does (the old one is
// gone, on both sides). Our IKE_AUTH response never carries it: the
// responder learns the initiator's identity in the request, after which
// nothing is left to assert that the initiator cannot see by itself.
//
// Receiving, in an IKE_AUTH request (responder) or in the IKE_AUTH
// response (initiator), once the peer is authenticated: unless the VPN's
// unique-sa is never, every other IKE SA with the same pair of
// identities (ours, the peer's), of whatever VPN, is removed at once
// with its child SAs, without an INFORMATIONAL exchange: the peer just
// told us it holds no other IKE SA with us (it restarted), so a DELETE
// on them would only be retransmitted to nobody until it timed out.
// Neither close-action nor dpd-action applies to them: the new IKE SA
// carries the tunnel.
//
// unique-sa, for IKE SAs of the same VPN with the same pair of
// identities (and no INITIAL_CONTACT, which decides first, as in charon):
//
//   - no: nothing more;
//   - never: nothing, and INITIAL_CONTACT neither sent nor acted on;
//   - keep: a new IKE SA from another peer address than the existing
//     one's is refused. As responder, the IKE_AUTH response is
//     AUTHENTICATION_FAILED and the IKE SA is not created (RFC 7296
//     §2.21.2: the one notify that ends an IKE_AUTH; charon answers the
//     same); as initiator, the new IKE SA is deleted with an
//     INFORMATIONAL exchange once established. From the same address it
//     is taken for the peer's reauthentication (§2.8.3) and allowed,
//     as charon does;
//   - replace: once the new IKE SA is established the existing ones are
//     deleted with an INFORMATIONAL exchange (D(IKE), RFC 7296 §1.4.1):
//     the peer may still hold and use them (a second device with the
//     same credentials, or its own make-before-break reauthentication).
//
// The IKE SAs of a peer identity may live on several workers (the peer
// may come from several addresses): the index below has its own lock, a
// leaf, and what is done to an IKE SA of another worker is queued
// (worker.later) and done under that worker's lock.

// contactIndex finds the established IKE SAs by their pair of identities,
// by VPN and by our identity with the peer's address. Its lock is a
// leaf: taken with a worker lock held or not, never held while taking
// another lock. An entry is only ever read under mu: the IKE SA it
// points to belongs to its worker.
type contactIndex struct {
	mu sync.Mutex
	// byID are the IKE SAs of a pair of identities (identKey).
	byID map[string][]contact
	// count counts the IKE SAs of a VPN (vpnKey) and of our identity
	// with a peer address (addrKey).
	count map[string]int
}

// contact is an IKE SA in the index, with what was known of it when it
// was established.
type contact struct {
	sa     *ikeSA
	vpn    string
	local  string // idKey of our identity
	remote netip.Addr
}

// idKey is the canonical form of an identity: its type and data, FQDN
// and RFC822 names in lower case (config.Identity.Matches compares them
// case-insensitively).
func idKey(id config.Identity) string {
	d := string(id.Data)
	if id.Type == wire.IDFQDN || id.Type == wire.IDRFC822Addr {
		d = strings.ToLower(d)
	}
	return string(rune(id.Type)) + d
}

func identKey(local string, peer config.Identity) string {
	return "i" + local + "\x00" + idKey(peer)
}

func vpnKey(name string) string { return "v" + name }

func addrKey(local string, remote netip.Addr) string {
	return "a" + local + "\x00" + remote.Unmap().String()
}

// add registers an established IKE SA; it is idempotent.
func (x *contactIndex) add(sa *ikeSA) {
	if sa.contactKey != "" || sa.vpn == nil {
		return
	}
	local := idKey(localIdentity(sa, sa.vpn))
	sa.contactKey = identKey(local, sa.peerID)
	c := contact{sa: sa, vpn: sa.vpn.Name, local: local, remote: sa.remote.Addr().Unmap()}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byID == nil {
		x.byID, x.count = map[string][]contact{}, map[string]int{}
	}
	x.byID[sa.contactKey] = append(x.byID[sa.contactKey], c)
	x.count[vpnKey(c.vpn)]++
	x.count[addrKey(c.local, c.remote)]++
}

// drop forgets an IKE SA that goes away; it is idempotent.
func (x *contactIndex) drop(sa *ikeSA) {
	if sa.contactKey == "" {
		return
	}
	key := sa.contactKey
	sa.contactKey = ""
	x.mu.Lock()
	defer x.mu.Unlock()
	cs := x.byID[key]
	for i, c := range cs {
		if c.sa != sa {
			continue
		}
		cs = append(cs[:i:i], cs[i+1:]...)
		if len(cs) == 0 {
			delete(x.byID, key)
		} else {
			x.byID[key] = cs
		}
		for _, k := range []string{vpnKey(c.vpn), addrKey(c.local, c.remote)} {
			if x.count[k]--; x.count[k] <= 0 {
				delete(x.count, k)
			}
		}
		return
	}
}

// others returns the IKE SAs registered under key but sa.
func (x *contactIndex) others(key string, sa *ikeSA) []contact {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []contact
	for _, c := range x.byID[key] {
		if c.sa != sa {
			out = append(out, c)
		}
	}
	return out
}

// hasContact reports whether an established IKE SA exists with the peer
// of VPN v (see the package's rules above), for the initiator's
// INITIAL_CONTACT; sa is the IKE SA being set up.
func (x *contactIndex) hasContact(sa *ikeSA, v *config.VPN) bool {
	local := idKey(localIdentity(sa, v))
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.count[vpnKey(v.Name)] > 0 {
		return true
	}
	if !v.RemoteID.IsZero() {
		return len(x.byID[identKey(local, v.RemoteID)]) > 0
	}
	return x.count[addrKey(local, sa.remote.Addr())] > 0
}

// initialContact returns N(INITIAL_CONTACT) for our IKE_AUTH request
// when we have no other IKE SA with the peer, nothing otherwise (RFC 7296
// §2.4; see above).
func (sa *ikeSA) initialContact() []wire.Payload {
	v := sa.vpn
	if v.Unique == config.UniqueNever || sa.w.e.contacts.hasContact(sa, v) {
		return nil
	}
	sa.log().Debug("first IKE SA with the peer: sending INITIAL_CONTACT")
	return []wire.Payload{wire.NewNotify(wire.NotifyInitialContact, nil)}
}

// uniqueRefuses reports whether unique-sa keep refuses the IKE SA the
// peer is setting up with us as responder, with VPN v and identity peer,
// before it is established; ic tells whether its IKE_AUTH request
// carries INITIAL_CONTACT (which removes the old IKE SAs instead).
func (sa *ikeSA) uniqueRefuses(v *config.VPN, peer config.Identity, ic bool) bool {
	if v.Unique != config.UniqueKeep || ic {
		return false
	}
	key := identKey(idKey(localIdentity(sa, v)), peer)
	for _, c := range sa.w.e.contacts.others(key, sa) {
		if c.vpn == v.Name && c.remote != sa.remote.Addr().Unmap() {
			sa.log().Info("unique-sa keep: refusing a second IKE SA of the peer identity",
				"peer-id", peer.String(), "existing", c.sa.uid, "existing-remote", c.remote)
			return true
		}
	}
	return false
}

// uniqueEstablished applies INITIAL_CONTACT and unique-sa to an IKE SA that
// IKE_AUTH just established (either role; sa.peerID is set), and enters
// it in the index. ic tells whether the peer's IKE_AUTH message carried
// N(INITIAL_CONTACT).
func (sa *ikeSA) uniqueEstablished(ic bool) {
	e := sa.w.e
	e.contacts.add(sa)
	v := sa.vpn
	if v.Unique == config.UniqueNever || (v.Unique == config.UniqueNo && !ic) {
		// unique-sa no without INITIAL_CONTACT touches no other SA: no
		// need to list them (a linear walk of every SA of the identity,
		// which many clients sharing one certificate make long).
		return
	}
	others := e.contacts.others(sa.contactKey, sa)
	// What the closures say of sa, read now: they may run under the
	// lock of another worker.
	uid, peer := sa.uid, sa.peerID.String()
	if ic {
		for _, c := range others {
			sa.onOther(c.sa, false, func(x *ikeSA) {
				x.log().Info("peer sent INITIAL_CONTACT on a new IKE SA: removing this one, which it no longer holds",
					"new", uid, "peer-id", peer)
				x.closing = true
				x.peerDead, x.closedByPeer, x.reestablish = false, false, nil
				e.removeSA(x)
			})
		}
		return
	}
	for _, c := range others {
		if c.vpn != v.Name {
			continue
		}
		switch v.Unique {
		case config.UniqueReplace:
			if c.sa.id == sa.replaces {
				// Our own make-before-break reauthentication deletes
				// it once the new child SAs are up (reauth.go).
				continue
			}
			// After our IKE_AUTH message: the peer hears of the new
			// IKE SA before it is asked to delete the old one.
			sa.onOther(c.sa, true, func(x *ikeSA) {
				if x.state != stateEstablished || x.closing {
					return
				}
				x.log().Info("unique-sa replace: deleting the IKE SA a new one of the peer identity replaces", "new", uid)
				x.closing = true
				x.queueFirst(&deleteTask{ike: true})
				x.startNext()
			})
		case config.UniqueKeep:
			if sa.initiator && c.remote != sa.remote.Addr().Unmap() && !sa.closing {
				sa.log().Info("unique-sa keep: deleting our new IKE SA, one of the peer identity exists", "existing", c.sa.uid)
				sa.closing = true
				sa.queueFirst(&deleteTask{ike: true})
			}
		}
	}
}

// onOther runs f on the IKE SA x, under the lock of x's worker: at once
// when it is sa's (held) and not later, else once sa's worker is
// unlocked (after the message being handled is answered or sent); not if
// x is gone meanwhile.
func (sa *ikeSA) onOther(x *ikeSA, later bool, f func(x *ikeSA)) {
	if x.w == sa.w && !later {
		if x.state != stateDeleted {
			f(x)
		}
		return
	}
	e := sa.w.e
	sa.w.later = append(sa.w.later, func() {
		w, live := e.lockSA(x)
		defer w.unlock()
		if live {
			f(x)
		}
	})
}
