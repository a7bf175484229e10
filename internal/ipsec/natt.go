package ipsec

// NonESPMarkerLen is the length of the Non-ESP Marker (RFC 3948 §2.2).
const NonESPMarkerLen = 4

// PacketKind classifies a UDP datagram received on port 4500 (RFC 3948).
type PacketKind int

// Kinds of datagrams on the NAT-T port.
const (
	// PacketInvalid is a datagram that is none of the others.
	PacketInvalid PacketKind = iota
	// PacketIKE starts with the four-zero-octet Non-ESP Marker followed by
	// an IKE message (RFC 3948 §2.2).
	PacketIKE
	// PacketESP starts with a non-zero ESP SPI (RFC 3948 §2.1).
	PacketESP
	// PacketKeepalive is the one-octet 0xFF NAT-keepalive (RFC 3948 §2.3).
	PacketKeepalive
)

// ClassifyNATT tells apart IKE, ESP and NAT-keepalive datagrams received on
// UDP port 4500. An ESP packet needs at least its SPI and sequence number.
func ClassifyNATT(b []byte) PacketKind {
	switch {
	case len(b) == 1 && b[0] == 0xff:
		return PacketKeepalive
	case len(b) >= NonESPMarkerLen && b[0]|b[1]|b[2]|b[3] == 0:
		if len(b) == NonESPMarkerLen {
			return PacketInvalid
		}
		return PacketIKE
	case len(b) >= 8:
		return PacketESP
	}
	return PacketInvalid
}

// StripNonESPMarker returns the IKE message following the Non-ESP Marker of
// a port-4500 datagram, or ok=false if b does not start with the marker.
// The marker is not part of the IKE message and not counted in its Length
// (RFC 7296 §3.1, RFC 3948 §2.2).
func StripNonESPMarker(b []byte) (msg []byte, ok bool) {
	if len(b) < NonESPMarkerLen || b[0]|b[1]|b[2]|b[3] != 0 {
		return nil, false
	}
	return b[NonESPMarkerLen:], true
}

// AppendNonESPMarker appends the four zero octets that precede an IKE
// message sent on UDP port 4500 (RFC 3948 §2.2). Append the message after.
func AppendNonESPMarker(b []byte) []byte {
	return append(b, 0, 0, 0, 0)
}
