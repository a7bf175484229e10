package engine

import "secgw/internal/ike/config"

// The IKE SAs of each VPN, per worker: a commit that changes a few VPNs
// visits their SAs only (update.go), whatever the number of SAs of the
// others. An SA is in the list of its VPN's name from the moment it is
// added to its worker until it is dropped; a responder SA before
// IKE_AUTH picked its VPN is in the list of "", where the commit finds
// the candidates to refresh. Everything here runs with w.mu held.

// link puts sa at the head of the list of its VPN.
func (w *worker) link(sa *ikeSA) {
	sa.vkey = ""
	if sa.vpn != nil {
		sa.vkey = sa.vpn.Name
	}
	sa.vprev, sa.vnext = nil, w.byVPN[sa.vkey]
	if sa.vnext != nil {
		sa.vnext.vprev = sa
	}
	w.byVPN[sa.vkey] = sa
}

// unlink takes sa off the list of its VPN.
func (w *worker) unlink(sa *ikeSA) {
	switch {
	case sa.vprev != nil:
		sa.vprev.vnext = sa.vnext
	case w.byVPN[sa.vkey] == sa:
		if sa.vnext == nil {
			delete(w.byVPN, sa.vkey)
		} else {
			w.byVPN[sa.vkey] = sa.vnext
		}
	default:
		return // not linked
	}
	if sa.vnext != nil {
		sa.vnext.vprev = sa.vprev
	}
	sa.vprev, sa.vnext = nil, nil
}

// setVPN makes v the VPN of sa, moving it to v's list when the name
// differs.
func (w *worker) setVPN(sa *ikeSA, v *config.VPN) {
	sa.vpn = v
	if v != nil && v.Name == sa.vkey {
		return
	}
	w.unlink(sa)
	w.link(sa)
}

// vpnSAs returns the IKE SAs of the VPN called name ("": the responder
// SAs without a VPN yet), as a slice: the caller may remove them.
func (w *worker) vpnSAs(name string) []*ikeSA {
	var out []*ikeSA
	for sa := w.byVPN[name]; sa != nil; sa = sa.vnext {
		out = append(out, sa)
	}
	return out
}
