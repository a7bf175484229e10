package wire

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Every error returned by a parse function in this package
// is a *ParseError wrapping exactly one of the Err* parse sentinels, so
// callers can use errors.Is to decide which notification to answer with.
var (
	// ErrTruncated reports that the input ended before a structure whose
	// length or count promised more bytes (RFC 7296 §3.1, §3.2).
	ErrTruncated = errors.New("wire: truncated")

	// ErrBadLength reports a length field that is impossible: below the
	// structure's fixed part, above its enclosing structure, or not matching
	// the datagram or the bytes actually consumed (RFC 7296 §3.1, §3.2, §3.3).
	ErrBadLength = errors.New("wire: bad length")

	// ErrBadVersion reports an IKE header whose major version is not 2. The
	// caller should answer with INVALID_MAJOR_VERSION (RFC 7296 §2.5); use
	// ParseHeader to obtain the SPIs and Message ID for that reply.
	ErrBadVersion = errors.New("wire: unsupported major version")

	// ErrSyntax reports a field value the RFCs forbid (for example a nonce
	// shorter than 16 octets or an Encrypted payload that is not the last
	// payload). It corresponds to INVALID_SYNTAX (RFC 7296 §3.10.1).
	ErrSyntax = errors.New("wire: invalid syntax")

	// ErrInvalid is returned by the marshal functions when a value cannot
	// be represented on the wire (wrong address family, field too long,
	// missing proposal and so on).
	ErrInvalid = errors.New("wire: value cannot be encoded")
)

// ParseError describes where and why decoding failed.
type ParseError struct {
	// Offset is the byte offset, relative to the start of the buffer given
	// to Parse, ParseHeader or ParsePayloadChain, of the structure that
	// failed to decode.
	Offset int
	// Payload is the type of the payload being decoded, or PayloadNone when
	// the failure is in the IKE header or the generic payload header chain.
	Payload PayloadType
	// Reason is a short human-readable description.
	Reason string
	// Err is the sentinel (ErrTruncated, ErrBadLength, ErrBadVersion or
	// ErrSyntax) that classifies the failure.
	Err error
}

// Error implements the error interface. The message starts with "wire: ".
func (e *ParseError) Error() string {
	s := "wire: "
	if e.Payload != PayloadNone {
		s += e.Payload.String() + " payload: "
	}
	s += e.Reason + " at offset " + strconv.Itoa(e.Offset)
	if e.Err != nil {
		msg := e.Err.Error()
		if len(msg) > len("wire: ") && msg[:len("wire: ")] == "wire: " {
			msg = msg[len("wire: "):]
		}
		s += " (" + msg + ")"
	}
	return s
}

// Unwrap returns the classifying sentinel error.
func (e *ParseError) Unwrap() error { return e.Err }

// UnsupportedCriticalError reports a payload of a type this package does not
// understand whose Critical bit is set. RFC 7296 §2.5 requires the whole
// message to be rejected with an UNSUPPORTED_CRITICAL_PAYLOAD notification
// carrying the one-octet payload type; Notify builds it.
type UnsupportedCriticalError struct {
	// Type is the unsupported payload type, sent back as the one-octet
	// notification data (RFC 7296 §3.10.1).
	Type PayloadType
}

// Error implements the error interface.
func (e *UnsupportedCriticalError) Error() string {
	return "wire: unsupported critical payload " + e.Type.String()
}

// Notify returns the UNSUPPORTED_CRITICAL_PAYLOAD error notification whose
// data is the one-octet offending payload type (RFC 7296 §3.10.1).
func (e *UnsupportedCriticalError) Notify() *Notify {
	return &Notify{NotifyType: NotifyUnsupportedCriticalPayload, Data: []byte{byte(e.Type)}}
}

// invalidf builds a marshal-side error wrapping ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("wire: "+format+": %w", append(args, ErrInvalid)...)
}

// reader is a bounds-checked big-endian cursor over a byte slice that knows
// its absolute offset, so errors can report where they happened. It never
// allocates: all returned slices alias the input and are capacity-clipped so
// that appending to them cannot overwrite neighbouring bytes.
type reader struct {
	b   []byte
	off int         // absolute offset of b[0]
	pt  PayloadType // payload being decoded, for errors
}

func (r *reader) len() int { return len(r.b) }

func (r *reader) u8(v *uint8) bool {
	if len(r.b) < 1 {
		return false
	}
	*v = r.b[0]
	r.skip(1)
	return true
}

func (r *reader) u16(v *uint16) bool {
	if len(r.b) < 2 {
		return false
	}
	*v = uint16(r.b[0])<<8 | uint16(r.b[1])
	r.skip(2)
	return true
}

func (r *reader) u32(v *uint32) bool {
	if len(r.b) < 4 {
		return false
	}
	*v = uint32(r.b[0])<<24 | uint32(r.b[1])<<16 | uint32(r.b[2])<<8 | uint32(r.b[3])
	r.skip(4)
	return true
}

func (r *reader) u64(v *uint64) bool {
	var hi, lo uint32
	if len(r.b) < 8 || !r.u32(&hi) || !r.u32(&lo) {
		return false
	}
	*v = uint64(hi)<<32 | uint64(lo)
	return true
}

// bytes returns the next n bytes (nil when n is 0).
func (r *reader) bytes(n int, v *[]byte) bool {
	if n < 0 || len(r.b) < n {
		return false
	}
	*v = clip(r.b[:n])
	r.skip(n)
	return true
}

// sub splits off the next n bytes as a reader of their own.
func (r *reader) sub(n int, v *reader) bool {
	if n < 0 || len(r.b) < n {
		return false
	}
	*v = reader{b: r.b[:n:n], off: r.off, pt: r.pt}
	r.skip(n)
	return true
}

// rest consumes and returns everything that is left (nil when empty).
func (r *reader) rest() []byte {
	b := clip(r.b)
	r.skip(len(r.b))
	return b
}

func (r *reader) skip(n int) {
	r.b = r.b[n:]
	r.off += n
}

// fail builds a *ParseError at the reader's current offset.
func (r *reader) fail(err error, format string, args ...any) error {
	return &ParseError{Offset: r.off, Payload: r.pt, Reason: fmt.Sprintf(format, args...), Err: err}
}

// clip returns b with its capacity limited to its length, or nil when b is
// empty, so parsed values compare equal to freshly constructed ones.
func clip(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b[:len(b):len(b)]
}

// appendLen16 reserves a two-octet length field and returns its position.
func appendLen16(b []byte) ([]byte, int) {
	return append(b, 0, 0), len(b)
}

// patchLen16 stores len(b)-start at b[at:at+2]; it fails if that does not
// fit into 16 bits.
func patchLen16(b []byte, at, start int, what string) ([]byte, error) {
	n := len(b) - start
	if n > 0xffff {
		return b, invalidf("%s length %d exceeds 65535", what, n)
	}
	b[at] = byte(n >> 8)
	b[at+1] = byte(n)
	return b, nil
}

func appendU16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
