package wire

import (
	"net/netip"
	"strconv"
	"strings"
)

// The Notification Data of REDIRECT and REDIRECTED_FROM (RFC 5685, REDIRECT and REDIRECTED_FROM):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| GW Ident Type |  GW Ident Len |                               |
//	+---------------+---------------+                               ~
//	~                   New Responder GW Identity                   ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                        Nonce Data                             ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// REDIRECT carries the Nonce Data (the initiator's Ni) only in an
// IKE_SA_INIT response; REDIRECTED_FROM never does.

// GatewayIdentityType is the GW Identity Type (RFC 5685, IANA "IKEv2
// Gateway Identity Types").
type GatewayIdentityType uint8

// Gateway identity types (RFC 5685, REDIRECT and REDIRECTED_FROM).
const (
	GatewayIPv4 GatewayIdentityType = 1 // IPv4 address, 4 octets
	GatewayIPv6 GatewayIdentityType = 2 // IPv6 address, 16 octets
	GatewayFQDN GatewayIdentityType = 3 // FQDN (RFC 1035), no terminating NUL
)

// Gateway is the identity of a VPN gateway in REDIRECT or REDIRECTED_FROM:
// an address, or else a fully qualified domain name. The zero value is no
// gateway.
type Gateway struct {
	Addr netip.Addr
	FQDN string
}

// IsZero reports whether g names no gateway.
func (g Gateway) IsZero() bool { return !g.Addr.IsValid() && g.FQDN == "" }

// String returns the address or the name.
func (g Gateway) String() string {
	if g.Addr.IsValid() {
		return g.Addr.String()
	}
	return g.FQDN
}

// ParseGateway reads an address or an FQDN as written in configuration.
func ParseGateway(s string) (Gateway, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return Gateway{Addr: a.Unmap()}, nil
	}
	if !validFQDN(s) {
		return Gateway{}, invalidf("gateway %q is neither an address nor a domain name", s)
	}
	return Gateway{FQDN: strings.TrimSuffix(s, ".")}, nil
}

// validFQDN accepts 1..255 octets of dot-separated labels of letters,
// digits and hyphens (RFC 1035 §2.3.1, RFC 1123 §2.1), each 1..63 octets
// and not starting or ending with a hyphen; a final dot is allowed.
func validFQDN(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 255 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// appendGateway appends GW Ident Type, GW Ident Len and the identity.
func appendGateway(b []byte, g Gateway) ([]byte, error) {
	switch {
	case g.Addr.Is4():
		a := g.Addr.As4()
		return append(append(b, byte(GatewayIPv4), 4), a[:]...), nil
	case g.Addr.Is6():
		a := g.Addr.As16()
		return append(append(b, byte(GatewayIPv6), 16), a[:]...), nil
	case g.FQDN != "" && validFQDN(g.FQDN):
		return append(append(b, byte(GatewayFQDN), byte(len(g.FQDN))), g.FQDN...), nil
	}
	return nil, invalidf("gateway identity %q cannot be encoded", g.String())
}

// parseGateway reads GW Ident Type, GW Ident Len and the identity, and
// returns what follows.
func parseGateway(data []byte) (Gateway, []byte, error) {
	r := &reader{b: data, pt: PayloadNotify}
	var t, n uint8
	if !r.u8(&t) || !r.u8(&n) {
		return Gateway{}, nil, r.fail(ErrTruncated, "gateway identity needs 2 octets")
	}
	var id []byte
	if !r.bytes(int(n), &id) {
		return Gateway{}, nil, r.fail(ErrBadLength, "gateway identity of %d octets exceeds the data", n)
	}
	switch GatewayIdentityType(t) {
	case GatewayIPv4:
		if n != 4 {
			return Gateway{}, nil, r.fail(ErrBadLength, "IPv4 gateway identity of %d octets", n)
		}
		return Gateway{Addr: netip.AddrFrom4([4]byte(id))}, r.rest(), nil
	case GatewayIPv6:
		if n != 16 {
			return Gateway{}, nil, r.fail(ErrBadLength, "IPv6 gateway identity of %d octets", n)
		}
		return Gateway{Addr: netip.AddrFrom16([16]byte(id))}, r.rest(), nil
	case GatewayFQDN:
		if !validFQDN(string(id)) || strings.HasSuffix(string(id), ".") {
			return Gateway{}, nil, r.fail(ErrSyntax, "gateway identity is not a domain name")
		}
		return Gateway{FQDN: string(id)}, r.rest(), nil
	}
	return Gateway{}, nil, r.fail(ErrSyntax, "unknown gateway identity type %d", t)
}

// NewRedirect returns the REDIRECT notification naming the new gateway,
// with the initiator's nonce in an IKE_SA_INIT response and nil elsewhere
// (RFC 5685, REDIRECT and REDIRECTED_FROM).
func NewRedirect(g Gateway, nonce []byte) (*Notify, error) {
	b, err := appendGateway(nil, g)
	if err != nil {
		return nil, err
	}
	return NewNotify(NotifyRedirect, append(b, nonce...)), nil
}

// NewRedirectedFrom returns the REDIRECTED_FROM notification naming the
// gateway that redirected us (RFC 5685, REDIRECT and REDIRECTED_FROM).
func NewRedirectedFrom(g Gateway) (*Notify, error) {
	b, err := appendGateway(nil, g)
	if err != nil {
		return nil, err
	}
	return NewNotify(NotifyRedirectedFrom, b), nil
}

// Redirect decodes the data of a REDIRECT notification: the new gateway
// and the Nonce Data, empty when absent (RFC 5685, REDIRECT and REDIRECTED_FROM). A nonce, when
// present, must have the length of a nonce (16..256 octets, RFC 7296
// §3.9).
func (n *Notify) Redirect() (Gateway, []byte, error) {
	if n.NotifyType != NotifyRedirect {
		return Gateway{}, nil, &ParseError{Payload: PayloadNotify, Reason: "not a REDIRECT notification", Err: ErrSyntax}
	}
	g, nonce, err := parseGateway(n.Data)
	if err != nil {
		return Gateway{}, nil, err
	}
	if len(nonce) > 0 && (len(nonce) < 16 || len(nonce) > 256) {
		return Gateway{}, nil, &ParseError{Payload: PayloadNotify, Reason: "REDIRECT nonce data of " + strconv.Itoa(len(nonce)) + " octets", Err: ErrBadLength}
	}
	return g, clip(nonce), nil
}

// RedirectedFrom decodes the data of a REDIRECTED_FROM notification: the
// gateway identity and nothing after it (RFC 5685, REDIRECT and REDIRECTED_FROM).
func (n *Notify) RedirectedFrom() (Gateway, error) {
	if n.NotifyType != NotifyRedirectedFrom {
		return Gateway{}, &ParseError{Payload: PayloadNotify, Reason: "not a REDIRECTED_FROM notification", Err: ErrSyntax}
	}
	g, rest, err := parseGateway(n.Data)
	if err != nil {
		return Gateway{}, err
	}
	if len(rest) > 0 {
		return Gateway{}, &ParseError{Payload: PayloadNotify, Reason: "REDIRECTED_FROM with trailing octets", Err: ErrBadLength}
	}
	return g, nil
}
