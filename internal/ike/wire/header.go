package wire

import (
	"strconv"
	"strings"
)

// HeaderLen is the size of the fixed IKE header (RFC 7296 §3.1).
const HeaderLen = 28

// genericHeaderLen is the size of the generic payload header (RFC 7296 §3.2).
const genericHeaderLen = 4

// MajorVersion and MinorVersion are the IKE version this package speaks;
// a different major version is rejected with ErrBadVersion (RFC 7296 §3.1).
const (
	MajorVersion = 2
	MinorVersion = 0
)

// Flags is the Flags octet of the IKE header (RFC 7296 §3.1).
type Flags uint8

// Header flag bits. The remaining bits are reserved: sent as zero and
// ignored on receipt, so ParseHeader clears them.
const (
	// FlagInitiator (I) is set in messages sent by the original initiator
	// of the IKE SA (RFC 7296 §3.1).
	FlagInitiator Flags = 0x08
	// FlagVersion (V) says the sender can speak a higher major version
	// (RFC 7296 §3.1); IKEv2 implementations send it as zero.
	FlagVersion Flags = 0x10
	// FlagResponse (R) marks a response (RFC 7296 §3.1).
	FlagResponse Flags = 0x20

	flagsKnown = FlagInitiator | FlagVersion | FlagResponse
)

// Initiator reports the I bit.
func (f Flags) Initiator() bool { return f&FlagInitiator != 0 }

// Response reports the R bit.
func (f Flags) Response() bool { return f&FlagResponse != 0 }

// HigherVersion reports the V bit.
func (f Flags) HigherVersion() bool { return f&FlagVersion != 0 }

// String lists the set bits, e.g. "I|R", or "0".
func (f Flags) String() string {
	var parts []string
	if f.Initiator() {
		parts = append(parts, "I")
	}
	if f.HigherVersion() {
		parts = append(parts, "V")
	}
	if f.Response() {
		parts = append(parts, "R")
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

// Header is the fixed IKE header (RFC 7296 §3.1).
type Header struct {
	// SPIi is the IKE SA Initiator's SPI (RFC 7296 §3.1).
	SPIi uint64
	// SPIr is the IKE SA Responder's SPI; zero in the first message of an
	// IKE SA initial exchange (RFC 7296 §3.1).
	SPIr uint64
	// NextPayload is the type of the first payload (RFC 7296 §3.1). It is
	// filled in by Parse; Message.Marshal derives it from the payload list.
	NextPayload PayloadType
	// MajorVersion must be 2 (RFC 7296 §3.1).
	MajorVersion uint8
	// MinorVersion is sent as 0 and ignored on receipt (RFC 7296 §3.1).
	MinorVersion uint8
	// Exchange is the Exchange Type (RFC 7296 §3.1).
	Exchange ExchangeType
	// Flags holds the I, V and R bits (RFC 7296 §3.1).
	Flags Flags
	// MessageID is the Message ID used for retransmission and request /
	// response matching (RFC 7296 §3.1, §2.2).
	MessageID uint32
	// Length is the length of the whole message, header included
	// (RFC 7296 §3.1). It is filled in by Parse; Message.Marshal computes it.
	Length uint32
}

// ParseHeader decodes the fixed 28-octet IKE header at the start of b
// without looking at the payloads or at the datagram length.
//
// If the major version is not 2 the error wraps ErrBadVersion, but the
// returned Header is still fully decoded so the caller can address an
// INVALID_MAJOR_VERSION notification to the sender (RFC 7296 §2.5).
// Reserved flag bits are cleared.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	r := reader{b: b}
	var next, ver, exch, flags uint8
	if !r.u64(&h.SPIi) || !r.u64(&h.SPIr) || !r.u8(&next) || !r.u8(&ver) ||
		!r.u8(&exch) || !r.u8(&flags) || !r.u32(&h.MessageID) || !r.u32(&h.Length) {
		return Header{}, &ParseError{Offset: 0, Reason: "IKE header needs 28 octets", Err: ErrTruncated}
	}
	h.NextPayload = PayloadType(next)
	h.MajorVersion = ver >> 4
	h.MinorVersion = ver & 0x0f
	h.Exchange = ExchangeType(exch)
	h.Flags = Flags(flags) & flagsKnown
	if h.MajorVersion != MajorVersion {
		return h, &ParseError{Offset: 17, Reason: "major version " + strconv.Itoa(int(h.MajorVersion)), Err: ErrBadVersion}
	}
	return h, nil
}

// Append appends the header exactly as given, including NextPayload and
// Length, to b. Message.Marshal fills in those two fields itself.
func (h *Header) Append(b []byte) []byte {
	b = appendU32(b, uint32(h.SPIi>>32))
	b = appendU32(b, uint32(h.SPIi))
	b = appendU32(b, uint32(h.SPIr>>32))
	b = appendU32(b, uint32(h.SPIr))
	b = append(b, byte(h.NextPayload), h.MajorVersion<<4|h.MinorVersion&0x0f,
		byte(h.Exchange), byte(h.Flags))
	b = appendU32(b, h.MessageID)
	return appendU32(b, h.Length)
}
