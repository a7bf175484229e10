package engine

import (
	"net/netip"

	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// reauth reauthenticates an IKE SA (RFC 7296 §2.8.3): a new IKE SA with
// IKE_SA_INIT and IKE_AUTH, child SAs for the same security policies, and
// the old IKE SA deleted with its child SAs. The order is global-options
// make-before-break (the vsr guide, "Manually rekeying SAs"):
//
//   - true: the new IKE and child SAs are negotiated and installed first,
//     then the old IKE SA is deleted; traffic never waits;
//   - false: the old IKE SA is deleted first, then the new one is set up.
//
// The new IKE SA goes where the VPN says (remote-address), or, for a
// responder-only VPN, back to where the peer is.
func (e *Engine) reauth(sa *ikeSA) error {
	if sa.state != stateEstablished || sa.closing || sa.successor != nil {
		return ErrNoSA
	}
	cfg := e.config()
	v := cfg.VPN(sa.vpn.Name)
	if v == nil {
		return ErrUnknownVPN
	}
	policies := sa.policiesOf()
	local, remote, natt := e.reauthEndpoints(sa, v)
	if cfg.Global.MakeBeforeBreak {
		// The new IKE SA has the same peer, hence the same worker, but
		// for a VPN whose remote-address changed meanwhile.
		old := sa.id
		e.onPeer(sa.w, remote.Addr(), func(w *worker) {
			n := e.startIKE(w, v, local, remote, natt, policies, nil)
			n.replaces = old
			n.log().Info("reauthenticating: make-before-break", "old-spi", spiString(old))
		})
		return nil
	}
	sa.log().Info("reauthenticating: break-before-make")
	sa.reestablish = &reestablish{v: v, local: local, remote: remote, natt: natt, policies: policies}
	sa.closing = true
	sa.queueFirst(&deleteTask{ike: true})
	sa.startNext()
	return nil
}

func (e *Engine) reauthEndpoints(sa *ikeSA, v *config.VPN) (local, remote netip.AddrPort, natt bool) {
	if v.Initiator() {
		local, remote = e.endpoints(v)
		return local, remote, false
	}
	return sa.local, sa.remote, sa.natt
}

// reestablish is the IKE SA to set up once an IKE SA is gone
// (break-before-make reauthentication).
type reestablish struct {
	v             *config.VPN
	local, remote netip.AddrPort
	natt          bool
	policies      []config.SecurityPolicy
	// from is the gateway that redirected us here (redirect.go), or zero.
	from wire.Gateway
}

// childrenDone is called when an IKE SA has set up the child SAs it was
// created for: if it reauthenticates another (make-before-break), that
// one is deleted now.
func (sa *ikeSA) childrenDone() {
	if sa.pendingChildren > 0 || sa.replaces == 0 {
		return
	}
	old := sa.w.e.set.Load().table.get(sa.replaces)
	sa.replaces = 0
	if old == nil {
		return
	}
	del := func() {
		if old.state != stateEstablished || old.closing {
			return
		}
		old.log().Info("reauthenticated: deleting the old IKE SA", "new", sa.uid)
		old.closing = true
		old.queueFirst(&deleteTask{ike: true})
		old.startNext()
	}
	if old.w == sa.w {
		del()
		return
	}
	sa.w.later = append(sa.w.later, func() {
		w, live := sa.w.e.lockSA(old)
		defer w.unlock()
		if live {
			del()
		}
	})
}
