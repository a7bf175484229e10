package radius

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	lr "layeh.com/radius"
)

// Outcome is the server's verdict on an Access-Request.
type Outcome uint8

// Outcomes (RFC 2865 §4.2-§4.4).
const (
	Challenge Outcome = iota + 1 // Access-Challenge: more EAP to come
	Accept                       // Access-Accept
	Reject                       // Access-Reject
)

func (o Outcome) String() string {
	switch o {
	case Challenge:
		return "Access-Challenge"
	case Accept:
		return "Access-Accept"
	case Reject:
		return "Access-Reject"
	}
	return fmt.Sprintf("Outcome(%d)", o)
}

// EAPRequest is one EAP message of a peer, for the server (RFC 3579
// §3.1).
type EAPRequest struct {
	// UserName is the peer's EAP identity (RFC 3579 §2.1: User-Name
	// copied from the EAP-Response/Identity).
	UserName string
	// EAP is the whole EAP message of the peer.
	EAP []byte
	// State is the State of the server's last Access-Challenge, sent
	// back unchanged (RFC 2865 §5.24); nil for the first request.
	State []byte
	// Calling is the peer's IKE address (Calling-Station-Id), Called
	// ours (Called-Station-Id).
	Calling, Called netip.Addr
}

// Attributes are what an Access-Accept says about the session besides
// the verdict: the addresses and DNS servers for the configuration
// reply (the vip-pool radius) and the Class to echo in accounting (RFC
// 2865 §5.25).
type Attributes struct {
	// FramedIP is Framed-IP-Address (RFC 2865 §5.8), FramedIPv6
	// Framed-IPv6-Address (RFC 6911 §3.1); invalid when absent.
	FramedIP, FramedIPv6 netip.Addr
	// DNS are MS-Primary-DNS-Server and MS-Secondary-DNS-Server (RFC
	// 2548 §2.2.5, §2.2.6) and DNS-Server-IPv6-Address (RFC 6911 §3.3),
	// in that order.
	DNS []netip.Addr
	// Class is every Class attribute of the Access-Accept.
	Class [][]byte
}

// EAPReply is the server's answer to an EAPRequest.
type EAPReply struct {
	Outcome Outcome
	// EAP is the EAP message to relay to the peer (EAP-Message, RFC 3579
	// §3.1); nil when the server sent none.
	EAP []byte
	// State is to send back with the next request.
	State []byte
	// MSK is MS-MPPE-Recv-Key | MS-MPPE-Send-Key of an Access-Accept
	// (RFC 2548 §2.4.2-§2.4.3, as RFC 3748 §7.10's MSK for the
	// authenticator); nil when the method derived none. Never log it.
	MSK []byte
	// Attributes of an Access-Accept.
	Attributes Attributes
	// Message is the server's Reply-Message, if any, for the log.
	Message string
}

// EAP relays one EAP message to the servers and returns their answer.
func (c *Client) EAP(ctx context.Context, r EAPRequest) (EAPReply, error) {
	if len(r.EAP) < 4 {
		return EAPReply{}, errors.New("radius: EAP message shorter than its header")
	}
	reply, reqAuth, err := c.exchange(ctx, lr.CodeAccessRequest, func(p *lr.Packet) error {
		if err := c.identify(p, r.UserName, r.Calling, r.Called); err != nil {
			return err
		}
		// RFC 3579 §3.1: the EAP message split into EAP-Message
		// attributes of at most 253 octets, in order.
		for b := r.EAP; len(b) > 0; {
			n := min(len(b), 253)
			p.Attributes.Add(typeEAPMessage, lr.Attribute(append([]byte(nil), b[:n]...)))
			b = b[n:]
		}
		if r.State != nil {
			p.Attributes.Add(typeState, lr.Attribute(r.State))
		}
		return nil
	})
	if err != nil {
		return EAPReply{}, err
	}
	out := EAPReply{Message: string(reply.Attributes.Get(typeReplyMessage))}
	switch reply.Code {
	case lr.CodeAccessChallenge:
		out.Outcome = Challenge
	case lr.CodeAccessAccept:
		out.Outcome = Accept
	case lr.CodeAccessReject:
		out.Outcome = Reject
	default:
		return EAPReply{}, fmt.Errorf("radius: unexpected reply code %v to an Access-Request", reply.Code)
	}
	for _, a := range reply.Attributes {
		if a.Type == typeEAPMessage {
			out.EAP = append(out.EAP, a.Attribute...)
		}
	}
	if s, ok := reply.Attributes.Lookup(typeState); ok {
		out.State = append([]byte(nil), s...)
	}
	if out.Outcome == Accept {
		if out.MSK, err = msk(reply, reqAuth); err != nil {
			return EAPReply{}, err
		}
		out.Attributes = attributes(reply)
	}
	return out, nil
}

// PSKPassword is the User-Password of a pre-shared-key-radius
// Access-Request. RFC 2865 §4.1 wants User-Password, CHAP-Password or
// State in every Access-Request; the peer has no password of its own to
// give (it proved nothing yet: its AUTH is checked with the key the
// server returns), so a fixed one is sent, which a server's users entry
// either checks (Cleartext-Password := "secgw") or ignores (Auth-Type :=
// Accept). It is not a secret.
const PSKPassword = "secgw"

// ErrRejected is the error of a PSK lookup the server answered with an
// Access-Reject; ErrNoPSK of one it accepted without a usable
// Tunnel-Password. Both are verdicts, unlike a server that does not
// answer.
var (
	ErrRejected = errors.New("radius: Access-Reject for the identity")
	ErrNoPSK    = errors.New("radius: Access-Accept without a usable Tunnel-Password: no PSK for the identity")
)

// PSK asks the servers for the pre-shared key of a peer identity
// (pre-shared-key-radius): an Access-Request with User-Name the identity
// and User-Password password (PSKPassword), answered by an Access-Accept
// carrying the key in Tunnel-Password (RFC 2868 §3.5). An Access-Reject
// is ErrRejected, an Access-Accept without Tunnel-Password ErrNoPSK
// (wrapped: test with errors.Is). The key is the caller's to clear;
// never log it.
func (c *Client) PSK(ctx context.Context, identity, password string, calling, called netip.Addr) ([]byte, Attributes, error) {
	reply, reqAuth, err := c.exchange(ctx, lr.CodeAccessRequest, func(p *lr.Packet) error {
		if err := c.identify(p, identity, calling, called); err != nil {
			return err
		}
		pw, err := lr.NewUserPassword([]byte(password), p.Secret, p.Authenticator[:])
		if err != nil {
			return err
		}
		p.Attributes.Add(typeUserPassword, pw)
		return nil
	})
	if err != nil {
		return nil, Attributes{}, err
	}
	switch reply.Code {
	case lr.CodeAccessAccept:
	case lr.CodeAccessReject:
		if m := reply.Attributes.Get(typeReplyMessage); len(m) > 0 {
			return nil, Attributes{}, fmt.Errorf("%w (Reply-Message %q)", ErrRejected, m)
		}
		return nil, Attributes{}, ErrRejected
	default:
		return nil, Attributes{}, fmt.Errorf("radius: unexpected %v for the identity's PSK", reply.Code)
	}
	tp, ok := reply.Attributes.Lookup(typeTunnelPassword)
	if !ok || len(tp) < 1 {
		return nil, Attributes{}, ErrNoPSK
	}
	// RFC 2868 §3.5: a Tag octet (0 here: one tunnel), then the
	// salt-encrypted string.
	psk, err := decryptSalted(tp[1:], reply.Secret, reqAuth)
	if err != nil {
		return nil, Attributes{}, fmt.Errorf("%w: %w", ErrNoPSK, err)
	}
	if len(psk) == 0 {
		return nil, Attributes{}, fmt.Errorf("%w: empty Tunnel-Password", ErrNoPSK)
	}
	return psk, attributes(reply), nil
}

// identify adds what identifies the request: User-Name, the NAS, the
// station identifiers and the port type (RFC 2865 §5; RFC 3580 style
// for a VPN: NAS-Port-Type Virtual).
func (c *Client) identify(p *lr.Packet, user string, calling, called netip.Addr) error {
	if user == "" {
		return errors.New("radius: empty User-Name")
	}
	if len(user) > 253 {
		return errors.New("radius: User-Name longer than 253 octets")
	}
	p.Attributes.Add(typeUserName, lr.Attribute(user))
	cfg, _ := c.snapshot()
	nas := cfg.NASIdentifier
	if nas == "" {
		nas = "secgw"
	}
	p.Attributes.Add(typeNASIdentifier, lr.Attribute(nas))
	p.Attributes.Add(typeNASPortType, lr.NewInteger(nasPortTypeVirtual))
	p.Attributes.Add(typeServiceType, lr.NewInteger(2)) // Framed (RFC 2865 §5.6)
	if calling.IsValid() {
		p.Attributes.Add(typeCallingStationID, lr.Attribute(calling.String()))
	}
	if called.IsValid() {
		p.Attributes.Add(typeCalledStationID, lr.Attribute(called.String()))
	}
	return nil
}

// msk decrypts the MS-MPPE keys of an Access-Accept; nil when it has
// none (the EAP method derived no key, EAP-MD5 say).
func msk(reply *lr.Packet, reqAuth []byte) ([]byte, error) {
	var send, recv []byte
	for _, a := range reply.Attributes {
		if a.Type != typeVendorSpecific {
			continue
		}
		for _, v := range vendorAttrs(a.Attribute, vendorMicrosoft) {
			if v.typ != msMPPESendKey && v.typ != msMPPERecvKey {
				continue
			}
			k, err := decryptSalted(v.value, reply.Secret, reqAuth)
			if err != nil {
				return nil, fmt.Errorf("radius: MS-MPPE key: %w", err)
			}
			if v.typ == msMPPESendKey {
				send = k
			} else {
				recv = k
			}
		}
	}
	if send == nil && recv == nil {
		return nil, nil
	}
	if send == nil || recv == nil {
		return nil, errors.New("radius: Access-Accept with only one of the MS-MPPE keys")
	}
	return append(recv, send...), nil
}

type vsa struct {
	typ   byte
	value []byte
}

// vendorAttrs splits a Vendor-Specific attribute of the vendor into its
// sub-attributes (RFC 2865 §5.26: Vendor-Id, then type-length-value as
// RFC 2548 lays them out); nil when it is another vendor's or malformed.
func vendorAttrs(b []byte, vendor uint32) []vsa {
	if len(b) < 4 || uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]) != vendor {
		return nil
	}
	var out []vsa
	for b = b[4:]; len(b) > 0; {
		if len(b) < 2 || b[1] < 2 || int(b[1]) > len(b) {
			return nil
		}
		out = append(out, vsa{b[0], b[2:b[1]]})
		b = b[b[1]:]
	}
	return out
}

// attributes reads the session attributes of an Access-Accept.
func attributes(reply *lr.Packet) Attributes {
	var a Attributes
	var dns6 []netip.Addr
	var primary, secondary netip.Addr
	for _, x := range reply.Attributes {
		switch x.Type {
		case typeFramedIPAddress:
			if ip, ok := netip.AddrFromSlice(x.Attribute); ok && ip.Is4() {
				a.FramedIP = ip
			}
		case typeFramedIPv6Address:
			if ip, ok := netip.AddrFromSlice(x.Attribute); ok && ip.Is6() {
				a.FramedIPv6 = ip
			}
		case typeDNSServerIPv6Address:
			if ip, ok := netip.AddrFromSlice(x.Attribute); ok && ip.Is6() {
				dns6 = append(dns6, ip)
			}
		case typeClass:
			a.Class = append(a.Class, append([]byte(nil), x.Attribute...))
		case typeVendorSpecific:
			for _, v := range vendorAttrs(x.Attribute, vendorMicrosoft) {
				ip, ok := netip.AddrFromSlice(v.value)
				if !ok || !ip.Is4() {
					continue
				}
				switch v.typ {
				case msPrimaryDNSServer:
					primary = ip
				case msSecondaryDNSServer:
					secondary = ip
				}
			}
		}
	}
	for _, ip := range []netip.Addr{primary, secondary} {
		if ip.IsValid() {
			a.DNS = append(a.DNS, ip)
		}
	}
	a.DNS = append(a.DNS, dns6...)
	return a
}
