package wire

// PayloadType identifies a payload in the Next Payload chain
// (RFC 7296 §3.2, IANA "IKEv2 Payload Types"). Its String method
// (payloadtype_string.go) returns the IANA notation of the payload type
// ("SA", "N", "SK"...) or "PayloadType(n)" for unassigned values.
type PayloadType uint8

//go:generate go tool stringer -type=PayloadType -linecomment

// Payload types.
const (
	// No Next Payload (RFC 7296 §3.2).
	PayloadNone PayloadType = 0 // NONE
	// Security Association (RFC 7296 §3.3).
	PayloadSA PayloadType = 33 // SA
	// Key Exchange (RFC 7296 §3.4).
	PayloadKE PayloadType = 34 // KE
	// Identification - Initiator (RFC 7296 §3.5).
	PayloadIDi PayloadType = 35 // IDi
	// Identification - Responder (RFC 7296 §3.5).
	PayloadIDr PayloadType = 36 // IDr
	// Certificate (RFC 7296 §3.6).
	PayloadCert PayloadType = 37 // CERT
	// Certificate Request (RFC 7296 §3.7).
	PayloadCertReq PayloadType = 38 // CERTREQ
	// Authentication (RFC 7296 §3.8).
	PayloadAuth PayloadType = 39 // AUTH
	// Nonce (RFC 7296 §3.9).
	PayloadNonce PayloadType = 40 // No
	// Notify (RFC 7296 §3.10).
	PayloadNotify PayloadType = 41 // N
	// Delete (RFC 7296 §3.11).
	PayloadDelete PayloadType = 42 // D
	// Vendor ID (RFC 7296 §3.12).
	PayloadVendorID PayloadType = 43 // V
	// Traffic Selector - Initiator (RFC 7296 §3.13).
	PayloadTSi PayloadType = 44 // TSi
	// Traffic Selector - Responder (RFC 7296 §3.13).
	PayloadTSr PayloadType = 45 // TSr
	// Encrypted and Authenticated (RFC 7296 §3.14).
	PayloadSK PayloadType = 46 // SK
	// Configuration (RFC 7296 §3.15).
	PayloadCP PayloadType = 47 // CP
	// Extensible Authentication (RFC 7296 §3.16).
	PayloadEAP PayloadType = 48 // EAP
	// Generic Secure Password Methods (RFC 6467); parsed as Unknown.
	PayloadGSPM PayloadType = 49 // GSPM
	// Group Identification (G-IKEv2); parsed as Unknown.
	PayloadIDg PayloadType = 50 // IDg
	// Group Security Association (G-IKEv2); parsed as Unknown.
	PayloadGSA PayloadType = 51 // GSA
	// Key Download (G-IKEv2); parsed as Unknown.
	PayloadKD PayloadType = 52 // KD
	// Encrypted and Authenticated Fragment (RFC 7383 §2.5).
	PayloadSKF PayloadType = 53 // SKF
	// Puzzle Solution (RFC 8019); parsed as Unknown.
	PayloadPuzzleSolution PayloadType = 54 // PS
)

// known reports whether this package decodes the type into a dedicated
// struct. Any other type is decoded as *Unknown.
func (t PayloadType) known() bool {
	return (t >= PayloadSA && t <= PayloadEAP) || t == PayloadSKF
}

// ExchangeType is the Exchange Type field of the IKE header
// (RFC 7296 §3.1, IANA "IKEv2 Exchange Types"). Its String method
// (exchangetype_string.go) returns the IANA name or "ExchangeType(n)".
type ExchangeType uint8

//go:generate go tool stringer -type=ExchangeType -linecomment

// Exchange types.
const (
	// RFC 7296 §1.2.
	ExchangeIKESAInit ExchangeType = 34 // IKE_SA_INIT
	// RFC 7296 §1.2.
	ExchangeIKEAuth ExchangeType = 35 // IKE_AUTH
	// RFC 7296 §1.3.
	ExchangeCreateChildSA ExchangeType = 36 // CREATE_CHILD_SA
	// RFC 7296 §1.4.
	ExchangeInformational ExchangeType = 37 // INFORMATIONAL
	// RFC 5723.
	ExchangeIKESessionResume ExchangeType = 38 // IKE_SESSION_RESUME
	// RFC 9242.
	ExchangeIKEIntermediate ExchangeType = 43 // IKE_INTERMEDIATE
	// RFC 9370.
	ExchangeIKEFollowupKE ExchangeType = 44 // IKE_FOLLOWUP_KE
)

// ProtocolID identifies the protocol of a proposal, notification or delete
// (RFC 7296 §3.3.1, §3.10, §3.11; IANA "IKEv2 Security Protocol Identifiers").
// Its String method (protocolid_string.go) returns "IKE", "AH", "ESP",
// "NONE" or "ProtocolID(n)".
type ProtocolID uint8

//go:generate go tool stringer -type=ProtocolID -linecomment

// Security protocol identifiers.
const (
	// No SPI applies (Notify, RFC 7296 §3.10).
	ProtocolNone ProtocolID = 0 // NONE
	// IKE (RFC 7296 §3.3.1).
	ProtocolIKE ProtocolID = 1 // IKE
	// AH (RFC 7296 §3.3.1).
	ProtocolAH ProtocolID = 2 // AH
	// ESP (RFC 7296 §3.3.1).
	ProtocolESP ProtocolID = 3 // ESP
)

// Payload is one decoded IKE payload. The concrete types are the pointer
// types of this package (*SA, *KE, *Notify, ..., *Unknown).
type Payload interface {
	// Type is the payload type written in the previous Next Payload field.
	Type() PayloadType
	// IsCritical reports the Critical bit of the generic payload header
	// (RFC 7296 §3.2).
	IsCritical() bool
	// AppendBody appends the payload body, i.e. everything after the
	// four-octet generic payload header, to b.
	AppendBody(b []byte) ([]byte, error)
}

// CriticalFlag is embedded in every payload struct. It carries the Critical
// bit of the generic payload header (RFC 7296 §3.2), which senders set to
// zero for the payload types defined in RFC 7296 and receivers ignore for
// types they understand; it is preserved so that a parsed message
// re-encodes to the same bytes.
type CriticalFlag struct {
	// Critical is the C bit of the generic payload header (RFC 7296 §3.2).
	Critical bool
}

// IsCritical reports the Critical bit.
func (c CriticalFlag) IsCritical() bool { return c.Critical }
