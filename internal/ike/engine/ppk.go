package engine

import (
	"bytes"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// Post-quantum Preshared Keys (RFC 8784). Both sides announce support
// with USE_PPK in IKE_SA_INIT (the initiator when its VPN names a ppk,
// the responder when it has PPKs configured); in IKE_AUTH the initiator
// names its PPK in PPK_IDENTITY and authenticates with SK_pi' (plus
// NO_PPK_AUTH, the AUTH computed with SK_pi, when the PPK is optional);
// the responder answers with an empty PPK_IDENTITY when it used the PPK.
// SK_d', SK_pi' and SK_pr' are prf+(PPK, SK_d/SK_pi/SK_pr) (§3); SK_d'
// replaces SK_d, so that every child SA and every IKE SA rekey derives
// from it. The PPK value is never logged, nor put in an error or event.

// ppkIDFixed is the PPK_ID type of a configured identity: "the format of
// the PPK_ID and the PPK are fixed octet strings" (RFC 8784 §5.1).
const ppkIDFixed = 2

// ppkIdentity is the Notification Data of the initiator's PPK_IDENTITY:
// the PPK_ID type octet, then the identity (RFC 8784 §3, §5.1).
func ppkIdentity(id []byte) []byte {
	return append([]byte{ppkIDFixed}, id...)
}

// parsePPKIdentity returns the identity of an initiator's PPK_IDENTITY;
// false for an empty one or another PPK_ID type, which no configured PPK
// can match (RFC 8784 §5.1: PPK_ID_OPAQUE is not used here).
func parsePPKIdentity(data []byte) ([]byte, bool) {
	if len(data) < 2 || data[0] != ppkIDFixed {
		return nil, false
	}
	return data[1:], true
}

// ppkKeys returns SK_d', SK_pi' and SK_pr' of the SA's keys with the PPK
// (RFC 8784 §3), in a new IKEKeys; the SA's keys are left as they are,
// since the responder may still fall back on NO_PPK_AUTH and the
// initiator learns only from the IKE_AUTH response whether the PPK was
// used. The caller clears the result.
func (sa *ikeSA) ppkKeys(ppk []byte) (*ikecrypto.IKEKeys, error) {
	k := sa.keys()
	p := &ikecrypto.IKEKeys{SKd: bytes.Clone(k.SKd), SKpi: bytes.Clone(k.SKpi), SKpr: bytes.Clone(k.SKpr)}
	if err := p.ApplyPPK(sa.prf(), ppk); err != nil {
		p.Clear()
		return nil, err
	}
	return p, nil
}

// commitPPK replaces the SA's SK_d with SK_d' (RFC 8784 §3: "SK_d' is
// used as SK_d"), in place, marks the SA as using a PPK, and clears p.
// name is the PPK's name in the configuration, for the log.
func (sa *ikeSA) commitPPK(p *ikecrypto.IKEKeys, name string) {
	k := sa.keys()
	copy(k.SKd, p.SKd)
	p.Clear()
	sa.ppkUsed = true
	sa.log().Info("using PPK", "ppk", name)
	sa.log().Keys("IKE SA keys with PPK", "sk_d", k.SKd)
}

// ppkRequired is the failure of an SA whose policy requires a PPK that
// the exchange did not use (require-ppk): AUTHENTICATION_FAILED, with the
// reason in the log and in the IKEFailed event (counted as ppk-required).
func ppkRequired(why string) *NotifyError {
	return notifyErr(wire.NotifyAuthenticationFailed, "PPK required: %s", why)
}

// chosenPPK is the PPK a responder authenticated the peer with: its
// name and the keys it gives (SK_d', SK_pi', SK_pr').
type chosenPPK struct {
	name string
	keys *ikecrypto.IKEKeys
}

// authenticatePeer picks, among the SA's candidate VPNs, the first whose
// identities and IKE proposal match and whose PSK verifies the peer's
// AUTH (RFC 7296 §2.15), with the PPKs of RFC 8784 §3:
//
//   - a peer that named a PPK (PPK_IDENTITY after USE_PPK both ways) is
//     verified with SK_pi' of that PPK when the VPN accepts it: it is
//     configured, and it is the VPN's own when the VPN names one;
//   - otherwise, a VPN with require-ppk is passed over, and the others
//     verify the NO_PPK_AUTH the peer sent with SK_pi (none: the peer's
//     PPK is mandatory and we cannot use it) or, when the peer named no
//     PPK, its AUTH with SK_pi.
//
// so is the peer's signed octets with SK_pi. It returns the VPN and the
// PPK used (nil: none); with no VPN, ppkWhy says why when a PPK was the
// reason, for the log and the failure counters.
func (sa *ikeSA) authenticatePeer(ps []wire.Payload, idi, idr *wire.Identification, auth *wire.Auth, so []byte) (vpn *config.VPN, ppk *chosenPPK, ppkWhy string) {
	var peerID []byte
	peerPPK, idOK := false, false
	if sa.usePPK {
		if n := wire.FindNotify(ps, wire.NotifyPPKIdentity); n != nil {
			peerPPK = true
			peerID, idOK = parsePPKIdentity(n.Data)
		}
	}
	noPPKAuth := wire.FindNotify(ps, wire.NotifyNoPPKAuth)
	cfg := sa.w.e.config()
	prf := sa.prf()
	for _, v := range sa.candidates {
		if !v.RemoteID.IsZero() && !v.RemoteID.Matches(idi) {
			continue
		}
		if idr != nil && !v.LocalID.IsZero() && !v.LocalID.Matches(idr) {
			continue
		}
		if _, ok := proposal.Select(v.IKEProposals, []wire.Proposal{sa.acceptedIKE()}, proposal.Options{IgnoreKE: true, MatchAddKE: true}); !ok {
			continue
		}
		if v.RemoteAuth == config.AuthCert {
			// auth_cert.go; a PPK is refused with certificates at
			// commit.
			if err := sa.verifyPeerAuth(v, ps, idi, auth, so); err != nil {
				sa.cert.why = err
				continue
			}
			return v, nil, ""
		}
		if len(v.PSK) == 0 || auth.Method != wire.AuthSharedKeyMIC {
			continue
		}
		if v.RemoteAAA != config.AAANone {
			// The AAA server authenticates this VPN's peers (eap.go):
			// its pre-shared-key is ours, not a credential for them.
			continue
		}
		var p *config.PPK
		if idOK {
			// The guide: a VPN that names a ppk accepts no other.
			if v.PPK != nil {
				if bytes.Equal(v.PPK.ID, peerID) {
					p = v.PPK
				}
			} else {
				p = cfg.PPKByID(peerID)
			}
		}
		switch {
		case p != nil:
			keys, err := sa.ppkKeys(p.Secret)
			if err != nil {
				continue
			}
			sop := sa.signedOctets(keys.SKpi, sa.initRequest, sa.nr, idi.SignedOctets())
			if ikecrypto.VerifyAuthPSK(prf, v.PSK, sop, auth.Data) {
				return v, &chosenPPK{name: p.Name, keys: keys}, ""
			}
			keys.Clear()
		case v.RequirePPK:
			switch {
			case !sa.usePPK:
				ppkWhy = "the peer did not propose a PPK (no USE_PPK)"
			case !peerPPK:
				ppkWhy = "the peer named no PPK (no PPK_IDENTITY)"
			default:
				ppkWhy = "the peer's PPK identity is not one this VPN accepts"
			}
		case peerPPK:
			if noPPKAuth == nil {
				ppkWhy = "the peer requires a PPK that is not configured here (no NO_PPK_AUTH)"
				continue
			}
			if ikecrypto.VerifyAuthPSK(prf, v.PSK, so, noPPKAuth.Data) {
				sa.log().Info("the peer's PPK is not configured here: authenticated with NO_PPK_AUTH")
				return v, nil, ""
			}
		default:
			if ikecrypto.VerifyAuthPSK(prf, v.PSK, so, auth.Data) {
				return v, nil, ""
			}
		}
	}
	return nil, nil, ppkWhy
}
