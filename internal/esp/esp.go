// Package esp is RFC 4303 packet processing: sealing an inner packet into
// an ESP packet and opening one, in place, with no I/O and no allocation
// per packet. The userspace dataplane (internal/dataplane/userspace) frames
// the result in IP and UDP; this package knows nothing of either.
//
// Suites: AES-GCM with a 16-, 12- or 8-octet ICV (RFC 4106), AES-CBC
// (RFC 3602) and AES-CTR (RFC 3686) with HMAC-SHA1-96 (RFC 2404) or
// HMAC-SHA2-256-128/-384-192/-512-256 (RFC 4868), and ChaCha20-Poly1305
// (RFC 7634); Supports tells which. Extended sequence numbers
// (RFC 4303 §2.2.1, RFC 4304) and an anti-replay window of up to 4096
// packets (an RFC 6479 bitmap) are supported on every suite. Both
// directions can start where another node left an SA (HA takeover):
// Config.Seq is the last outbound number already used, Config.ISeq the
// highest inbound one already received (Window.Resume).
//
// Buffers: Seal and Open work on a caller's buffer b. The ESP packet
// starts at an offset h inside b, and the Scratch octets b[h-Scratch:h]
// before it belong to the call (nonce, additional data and the full HMAC
// output are built there; interface method arguments escape, so a stack
// array would cost an allocation per packet). The dataplane writes the
// outer IP and UDP headers there afterwards. Seal needs MaxTrailer octets
// of capacity after the payload.
//
// Concurrency: an Outbound or Inbound may be used by several goroutines at
// once. Sequence numbers are taken atomically; the replay window is behind
// a mutex held only to check and to update it; the stateful CBC and HMAC
// objects are pooled per SA.
package esp

import (
	"encoding/binary"
	"errors"
)

// Sizes of the ESP framing (RFC 4303 §2).
const (
	// HeaderLen is the SPI and the Sequence Number field (RFC 4303 §2.1, §2.2).
	HeaderLen = 8
	// Scratch is the number of octets before the ESP header that Seal and
	// Open use as scratch space.
	Scratch = 64
	// MaxIVLen is the longest IV of the suites here (AES-CBC, RFC 3602 §3).
	MaxIVLen = 16
	// MaxICVLen is the longest ICV (HMAC-SHA2-512-256, RFC 4868 §2.6).
	MaxICVLen = 32
	// MaxTrailer bounds what Seal appends after the payload: padding to
	// the 16-octet AES block, the Pad Length and Next Header octets
	// (RFC 4303 §2.4-2.6) and the ICV.
	MaxTrailer = 15 + 2 + MaxICVLen
	// MaxOverhead is the most an ESP packet adds to its payload.
	MaxOverhead = HeaderLen + MaxIVLen + MaxTrailer
)

// Next Header values (IANA protocol numbers, RFC 4303 §2.6).
const (
	NextIPv4  = 4  // IP-in-IP: tunnel mode, inner IPv4
	NextIPv6  = 41 // tunnel mode, inner IPv6
	NextDummy = 59 // "no next header": a dummy packet to be dropped (RFC 4303 §2.6)
)

// Errors of Seal and Open. They are values, so that returning one costs no
// allocation; none carries key material.
var (
	ErrShort       = errors.New("esp: packet too short")
	ErrBuffer      = errors.New("esp: buffer lacks headroom or tailroom")
	ErrSPI         = errors.New("esp: SPI does not match the SA")
	ErrReplay      = errors.New("esp: replayed packet")
	ErrTooOld      = errors.New("esp: sequence number left of the replay window")
	ErrAuth        = errors.New("esp: integrity check failed")
	ErrLength      = errors.New("esp: ciphertext is not a multiple of the block size")
	ErrPadding     = errors.New("esp: bad padding")
	ErrSeqOverflow = errors.New("esp: sequence number space exhausted")
)

// SPI returns the SPI of an ESP packet (RFC 4303 §2.1), or 0 if b is
// shorter than an ESP header (SPI 0 is reserved and never valid).
func SPI(b []byte) uint32 {
	if len(b) < HeaderLen {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}
