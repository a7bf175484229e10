package engine

import (
	"bytes"
	"slices"
	"time"
)

// recordOf builds the HA record of an established IKE SA; sa.w.mu is
// held. The record shares no array with the SA but the child SAs' keys
// and selectors, which never change once the child SA exists.
func (e *Engine) recordOf(sa *ikeSA) *saRecord {
	r := &saRecord{spii: sa.spii, spir: sa.spir, vpn: sa.vpnName(), local: sa.local, remote: sa.remote,
		suite: sa.suite, addKEs: slices.Clone(sa.addKEs), keymat: bytes.Clone(sa.keymat), lastIV: sa.lastIV,
		nextID: sa.nextID, expectID: sa.expectID, ourWindow: sa.ourWindow, peerWindow: sa.peerWindow,
		peerID: sa.peerID, peerAddrs: slices.Clone(sa.peerAddrs), uid: sa.uid,
		established: e.wall(sa.established), lastIn: e.wall(sa.lastIn),
		rekeyAt: e.wall(sa.at[timerIKERekey]), reauthAt: e.wall(sa.at[timerIKEReauth]),
		expireAt: e.wall(sa.at[timerIKEExpire]), dpdAt: e.wall(sa.at[timerDPD])}
	for _, f := range []struct {
		on   bool
		flag uint16
	}{
		{sa.initiator, recInitiator}, {sa.natt, recNATT}, {sa.natLocal, recNATLocal}, {sa.natRemote, recNATRemote},
		{sa.tcp, recTCP}, {sa.ppkUsed, recPPK}, {sa.mobike, recMOBIKE}, {sa.mobikeInitiator, recMOBIKEInitiator},
		{sa.fragOK, recFragOK}, {sa.peerRedirect, recPeerRedirect},
	} {
		if f.on {
			r.flags |= f.flag
		}
	}
	if v := sa.vip; v != nil {
		for _, l := range v.remote {
			r.leases = append(r.leases, VIPLease{Pool: l.Pool, Identity: l.Identity, Addr: l.Addr})
		}
		r.vips, r.vipsOn, r.dns = slices.Clone(v.local), v.installedOn, slices.Clone(v.dns)
	}
	if sa.haveLastResp && len(sa.lastResp) > 0 {
		// Shared, not copied: a cached response is never modified.
		r.flags |= recLastResp
		r.lastRespID, r.lastResp = sa.lastRespID, sa.lastResp
	}
	now := e.wall(e.mono())
	if r.rekeyAt == 0 && sa.plansIKERekey() {
		// The rekey timer fired and the rekey is under way: the node
		// that takes over rekeys at once.
		r.rekeyAt = now
	}
	for _, c := range sa.children {
		cr := childRecord{policy: c.Policy, inSPI: c.InSPI, outSPI: c.OutSPI, esn: c.ESN, mode: c.Mode,
			state: c.state, suite: c.Suite, in: c.In, out: c.Out, localTS: c.LocalTS, remoteTS: c.RemoteTS,
			installed: e.wall(c.installed), rekeyAt: e.wall(c.at[timerChildRekey]),
			expireAt: e.wall(c.at[timerChildExpire]), uid: c.UniqueID}
		if cr.rekeyAt == 0 && c.state == childInstalled && sa.plansChildRekey(c) || c.state == childRekeying {
			cr.rekeyAt = now
		}
		r.children = append(r.children, cr)
	}
	return r
}

// plansIKERekey reports whether a rekey of the IKE SA is outstanding or
// queued.
func (sa *ikeSA) plansIKERekey() bool {
	if _, ok := sa.pendingTask().(*ikeRekeyTask); ok {
		return true
	}
	return slices.ContainsFunc(sa.tasks, func(t task) bool { _, ok := t.(*ikeRekeyTask); return ok })
}

// plansChildRekey reports whether a rekey of child SA c is queued.
func (sa *ikeSA) plansChildRekey(c *childSA) bool {
	return slices.ContainsFunc(sa.tasks, func(t task) bool { x, ok := t.(*childCreateTask); return ok && x.rekey == c })
}

// passiveStates are the operational states of the passive IKE SAs, with
// the state "passive" (secgw-ike-state.yang), the child SAs' too; keys
// as Snapshot says.
func (e *Engine) passiveStates(keys bool) []SAState {
	e.ha.mu.Lock()
	defer e.ha.mu.Unlock()
	if len(e.ha.passive) == 0 {
		return nil
	}
	cfg := e.config()
	at := func(wall int64) time.Time {
		if wall == 0 {
			return time.Time{}
		}
		return time.Unix(0, wall)
	}
	out := make([]SAState, 0, len(e.ha.passive))
	for _, r := range e.ha.passive {
		f := r.flags
		s := SAState{UniqueID: r.uid, VPN: r.vpn, State: "passive", Initiator: r.initiator(), SPIi: r.spii, SPIr: r.spir,
			Local: r.local, Remote: r.remote, RemoteID: r.peerID, Suite: r.suite, AddKEs: slices.Clone(r.addKEs),
			UDPEncap: f&(recNATLocal|recNATRemote) != 0, PPKUsed: f&recPPK != 0, MOBIKE: f&recMOBIKE != 0,
			MOBIKEInitiator: f&recMOBIKEInitiator != 0, Established: at(r.established),
			RekeyAt: at(r.rekeyAt), ReauthAt: at(r.reauthAt), ExpireAt: at(r.expireAt)}
		s.LocalVIPs, s.DNS = slices.Clone(r.vips), slices.Clone(r.dns)
		for _, l := range r.leases {
			s.RemoteVIPs = append(s.RemoteVIPs, l.Addr)
		}
		v := cfg.VPN(r.vpn)
		if v != nil {
			s.LocalID = localIdentity(&ikeSA{local: r.local}, v)
		}
		if keys {
			sa := ikeSA{suite: r.suite, keymat: bytes.Clone(r.keymat)}
			k := sa.keys()
			s.Keys = &k
		}
		for _, c := range r.children {
			cs := ChildState{ChildSA: ChildSA{VPN: r.vpn, Policy: c.policy, UniqueID: c.uid, InSPI: c.inSPI, OutSPI: c.outSPI,
				Encap: s.UDPEncap, ESN: c.esn, Mode: c.mode, IKESPIi: r.spii, IKESPIr: r.spir, Local: r.local, Remote: r.remote,
				Suite: c.suite, LocalTS: c.localTS, RemoteTS: c.remoteTS},
				Installed: at(c.installed), State: "passive", RekeyAt: at(c.rekeyAt), ExpireAt: at(c.expireAt)}
			if v != nil {
				cs.Lifetimes = v.Child
			}
			if keys {
				cs.In = DirKeys{Encr: bytes.Clone(c.in.Encr), Integ: bytes.Clone(c.in.Integ)}
				cs.Out = DirKeys{Encr: bytes.Clone(c.out.Encr), Integ: bytes.Clone(c.out.Integ)}
			}
			s.Children = append(s.Children, cs)
		}
		out = append(out, s)
	}
	return out
}
