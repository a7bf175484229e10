package wire

import (
	"net/netip"
)

// CFGType is the CFG Type of the Configuration payload (RFC 7296 §3.15).
// Its String method (cfgtype_string.go) returns "CFG_REQUEST", ..., or
// "CFGType(n)".
type CFGType uint8

//go:generate go tool stringer -type=CFGType -linecomment

// Configuration payload types (RFC 7296 §3.15).
const (
	CFGRequest CFGType = 1 // CFG_REQUEST
	CFGReply   CFGType = 2 // CFG_REPLY
	CFGSet     CFGType = 3 // CFG_SET
	CFGAck     CFGType = 4 // CFG_ACK
)

// CPAttributeType is the 15-bit Attribute Type of a configuration attribute
// (RFC 7296 §3.15.1, IANA "IKEv2 Configuration Payload Attribute Types").
//
// Values 5, 9 and 11 are Reserved: RFC 4306 defined 9 and 11 as
// INTERNAL_IP6_NETMASK and INTERNAL_IP6_NBNS, and RFC 5996 / RFC 7296
// removed them, so no constants are defined for them; such attributes still
// decode, as raw values.
type CPAttributeType uint16

// Configuration attribute types (RFC 7296 §3.15.1).
const (
	CPInternalIP4Address  CPAttributeType = 1  // INTERNAL_IP4_ADDRESS, 0 or 4 octets
	CPInternalIP4Netmask  CPAttributeType = 2  // INTERNAL_IP4_NETMASK, 0 or 4 octets
	CPInternalIP4DNS      CPAttributeType = 3  // INTERNAL_IP4_DNS, 0 or 4 octets
	CPInternalIP4NBNS     CPAttributeType = 4  // INTERNAL_IP4_NBNS, 0 or 4 octets
	CPInternalIP4DHCP     CPAttributeType = 6  // INTERNAL_IP4_DHCP, 0 or 4 octets
	CPApplicationVersion  CPAttributeType = 7  // APPLICATION_VERSION, 0 or more octets
	CPInternalIP6Address  CPAttributeType = 8  // INTERNAL_IP6_ADDRESS, 0 or 17 octets
	CPInternalIP6DNS      CPAttributeType = 10 // INTERNAL_IP6_DNS, 0 or 16 octets
	CPInternalIP6DHCP     CPAttributeType = 12 // INTERNAL_IP6_DHCP, 0 or 16 octets
	CPInternalIP4Subnet   CPAttributeType = 13 // INTERNAL_IP4_SUBNET, 0 or 8 octets
	CPSupportedAttributes CPAttributeType = 14 // SUPPORTED_ATTRIBUTES, multiple of 2 octets
	CPInternalIP6Subnet   CPAttributeType = 15 // INTERNAL_IP6_SUBNET, 17 octets
)

// CPAttribute is one Configuration Attribute (RFC 7296 §3.15.1).
type CPAttribute struct {
	// Type is the Attribute Type, 15 bits; the leading R bit is reserved
	// and ignored on receipt (RFC 7296 §3.15.1).
	Type CPAttributeType
	// Value is the raw attribute value; empty in a CFG_REQUEST that asks
	// for any value (RFC 7296 §3.15.1).
	Value []byte
}

// Configuration is the CP payload (RFC 7296 §3.15).
type Configuration struct {
	CriticalFlag
	// CFGType is the CFG Type (RFC 7296 §3.15).
	CFGType CFGType
	// Attributes are the Configuration Attributes (RFC 7296 §3.15.1).
	Attributes []CPAttribute
}

// Type returns PayloadCP.
func (*Configuration) Type() PayloadType { return PayloadCP }

// AppendBody appends CFG Type, RESERVED and the attributes (RFC 7296 §3.15).
func (cp *Configuration) AppendBody(b []byte) ([]byte, error) {
	b = append(b, byte(cp.CFGType), 0, 0, 0)
	for _, a := range cp.Attributes {
		if a.Type > 0x7fff {
			return nil, invalidf("configuration attribute type %d exceeds 15 bits", a.Type)
		}
		if len(a.Value) > 0xffff {
			return nil, invalidf("configuration attribute of %d octets", len(a.Value))
		}
		b = appendU16(b, uint16(a.Type))
		b = appendU16(b, uint16(len(a.Value)))
		b = append(b, a.Value...)
	}
	return b, nil
}

func parseConfiguration(c CriticalFlag, r *reader) (*Configuration, error) {
	var t, r1, r2, r3 uint8
	if !r.u8(&t) || !r.u8(&r1) || !r.u8(&r2) || !r.u8(&r3) {
		return nil, r.fail(ErrBadLength, "CP body needs 4 octets")
	}
	cp := &Configuration{CriticalFlag: c, CFGType: CFGType(t)}
	for r.len() > 0 {
		var typ, n uint16
		if !r.u16(&typ) || !r.u16(&n) {
			return nil, r.fail(ErrTruncated, "configuration attribute header")
		}
		a := CPAttribute{Type: CPAttributeType(typ & 0x7fff)}
		if !r.bytes(int(n), &a.Value) {
			return nil, r.fail(ErrBadLength, "configuration attribute length %d exceeds payload", n)
		}
		cp.Attributes = append(cp.Attributes, a)
	}
	return cp, nil
}

// Find returns the values of all attributes of type t, in order.
func (cp *Configuration) Find(t CPAttributeType) [][]byte {
	var out [][]byte
	for _, a := range cp.Attributes {
		if a.Type == t {
			out = append(out, a.Value)
		}
	}
	return out
}

// CPAddr returns an attribute holding a plain address: 4 octets for an
// IPv4 address, 16 for IPv6 (INTERNAL_IP4_ADDRESS, _DNS, _NBNS, _DHCP,
// INTERNAL_IP4_NETMASK, INTERNAL_IP6_DNS, INTERNAL_IP6_DHCP).
func CPAddr(t CPAttributeType, a netip.Addr) CPAttribute {
	return CPAttribute{Type: t, Value: appendAddr(nil, a.Unmap())}
}

// CPPrefix returns an attribute holding an address and prefix: for IPv6
// the 16-octet address followed by the one-octet prefix length
// (INTERNAL_IP6_ADDRESS, INTERNAL_IP6_SUBNET); for IPv4 the address
// followed by the netmask (INTERNAL_IP4_SUBNET) (RFC 7296 §3.15.1).
func CPPrefix(t CPAttributeType, p netip.Prefix) CPAttribute {
	a := p.Addr()
	if a.Is4() {
		mask := ^uint32(0) << (32 - p.Bits())
		if p.Bits() == 0 {
			mask = 0
		}
		return CPAttribute{Type: t, Value: appendU32(appendAddr(nil, a), mask)}
	}
	return CPAttribute{Type: t, Value: append(appendAddr(nil, a), byte(p.Bits()))}
}

// Addr decodes a 4- or 16-octet value as an address.
func (a CPAttribute) Addr() (netip.Addr, bool) {
	switch len(a.Value) {
	case 4:
		return netip.AddrFrom4([4]byte(a.Value)), true
	case 16:
		return netip.AddrFrom16([16]byte(a.Value)), true
	}
	return netip.Addr{}, false
}

// Prefix decodes a 17-octet IPv6 address-and-prefix-length value or an
// 8-octet IPv4 address-and-netmask value. A netmask that is not a
// contiguous run of ones is rejected.
func (a CPAttribute) Prefix() (netip.Prefix, bool) {
	switch len(a.Value) {
	case 17:
		if a.Value[16] > 128 {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(netip.AddrFrom16([16]byte(a.Value[:16])), int(a.Value[16])), true
	case 8:
		m := uint32(a.Value[4])<<24 | uint32(a.Value[5])<<16 | uint32(a.Value[6])<<8 | uint32(a.Value[7])
		bits := 0
		for bits < 32 && m&(1<<(31-bits)) != 0 {
			bits++
		}
		if bits < 32 && m<<bits != 0 {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(a.Value[:4])), bits), true
	}
	return netip.Prefix{}, false
}
