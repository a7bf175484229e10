package config

import (
	"time"

	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
)

// Template defaults: the "refine default" statements of secgw-ike.yang and
// the defaults of secgw-ike-global.yang, which ygot's getters do not apply to
// templates.
const (
	DefaultIKERekeyTime   = 14400 * time.Second
	DefaultChildRekeyTime = 3600 * time.Second
	DefaultReplayWindow   = 32
	DefaultFragmentation  = true

	DefaultRetransmitTries   = 5
	DefaultRetransmitTimeout = 4 * time.Second
	DefaultRetransmitBase    = 1.8
	DefaultCookieThreshold   = 10
	DefaultBlockThreshold    = 5
	DefaultThreads           = 16
	DefaultSATableSize       = 1
	DefaultSATableSegments   = 1
	DefaultAcquireTimeout    = 30 * time.Second
	DefaultWindowSize        = 1
	DefaultInitiateRate      = 500

	// Template defaults of ipsec-policy-template start-action (trap),
	// close-action (none) and dpd-action (restart).
	DefaultStartAction = ActionTrap
	DefaultCloseAction = ActionNone
	DefaultDPDAction   = ActionStart
)

// DefaultIKEProposals are the proposals used when neither a VPN nor its
// template lists one (secgw-ike-vpn.yang, ike-proposal): aes256-gcm-128 with
// prf hmac-sha256, then aes128-cbc/hmac-sha256 (and its prf hmac-sha256),
// with curve25519, ecp256, modp3072 (and modp2048 for the second).
func DefaultIKEProposals() []wire.Proposal {
	groups := []ipsec.TransformID{ipsec.GroupCurve25519, ipsec.GroupECP256, ipsec.GroupMODP3072}
	return []wire.Proposal{
		proposal(1, wire.ProtocolIKE, keyed(ipsec.EncrAESGCM16, 256),
			plain(ipsec.TransformPRF, ipsec.PRFHMACSHA2_256), plain(ipsec.TransformKE, groups...)),
		proposal(2, wire.ProtocolIKE, keyed(ipsec.EncrAESCBC, 128),
			plain(ipsec.TransformPRF, ipsec.PRFHMACSHA2_256), plain(ipsec.TransformInteg, ipsec.IntegHMACSHA2_256_128),
			plain(ipsec.TransformKE, append(groups, ipsec.GroupMODP2048)...)),
	}
}

// DefaultESPProposals are the child SA proposals used when neither a VPN nor
// its template lists one: aes256-gcm-128, then aes128-cbc/hmac-sha256,
// without PFS and without ESN.
func DefaultESPProposals() []wire.Proposal {
	noESN := plain(ipsec.TransformESN, ipsec.ESNDisabled)
	return []wire.Proposal{
		proposal(1, wire.ProtocolESP, keyed(ipsec.EncrAESGCM16, 256), noESN),
		proposal(2, wire.ProtocolESP, keyed(ipsec.EncrAESCBC, 128),
			plain(ipsec.TransformInteg, ipsec.IntegHMACSHA2_256_128), noESN),
	}
}

// proposal is the proposal number num of protocol p with the transforms
// of each group, in order.
func proposal(num uint8, p wire.ProtocolID, groups ...[]wire.Transform) wire.Proposal {
	out := wire.Proposal{Number: num, Protocol: p}
	for _, g := range groups {
		out.Transforms = append(out.Transforms, g...)
	}
	return out
}

// keyed is EncrTransform as a group of one.
func keyed(id ipsec.TransformID, bits uint16) []wire.Transform {
	return []wire.Transform{EncrTransform(id, bits)}
}

// EncrTransform is the ENCR transform id with a Key Length attribute of
// bits (RFC 7296 §3.3.5), as AES in every mode needs (ChaCha20-Poly1305
// has none, RFC 7634 §4).
func EncrTransform(id ipsec.TransformID, bits uint16) wire.Transform {
	return wire.Transform{Type: ipsec.TransformEncr, ID: id, Attributes: []wire.TransformAttribute{wire.KeyLengthAttribute(bits)}}
}

// plain is one transform of type t for each id, without attributes.
func plain(t ipsec.TransformType, ids ...ipsec.TransformID) []wire.Transform {
	out := make([]wire.Transform, len(ids))
	for i, id := range ids {
		out[i] = wire.Transform{Type: t, ID: id}
	}
	return out
}
