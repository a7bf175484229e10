package engine

import (
	"bytes"
	"net/netip"
	"slices"
	"time"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ipsec"
)

// SAState is the operational state of one IKE SA with its child SAs, as
// the daemon reports it (secgw-ike-state.yang ike-sa). It carries the IKE
// keys only when asked for (Snapshot(true)); they are secrets.
type SAState struct {
	UniqueID   uint32
	VPN        string
	State      string // created, connecting, established, passive (HA standby), rekeying, rekeyed, deleting
	Initiator  bool
	SPIi, SPIr uint64
	// Local and Remote are the current IKE endpoints (port 4500 after
	// NAT-T floating).
	Local, Remote netip.AddrPort
	LocalID       config.Identity
	RemoteID      config.Identity
	// Suite is the negotiated IKE suite; zero before IKE_SA_INIT is done.
	Suite ikecrypto.Suite
	// AddKEs are the additional key exchanges (RFC 9370) that went into
	// the keys after Suite.Group, in order.
	AddKEs []ipsec.TransformID
	// UDPEncap: a NAT was detected, ESP goes in UDP (RFC 3948).
	UDPEncap bool
	// PPKUsed: a PPK went into the keys (RFC 8784), or into those of the
	// IKE SA this one rekeyed.
	PPKUsed bool
	// MOBIKE: both sides announced MOBIKE_SUPPORTED (RFC 4555 §3.3);
	// MOBIKEInitiator: we are the side that moves the SA (the initiator
	// of its first IKE SA, whoever rekeyed it since).
	MOBIKE, MOBIKEInitiator bool
	// LocalVIPs are the virtual IPs the peer gave us, RemoteVIPs those
	// we gave the peer (RFC 7296 §2.19); DNS the DNS servers the peer
	// named with ours.
	LocalVIPs, RemoteVIPs, DNS []netip.Addr

	Established time.Time // zero until IKE_AUTH completes
	// Keys holds SK_ei, SK_er, SK_ai, SK_ar when requested.
	Keys *ikecrypto.IKEKeys
	// RekeyAt, ReauthAt and ExpireAt are when the IKE SA is due to be
	// rekeyed, reauthenticated and deleted (zero: never).
	RekeyAt, ReauthAt, ExpireAt time.Time
	Children                    []ChildState
	// Stats are the SA's counters (requests, retransmissions, child
	// rekeys, liveness checks sent).
	Stats SAStats
}

// ChildState is one child SA of an SAState.
type ChildState struct {
	ChildSA
	Installed time.Time
	// State is installed, rekeying, rekeyed (replaced, waiting for its
	// delete), deleting, or passive (held by the HA standby, not in the
	// dataplane).
	State string
	// RekeyAt and ExpireAt are when the child SA is due to be rekeyed and
	// deleted (zero: never, or no longer).
	RekeyAt, ExpireAt time.Time
}

// Snapshot returns the state of every IKE SA, ordered by unique-id. With
// keys, SAState.Keys and the child keys are filled (copies); without, the
// child SAs' key fields are nil.
//
// The workers are visited one at a time, each locked while its SAs are
// copied.
func (e *Engine) Snapshot(keys bool) []SAState {
	out := make([]SAState, 0, e.set.Load().table.len())
	e.eachSA(func(sa *ikeSA) bool {
		if sa.flushed {
			return true // gone for everyone but the peer (flush.go)
		}
		s := SAState{
			UniqueID: sa.uid, Initiator: sa.initiator, SPIi: sa.spii, SPIr: sa.spir,
			Local: sa.local, Remote: sa.remote, RemoteID: sa.peerID, Suite: sa.suite,
			AddKEs:   slices.Clone(sa.addKEs),
			UDPEncap: sa.natLocal || sa.natRemote, PPKUsed: sa.ppkUsed, MOBIKE: sa.mobike, MOBIKEInitiator: sa.mobikeInitiator, Established: e.timeAt(sa.established),
			RekeyAt: e.timeAt(sa.at[timerIKERekey]), ReauthAt: e.timeAt(sa.at[timerIKEReauth]),
			ExpireAt: e.timeAt(sa.at[timerIKEExpire]), Stats: sa.ops.stats(),
		}
		if sa.vip != nil {
			s.LocalVIPs, s.RemoteVIPs, s.DNS = slices.Clone(sa.vip.local), sa.remoteVIPs(), slices.Clone(sa.vip.dns)
		}
		if sa.vpn != nil {
			s.VPN = sa.vpn.Name
			s.LocalID = localIdentity(sa, sa.vpn)
		}
		switch sa.state {
		case stateInit, stateAuth:
			s.State = "connecting"
			if !sa.initiator {
				s.State = "created"
			}
		case stateEstablished:
			s.State = "established"
			if _, ok := sa.pendingTask().(*ikeRekeyTask); ok {
				s.State = "rekeying"
			}
			switch {
			case sa.successor != nil:
				s.State = "rekeyed"
			case sa.deleting():
				s.State = "deleting"
			}
		default:
			s.State = "deleting"
		}
		if keys && sa.hasKeys() {
			k := sa.keys()
			for _, b := range []*[]byte{&k.SKd, &k.SKai, &k.SKar, &k.SKei, &k.SKer, &k.SKpi, &k.SKpr} {
				*b = bytes.Clone(*b) // the SA clears its own when it goes
			}
			s.Keys = &k
		}
		for _, c := range sa.children {
			cs := ChildState{ChildSA: sa.childSA(c), Installed: e.timeAt(c.installed), State: c.state.String(),
				RekeyAt: e.timeAt(c.at[timerChildRekey]), ExpireAt: e.timeAt(c.at[timerChildExpire])}
			if !keys {
				cs.In, cs.Out = DirKeys{}, DirKeys{}
			}
			s.Children = append(s.Children, cs)
		}
		out = append(out, s)
		return true
	})
	out = append(out, e.passiveStates(keys)...) // HA standby (ha_sa.go)
	slices.SortFunc(out, func(a, b SAState) int { return int(a.UniqueID) - int(b.UniqueID) })
	return out
}

// deleting reports whether a delete of the IKE SA is outstanding.
func (sa *ikeSA) deleting() bool {
	d, ok := sa.pendingTask().(*deleteTask)
	return ok && d.ike
}
