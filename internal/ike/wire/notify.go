package wire

import (
	"net/netip"
	"secgw/internal/ipsec"
)

// NotifyType is the Notify Message Type (RFC 7296 §3.10.1, IANA "IKEv2
// Notify Message Types"). Values below 16384 are errors, the others status.
// Its String method (notifytype_string.go) returns the IANA name, e.g.
// "NAT_DETECTION_SOURCE_IP", or "NotifyType(n)".
type NotifyType uint16

//go:generate go tool stringer -type=NotifyType -linecomment

// Error notify types (RFC 7296 §3.10.1, or the RFC above the line).
const (
	NotifyUnsupportedCriticalPayload NotifyType = 1  // UNSUPPORTED_CRITICAL_PAYLOAD
	NotifyInvalidIKESPI              NotifyType = 4  // INVALID_IKE_SPI
	NotifyInvalidMajorVersion        NotifyType = 5  // INVALID_MAJOR_VERSION
	NotifyInvalidSyntax              NotifyType = 7  // INVALID_SYNTAX
	NotifyInvalidMessageID           NotifyType = 9  // INVALID_MESSAGE_ID
	NotifyInvalidSPI                 NotifyType = 11 // INVALID_SPI
	NotifyNoProposalChosen           NotifyType = 14 // NO_PROPOSAL_CHOSEN
	NotifyInvalidKEPayload           NotifyType = 17 // INVALID_KE_PAYLOAD
	NotifyAuthenticationFailed       NotifyType = 24 // AUTHENTICATION_FAILED
	NotifySinglePairRequired         NotifyType = 34 // SINGLE_PAIR_REQUIRED
	NotifyNoAdditionalSAs            NotifyType = 35 // NO_ADDITIONAL_SAS
	NotifyInternalAddressFailure     NotifyType = 36 // INTERNAL_ADDRESS_FAILURE
	NotifyFailedCPRequired           NotifyType = 37 // FAILED_CP_REQUIRED
	NotifyTSUnacceptable             NotifyType = 38 // TS_UNACCEPTABLE
	NotifyInvalidSelectors           NotifyType = 39 // INVALID_SELECTORS
	// RFC 4555.
	NotifyUnacceptableAddresses NotifyType = 40 // UNACCEPTABLE_ADDRESSES
	// RFC 4555.
	NotifyUnexpectedNATDetected NotifyType = 41 // UNEXPECTED_NAT_DETECTED
	// RFC 5026.
	NotifyUseAssignedHoA   NotifyType = 42 // USE_ASSIGNED_HoA
	NotifyTemporaryFailure NotifyType = 43 // TEMPORARY_FAILURE
	NotifyChildSANotFound  NotifyType = 44 // CHILD_SA_NOT_FOUND
	// RFC 9370: an IKE_FOLLOWUP_KE whose link the responder does not
	// know.
	NotifyStateNotFound NotifyType = 47 // STATE_NOT_FOUND
)

// Status notify types (RFC 7296 §3.10.1, or the RFC above the line).
const (
	NotifyInitialContact            NotifyType = 16384 // INITIAL_CONTACT
	NotifySetWindowSize             NotifyType = 16385 // SET_WINDOW_SIZE
	NotifyAdditionalTSPossible      NotifyType = 16386 // ADDITIONAL_TS_POSSIBLE
	NotifyIPCompSupported           NotifyType = 16387 // IPCOMP_SUPPORTED
	NotifyNATDetectionSourceIP      NotifyType = 16388 // NAT_DETECTION_SOURCE_IP
	NotifyNATDetectionDestinationIP NotifyType = 16389 // NAT_DETECTION_DESTINATION_IP
	NotifyCookie                    NotifyType = 16390 // COOKIE
	NotifyUseTransportMode          NotifyType = 16391 // USE_TRANSPORT_MODE
	NotifyHTTPCertLookupSupported   NotifyType = 16392 // HTTP_CERT_LOOKUP_SUPPORTED
	NotifyRekeySA                   NotifyType = 16393 // REKEY_SA
	NotifyESPTFCPaddingNotSupported NotifyType = 16394 // ESP_TFC_PADDING_NOT_SUPPORTED
	NotifyNonFirstFragmentsAlso     NotifyType = 16395 // NON_FIRST_FRAGMENTS_ALSO
	// RFC 4555.
	NotifyMOBIKESupported NotifyType = 16396 // MOBIKE_SUPPORTED
	// RFC 4555.
	NotifyAdditionalIP4Address NotifyType = 16397 // ADDITIONAL_IP4_ADDRESS
	// RFC 4555.
	NotifyAdditionalIP6Address NotifyType = 16398 // ADDITIONAL_IP6_ADDRESS
	// RFC 4555.
	NotifyNoAdditionalAddresses NotifyType = 16399 // NO_ADDITIONAL_ADDRESSES
	// RFC 4555.
	NotifyUpdateSAAddresses NotifyType = 16400 // UPDATE_SA_ADDRESSES
	// RFC 4555.
	NotifyCookie2 NotifyType = 16401 // COOKIE2
	// RFC 4555.
	NotifyNoNATsAllowed NotifyType = 16402 // NO_NATS_ALLOWED
	// RFC 4478.
	NotifyAuthLifetime NotifyType = 16403 // AUTH_LIFETIME
	// RFC 4739.
	NotifyMultipleAuthSupported NotifyType = 16404 // MULTIPLE_AUTH_SUPPORTED
	// RFC 4739.
	NotifyAnotherAuthFollows NotifyType = 16405 // ANOTHER_AUTH_FOLLOWS
	// RFC 5685.
	NotifyRedirectSupported NotifyType = 16406 // REDIRECT_SUPPORTED
	// RFC 5685.
	NotifyRedirect NotifyType = 16407 // REDIRECT
	// RFC 5685.
	NotifyRedirectedFrom NotifyType = 16408 // REDIRECTED_FROM
	// RFC 5998.
	NotifyEAPOnlyAuthentication NotifyType = 16417 // EAP_ONLY_AUTHENTICATION
	// RFC 6023.
	NotifyChildlessIKEv2Supported NotifyType = 16418 // CHILDLESS_IKEV2_SUPPORTED
	// RFC 7383.
	NotifyIKEv2FragmentationSupported NotifyType = 16430 // IKEV2_FRAGMENTATION_SUPPORTED
	// RFC 7427.
	NotifySignatureHashAlgorithms NotifyType = 16431 // SIGNATURE_HASH_ALGORITHMS
	// RFC 8784.
	NotifyUsePPK NotifyType = 16435 // USE_PPK
	// RFC 8784.
	NotifyPPKIdentity NotifyType = 16436 // PPK_IDENTITY
	// RFC 8784.
	NotifyNoPPKAuth NotifyType = 16437 // NO_PPK_AUTH
	// RFC 9242.
	NotifyIntermediateExchangeSupported NotifyType = 16438 // INTERMEDIATE_EXCHANGE_SUPPORTED
	// RFC 9370: links an IKE_FOLLOWUP_KE exchange to the CREATE_CHILD_SA
	// or previous IKE_FOLLOWUP_KE exchange it continues.
	NotifyAdditionalKeyExchange NotifyType = 16441 // ADDITIONAL_KEY_EXCHANGE
)

// IsError reports whether t is in the error range 0..16383 (RFC 7296
// §3.10.1). Unrecognized error types in a response mean the request failed.
func (t NotifyType) IsError() bool { return t < 16384 }

// Notify is the Notify payload (RFC 7296 §3.10).
type Notify struct {
	CriticalFlag
	// Protocol is the Protocol ID of the SA the SPI belongs to, or zero
	// when there is no SPI (RFC 7296 §3.10).
	Protocol ProtocolID
	// SPI is the Security Parameter Index, empty for notifications about
	// the IKE SA; its length is the SPI Size field (RFC 7296 §3.10).
	SPI []byte
	// NotifyType is the Notify Message Type (RFC 7296 §3.10.1).
	NotifyType NotifyType
	// Data is the Notification Data (RFC 7296 §3.10).
	Data []byte
}

// Type returns PayloadNotify.
func (*Notify) Type() PayloadType { return PayloadNotify }

// AppendBody appends Protocol ID, SPI Size, type, SPI and data (RFC 7296 §3.10).
func (n *Notify) AppendBody(b []byte) ([]byte, error) {
	if len(n.SPI) > 0xff {
		return nil, invalidf("notify SPI of %d octets", len(n.SPI))
	}
	b = append(b, byte(n.Protocol), byte(len(n.SPI)))
	b = appendU16(b, uint16(n.NotifyType))
	b = append(b, n.SPI...)
	return append(b, n.Data...), nil
}

func parseNotify(c CriticalFlag, r *reader) (*Notify, error) {
	n := &Notify{CriticalFlag: c}
	var proto, spiSize uint8
	var t uint16
	if !r.u8(&proto) || !r.u8(&spiSize) || !r.u16(&t) {
		return nil, r.fail(ErrBadLength, "notify body needs 4 octets")
	}
	n.Protocol, n.NotifyType = ProtocolID(proto), NotifyType(t)
	if !r.bytes(int(spiSize), &n.SPI) {
		return nil, r.fail(ErrBadLength, "notify SPI of %d octets exceeds payload", spiSize)
	}
	n.Data = r.rest()
	return n, nil
}

// NewNotify returns a status or error notification about the IKE SA
// (no SPI) carrying data.
func NewNotify(t NotifyType, data []byte) *Notify {
	return &Notify{NotifyType: t, Data: clip(data)}
}

// InvalidKEPayload returns the INVALID_KE_PAYLOAD notification naming the
// group the responder wants, as a two-octet big-endian number (RFC 7296
// §1.2, §3.10.1).
func InvalidKEPayload(group ipsec.TransformID) *Notify {
	return NewNotify(NotifyInvalidKEPayload, []byte{byte(group >> 8), byte(group)})
}

// Group returns the group number carried by an INVALID_KE_PAYLOAD
// notification (RFC 7296 §3.10.1).
func (n *Notify) Group() (ipsec.TransformID, bool) {
	if n.NotifyType != NotifyInvalidKEPayload || len(n.Data) != 2 {
		return 0, false
	}
	return ipsec.TransformID(n.Data[0])<<8 | ipsec.TransformID(n.Data[1]), true
}

// Addr returns the address carried by ADDITIONAL_IP4_ADDRESS (4 octets) or
// ADDITIONAL_IP6_ADDRESS (16 octets) (RFC 4555 §3.6).
func (n *Notify) Addr() (netip.Addr, bool) {
	switch {
	case n.NotifyType == NotifyAdditionalIP4Address && len(n.Data) == 4:
		return netip.AddrFrom4([4]byte(n.Data)), true
	case n.NotifyType == NotifyAdditionalIP6Address && len(n.Data) == 16:
		return netip.AddrFrom16([16]byte(n.Data)), true
	}
	return netip.Addr{}, false
}

// HashAlgorithm is a hash algorithm identifier of SIGNATURE_HASH_ALGORITHMS
// (RFC 7427 §4, IANA "IKEv2 Hash Algorithms").
type HashAlgorithm uint16

// Hash algorithm identifiers.
const (
	HashSHA1     HashAlgorithm = 1 // SHA1 (RFC 7427)
	HashSHA2_256 HashAlgorithm = 2 // SHA2-256 (RFC 7427)
	HashSHA2_384 HashAlgorithm = 3 // SHA2-384 (RFC 7427)
	HashSHA2_512 HashAlgorithm = 4 // SHA2-512 (RFC 7427)
	HashIdentity HashAlgorithm = 5 // Identity (RFC 8420)
)

// SignatureHashAlgorithms returns the SIGNATURE_HASH_ALGORITHMS notification
// listing algs as two-octet identifiers (RFC 7427 §4).
func SignatureHashAlgorithms(algs ...HashAlgorithm) *Notify {
	data := make([]byte, 0, 2*len(algs))
	for _, a := range algs {
		data = appendU16(data, uint16(a))
	}
	return NewNotify(NotifySignatureHashAlgorithms, data)
}

// HashAlgorithms decodes the data of a SIGNATURE_HASH_ALGORITHMS
// notification; ok is false if the type is different or the data length is
// odd (RFC 7427 §4).
func (n *Notify) HashAlgorithms() (algs []HashAlgorithm, ok bool) {
	if n.NotifyType != NotifySignatureHashAlgorithms || len(n.Data)%2 != 0 {
		return nil, false
	}
	algs = make([]HashAlgorithm, 0, len(n.Data)/2)
	for i := 0; i < len(n.Data); i += 2 {
		algs = append(algs, HashAlgorithm(n.Data[i])<<8|HashAlgorithm(n.Data[i+1]))
	}
	return algs, true
}

// FindNotify returns the first Notify of type t in ps, or nil.
func FindNotify(ps []Payload, t NotifyType) *Notify {
	for _, p := range ps {
		if n, ok := p.(*Notify); ok && n.NotifyType == t {
			return n
		}
	}
	return nil
}

// FirstError returns the first error Notify (RFC 7296 §3.10.1: types
// below 16384) in ps, or nil.
func FirstError(ps []Payload) *Notify {
	for _, p := range ps {
		if n, ok := p.(*Notify); ok && n.NotifyType.IsError() {
			return n
		}
	}
	return nil
}
