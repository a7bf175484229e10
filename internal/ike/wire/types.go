package wire

import "strconv"

// PayloadType identifies a payload in the Next Payload chain
// (RFC 7296 §3.2, IANA "IKEv2 Payload Types").
type PayloadType uint8

// Payload types.
const (
	PayloadNone           PayloadType = 0  // No Next Payload (RFC 7296 §3.2)
	PayloadSA             PayloadType = 33 // Security Association (RFC 7296 §3.3)
	PayloadKE             PayloadType = 34 // Key Exchange (RFC 7296 §3.4)
	PayloadIDi            PayloadType = 35 // Identification - Initiator (RFC 7296 §3.5)
	PayloadIDr            PayloadType = 36 // Identification - Responder (RFC 7296 §3.5)
	PayloadCert           PayloadType = 37 // Certificate (RFC 7296 §3.6)
	PayloadCertReq        PayloadType = 38 // Certificate Request (RFC 7296 §3.7)
	PayloadAuth           PayloadType = 39 // Authentication (RFC 7296 §3.8)
	PayloadNonce          PayloadType = 40 // Nonce (RFC 7296 §3.9)
	PayloadNotify         PayloadType = 41 // Notify (RFC 7296 §3.10)
	PayloadDelete         PayloadType = 42 // Delete (RFC 7296 §3.11)
	PayloadVendorID       PayloadType = 43 // Vendor ID (RFC 7296 §3.12)
	PayloadTSi            PayloadType = 44 // Traffic Selector - Initiator (RFC 7296 §3.13)
	PayloadTSr            PayloadType = 45 // Traffic Selector - Responder (RFC 7296 §3.13)
	PayloadSK             PayloadType = 46 // Encrypted and Authenticated (RFC 7296 §3.14)
	PayloadCP             PayloadType = 47 // Configuration (RFC 7296 §3.15)
	PayloadEAP            PayloadType = 48 // Extensible Authentication (RFC 7296 §3.16)
	PayloadGSPM           PayloadType = 49 // Generic Secure Password Methods (RFC 6467); parsed as Unknown
	PayloadIDg            PayloadType = 50 // Group Identification (G-IKEv2); parsed as Unknown
	PayloadGSA            PayloadType = 51 // Group Security Association (G-IKEv2); parsed as Unknown
	PayloadKD             PayloadType = 52 // Key Download (G-IKEv2); parsed as Unknown
	PayloadSKF            PayloadType = 53 // Encrypted and Authenticated Fragment (RFC 7383 §2.5)
	PayloadPuzzleSolution PayloadType = 54 // Puzzle Solution (RFC 8019); parsed as Unknown
)

var payloadNames = map[PayloadType]string{
	PayloadNone: "NONE", PayloadSA: "SA", PayloadKE: "KE", PayloadIDi: "IDi",
	PayloadIDr: "IDr", PayloadCert: "CERT", PayloadCertReq: "CERTREQ",
	PayloadAuth: "AUTH", PayloadNonce: "No", PayloadNotify: "N",
	PayloadDelete: "D", PayloadVendorID: "V", PayloadTSi: "TSi",
	PayloadTSr: "TSr", PayloadSK: "SK", PayloadCP: "CP", PayloadEAP: "EAP",
	PayloadGSPM: "GSPM", PayloadIDg: "IDg", PayloadGSA: "GSA", PayloadKD: "KD",
	PayloadSKF: "SKF", PayloadPuzzleSolution: "PS",
}

// String returns the IANA notation of the payload type ("SA", "N", "SK"...)
// or "PayloadType(n)" for unassigned values.
func (t PayloadType) String() string {
	if s, ok := payloadNames[t]; ok {
		return s
	}
	return "PayloadType(" + strconv.Itoa(int(t)) + ")"
}

// known reports whether this package decodes the type into a dedicated
// struct. Any other type is decoded as *Unknown.
func (t PayloadType) known() bool {
	return (t >= PayloadSA && t <= PayloadEAP) || t == PayloadSKF
}

// ExchangeType is the Exchange Type field of the IKE header
// (RFC 7296 §3.1, IANA "IKEv2 Exchange Types").
type ExchangeType uint8

// Exchange types.
const (
	ExchangeIKESAInit        ExchangeType = 34 // IKE_SA_INIT (RFC 7296 §1.2)
	ExchangeIKEAuth          ExchangeType = 35 // IKE_AUTH (RFC 7296 §1.2)
	ExchangeCreateChildSA    ExchangeType = 36 // CREATE_CHILD_SA (RFC 7296 §1.3)
	ExchangeInformational    ExchangeType = 37 // INFORMATIONAL (RFC 7296 §1.4)
	ExchangeIKESessionResume ExchangeType = 38 // IKE_SESSION_RESUME (RFC 5723)
	ExchangeIKEIntermediate  ExchangeType = 43 // IKE_INTERMEDIATE (RFC 9242)
	ExchangeIKEFollowupKE    ExchangeType = 44 // IKE_FOLLOWUP_KE (RFC 9370)
)

var exchangeNames = map[ExchangeType]string{
	ExchangeIKESAInit:        "IKE_SA_INIT",
	ExchangeIKEAuth:          "IKE_AUTH",
	ExchangeCreateChildSA:    "CREATE_CHILD_SA",
	ExchangeInformational:    "INFORMATIONAL",
	ExchangeIKESessionResume: "IKE_SESSION_RESUME",
	ExchangeIKEIntermediate:  "IKE_INTERMEDIATE",
	ExchangeIKEFollowupKE:    "IKE_FOLLOWUP_KE",
}

// String returns the IANA name of the exchange type or "ExchangeType(n)".
func (t ExchangeType) String() string {
	if s, ok := exchangeNames[t]; ok {
		return s
	}
	return "ExchangeType(" + strconv.Itoa(int(t)) + ")"
}

// ProtocolID identifies the protocol of a proposal, notification or delete
// (RFC 7296 §3.3.1, §3.10, §3.11; IANA "IKEv2 Security Protocol Identifiers").
type ProtocolID uint8

// Security protocol identifiers.
const (
	ProtocolNone ProtocolID = 0 // no SPI applies (Notify, RFC 7296 §3.10)
	ProtocolIKE  ProtocolID = 1 // IKE (RFC 7296 §3.3.1)
	ProtocolAH   ProtocolID = 2 // AH (RFC 7296 §3.3.1)
	ProtocolESP  ProtocolID = 3 // ESP (RFC 7296 §3.3.1)
)

// String returns "IKE", "AH", "ESP", "NONE" or "ProtocolID(n)".
func (p ProtocolID) String() string {
	switch p {
	case ProtocolNone:
		return "NONE"
	case ProtocolIKE:
		return "IKE"
	case ProtocolAH:
		return "AH"
	case ProtocolESP:
		return "ESP"
	}
	return "ProtocolID(" + strconv.Itoa(int(p)) + ")"
}

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
