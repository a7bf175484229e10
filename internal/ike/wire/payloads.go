package wire

import (
	"net/netip"
	"secgw/internal/ipsec"
)

// KE is the Key Exchange payload (RFC 7296 §3.4).
type KE struct {
	CriticalFlag
	// Group is the Diffie-Hellman Group Num, a Transform Type 4 ID
	// (RFC 7296 §3.4).
	Group ipsec.TransformID
	// Data is the Key Exchange Data, the sender's public value
	// (RFC 7296 §3.4).
	Data []byte
}

// Type returns PayloadKE.
func (*KE) Type() PayloadType { return PayloadKE }

// AppendBody appends group, RESERVED and data (RFC 7296 §3.4).
func (k *KE) AppendBody(b []byte) ([]byte, error) {
	b = appendU16(b, uint16(k.Group))
	b = append(b, 0, 0)
	return append(b, k.Data...), nil
}

func parseKE(c CriticalFlag, r *reader) (*KE, error) {
	var g, reserved uint16
	if !r.u16(&g) || !r.u16(&reserved) {
		return nil, r.fail(ErrBadLength, "KE body needs 4 octets")
	}
	return &KE{CriticalFlag: c, Group: ipsec.TransformID(g), Data: r.rest()}, nil
}

// IDType is the ID Type of an Identification payload (RFC 7296 §3.5).
type IDType uint8

// Identification types (RFC 7296 §3.5, IANA "IKEv2 Identification Payload
// ID Types").
const (
	IDIPv4Addr   IDType = 1  // ID_IPV4_ADDR: four-octet IPv4 address
	IDFQDN       IDType = 2  // ID_FQDN: fully-qualified domain name
	IDRFC822Addr IDType = 3  // ID_RFC822_ADDR: email address
	IDIPv6Addr   IDType = 5  // ID_IPV6_ADDR: sixteen-octet IPv6 address
	IDDERASN1DN  IDType = 9  // ID_DER_ASN1_DN: DER X.500 Distinguished Name
	IDDERASN1GN  IDType = 10 // ID_DER_ASN1_GN: DER X.509 GeneralName
	IDKeyID      IDType = 11 // ID_KEY_ID: opaque octet stream
	IDNull       IDType = 13 // ID_NULL (RFC 7619)
)

// Identification is the IDi or IDr payload (RFC 7296 §3.5).
type Identification struct {
	CriticalFlag
	// Responder selects IDr (payload type 36) instead of IDi (35)
	// (RFC 7296 §3.5).
	Responder bool
	// IDType is the ID Type (RFC 7296 §3.5).
	IDType IDType
	// Reserved holds the three RESERVED octets as received. Senders use
	// zero; the octets are kept because the AUTH computation covers them
	// (RFC 7296 §2.15), so verification must use the received values.
	Reserved [3]byte
	// Data is the Identification Data (RFC 7296 §3.5).
	Data []byte
}

// Type returns PayloadIDi or PayloadIDr.
func (id *Identification) Type() PayloadType {
	if id.Responder {
		return PayloadIDr
	}
	return PayloadIDi
}

// AppendBody appends ID Type, RESERVED and data (RFC 7296 §3.5).
func (id *Identification) AppendBody(b []byte) ([]byte, error) {
	b = append(b, byte(id.IDType), id.Reserved[0], id.Reserved[1], id.Reserved[2])
	return append(b, id.Data...), nil
}

// SignedOctets returns the payload body without the generic header, i.e.
// ID Type | RESERVED | Identification Data: the value RFC 7296 §2.15 calls
// RestOfInitIDPayload / RestOfRespIDPayload, which goes through
// prf(SK_pi, ...) or prf(SK_pr, ...) into the signed octets of AUTH.
func (id *Identification) SignedOctets() []byte {
	b, _ := id.AppendBody(make([]byte, 0, 4+len(id.Data)))
	return b
}

// Addr returns the address of an ID_IPV4_ADDR or ID_IPV6_ADDR identity.
func (id *Identification) Addr() (netip.Addr, bool) {
	switch {
	case id.IDType == IDIPv4Addr && len(id.Data) == 4:
		return netip.AddrFrom4([4]byte(id.Data)), true
	case id.IDType == IDIPv6Addr && len(id.Data) == 16:
		return netip.AddrFrom16([16]byte(id.Data)), true
	}
	return netip.Addr{}, false
}

func parseIdentification(t PayloadType, c CriticalFlag, r *reader) (*Identification, error) {
	id := &Identification{CriticalFlag: c, Responder: t == PayloadIDr}
	var typ uint8
	if !r.u8(&typ) || !r.u8(&id.Reserved[0]) || !r.u8(&id.Reserved[1]) || !r.u8(&id.Reserved[2]) {
		return nil, r.fail(ErrBadLength, "ID body needs 4 octets")
	}
	id.IDType = IDType(typ)
	id.Data = r.rest()
	return id, nil
}

// CertEncoding is the Certificate Encoding of CERT and CERTREQ payloads
// (RFC 7296 §3.6, IANA "IKEv2 Certificate Encodings").
type CertEncoding uint8

// Certificate encodings.
const (
	CertPKCS7X509         CertEncoding = 1  // PKCS #7 wrapped X.509 certificate
	CertPGP               CertEncoding = 2  // PGP Certificate
	CertDNSSignedKey      CertEncoding = 3  // DNS Signed Key
	CertX509Signature     CertEncoding = 4  // X.509 Certificate - Signature
	CertKerberos          CertEncoding = 6  // Kerberos Token
	CertCRL               CertEncoding = 7  // Certificate Revocation List (CRL)
	CertARL               CertEncoding = 8  // Authority Revocation List (ARL)
	CertSPKI              CertEncoding = 9  // SPKI Certificate
	CertX509Attribute     CertEncoding = 10 // X.509 Certificate - Attribute
	CertRawRSAKey         CertEncoding = 11 // Raw RSA Key (deprecated)
	CertHashURLX509       CertEncoding = 12 // Hash and URL of X.509 certificate
	CertHashURLX509Bundle CertEncoding = 13 // Hash and URL of X.509 bundle
	CertOCSPContent       CertEncoding = 14 // OCSP Content (RFC 4806)
	CertRawPublicKey      CertEncoding = 15 // Raw Public Key (RFC 7670)
)

// Certificate is the CERT payload (RFC 7296 §3.6).
type Certificate struct {
	CriticalFlag
	// Encoding is the Cert Encoding (RFC 7296 §3.6).
	Encoding CertEncoding
	// Data is the Certificate Data (RFC 7296 §3.6).
	Data []byte
}

// Type returns PayloadCert.
func (*Certificate) Type() PayloadType { return PayloadCert }

// AppendBody appends encoding and data (RFC 7296 §3.6).
func (c *Certificate) AppendBody(b []byte) ([]byte, error) {
	return append(append(b, byte(c.Encoding)), c.Data...), nil
}

func parseCertificate(c CriticalFlag, r *reader) (*Certificate, error) {
	var enc uint8
	if !r.u8(&enc) {
		return nil, r.fail(ErrBadLength, "CERT body needs 1 octet")
	}
	return &Certificate{CriticalFlag: c, Encoding: CertEncoding(enc), Data: r.rest()}, nil
}

// CertRequest is the CERTREQ payload (RFC 7296 §3.7).
type CertRequest struct {
	CriticalFlag
	// Encoding is the Cert Encoding requested (RFC 7296 §3.7).
	Encoding CertEncoding
	// Authorities is the Certification Authority field; for X.509 it is a
	// concatenation of 20-octet SHA-1 hashes of trust anchor public keys
	// (RFC 7296 §3.7).
	Authorities []byte
}

// Type returns PayloadCertReq.
func (*CertRequest) Type() PayloadType { return PayloadCertReq }

// AppendBody appends encoding and CA data (RFC 7296 §3.7).
func (c *CertRequest) AppendBody(b []byte) ([]byte, error) {
	return append(append(b, byte(c.Encoding)), c.Authorities...), nil
}

// Hashes splits an X.509 Authorities field into its 20-octet SHA-1 key
// hashes; ok is false if the length is not a multiple of 20.
func (c *CertRequest) Hashes() (hashes [][]byte, ok bool) {
	if len(c.Authorities)%20 != 0 {
		return nil, false
	}
	for i := 0; i < len(c.Authorities); i += 20 {
		hashes = append(hashes, c.Authorities[i:i+20:i+20])
	}
	return hashes, true
}

func parseCertRequest(c CriticalFlag, r *reader) (*CertRequest, error) {
	var enc uint8
	if !r.u8(&enc) {
		return nil, r.fail(ErrBadLength, "CERTREQ body needs 1 octet")
	}
	return &CertRequest{CriticalFlag: c, Encoding: CertEncoding(enc), Authorities: r.rest()}, nil
}

// AuthMethod is the Auth Method of the AUTH payload (RFC 7296 §3.8, IANA
// "IKEv2 Authentication Method").
type AuthMethod uint8

// Authentication methods.
const (
	AuthRSASignature     AuthMethod = 1  // RSA Digital Signature (RFC 7296)
	AuthSharedKeyMIC     AuthMethod = 2  // Shared Key Message Integrity Code (RFC 7296)
	AuthDSSSignature     AuthMethod = 3  // DSS Digital Signature (RFC 7296)
	AuthECDSASHA256P256  AuthMethod = 9  // ECDSA with SHA-256 on P-256 (RFC 4754)
	AuthECDSASHA384P384  AuthMethod = 10 // ECDSA with SHA-384 on P-384 (RFC 4754)
	AuthECDSASHA512P521  AuthMethod = 11 // ECDSA with SHA-512 on P-521 (RFC 4754)
	AuthGSPM             AuthMethod = 12 // Generic Secure Password Authentication (RFC 6467)
	AuthNull             AuthMethod = 13 // NULL Authentication (RFC 7619)
	AuthDigitalSignature AuthMethod = 14 // Digital Signature (RFC 7427)
)

// Auth is the AUTH payload (RFC 7296 §3.8).
type Auth struct {
	CriticalFlag
	// Method is the Auth Method (RFC 7296 §3.8).
	Method AuthMethod
	// Data is the Authentication Data (RFC 7296 §3.8); for method 14 it
	// starts with the ASN.1 AlgorithmIdentifier (RFC 7427 §3).
	Data []byte
}

// Type returns PayloadAuth.
func (*Auth) Type() PayloadType { return PayloadAuth }

// AppendBody appends method, RESERVED and data (RFC 7296 §3.8).
func (a *Auth) AppendBody(b []byte) ([]byte, error) {
	return append(append(b, byte(a.Method), 0, 0, 0), a.Data...), nil
}

func parseAuth(c CriticalFlag, r *reader) (*Auth, error) {
	var m, r1, r2, r3 uint8
	if !r.u8(&m) || !r.u8(&r1) || !r.u8(&r2) || !r.u8(&r3) {
		return nil, r.fail(ErrBadLength, "AUTH body needs 4 octets")
	}
	return &Auth{CriticalFlag: c, Method: AuthMethod(m), Data: r.rest()}, nil
}

// Nonce size limits (RFC 7296 §3.9).
const (
	MinNonceLen = 16
	MaxNonceLen = 256
)

// Nonce is the Ni or Nr payload (RFC 7296 §3.9).
type Nonce struct {
	CriticalFlag
	// Data is the Nonce Data, 16 to 256 octets (RFC 7296 §3.9).
	Data []byte
}

// Type returns PayloadNonce.
func (*Nonce) Type() PayloadType { return PayloadNonce }

// AppendBody appends the nonce, which must be 16 to 256 octets.
func (n *Nonce) AppendBody(b []byte) ([]byte, error) {
	if len(n.Data) < MinNonceLen || len(n.Data) > MaxNonceLen {
		return nil, invalidf("nonce of %d octets outside 16..256", len(n.Data))
	}
	return append(b, n.Data...), nil
}

func parseNonce(c CriticalFlag, r *reader) (*Nonce, error) {
	if r.len() < MinNonceLen || r.len() > MaxNonceLen {
		return nil, r.fail(ErrSyntax, "nonce of %d octets outside 16..256", r.len())
	}
	return &Nonce{CriticalFlag: c, Data: r.rest()}, nil
}

// Delete is the Delete payload (RFC 7296 §3.11).
type Delete struct {
	CriticalFlag
	// Protocol is the Protocol ID: IKE, AH or ESP (RFC 7296 §3.11).
	Protocol ProtocolID
	// SPISize is the SPI Size: 0 for IKE, 4 for AH and ESP (RFC 7296 §3.11).
	SPISize uint8
	// SPIs lists the SPIs, each SPISize octets; empty for IKE. Its length is
	// the Num of SPIs field (RFC 7296 §3.11).
	SPIs [][]byte
}

// Type returns PayloadDelete.
func (*Delete) Type() PayloadType { return PayloadDelete }

// AppendBody appends the protocol, sizes and SPIs (RFC 7296 §3.11).
func (d *Delete) AppendBody(b []byte) ([]byte, error) {
	if len(d.SPIs) > 0xffff {
		return nil, invalidf("%d SPIs in a Delete payload", len(d.SPIs))
	}
	if d.SPISize == 0 && len(d.SPIs) != 0 {
		return nil, invalidf("Delete payload with SPI size 0 lists %d SPIs", len(d.SPIs))
	}
	b = append(b, byte(d.Protocol), d.SPISize)
	b = appendU16(b, uint16(len(d.SPIs)))
	for _, spi := range d.SPIs {
		if len(spi) != int(d.SPISize) {
			return nil, invalidf("Delete SPI of %d octets, SPI size %d", len(spi), d.SPISize)
		}
		b = append(b, spi...)
	}
	return b, nil
}

// parseDelete requires the body to be exactly 4 + count*size octets. A zero
// SPI size with a non-zero count is rejected: it would describe up to 65535
// empty SPIs without consuming any input.
func parseDelete(c CriticalFlag, r *reader) (*Delete, error) {
	d := &Delete{CriticalFlag: c}
	var proto uint8
	var n uint16
	if !r.u8(&proto) || !r.u8(&d.SPISize) || !r.u16(&n) {
		return nil, r.fail(ErrBadLength, "Delete body needs 4 octets")
	}
	d.Protocol = ProtocolID(proto)
	if d.SPISize == 0 && n != 0 {
		return nil, r.fail(ErrSyntax, "SPI size 0 with %d SPIs", n)
	}
	if r.len() != int(n)*int(d.SPISize) {
		return nil, r.fail(ErrBadLength, "%d SPIs of %d octets need %d octets, have %d", n, d.SPISize, int(n)*int(d.SPISize), r.len())
	}
	if n > 0 {
		d.SPIs = make([][]byte, n) // bounded by the check above
		for i := range d.SPIs {
			r.bytes(int(d.SPISize), &d.SPIs[i])
		}
	}
	return d, nil
}

// VendorID is the Vendor ID payload (RFC 7296 §3.12).
type VendorID struct {
	CriticalFlag
	// Data is the Vendor ID, typically a hash of a vendor string
	// (RFC 7296 §3.12).
	Data []byte
}

// Type returns PayloadVendorID.
func (*VendorID) Type() PayloadType { return PayloadVendorID }

// AppendBody appends the Vendor ID (RFC 7296 §3.12).
func (v *VendorID) AppendBody(b []byte) ([]byte, error) { return append(b, v.Data...), nil }

// EAP is the Extensible Authentication payload (RFC 7296 §3.16), carried
// raw: the caller's EAP layer (RFC 3748) interprets it.
type EAP struct {
	CriticalFlag
	// Message is the complete EAP message: Code, Identifier, Length, and
	// Type and Type_Data where present (RFC 7296 §3.16, RFC 3748 §4).
	Message []byte
}

// Type returns PayloadEAP.
func (*EAP) Type() PayloadType { return PayloadEAP }

// AppendBody appends the EAP message, which must hold at least the four
// octets of the EAP header.
func (e *EAP) AppendBody(b []byte) ([]byte, error) {
	if len(e.Message) < 4 {
		return nil, invalidf("EAP message of %d octets", len(e.Message))
	}
	return append(b, e.Message...), nil
}

// Code returns the EAP Code (1 Request, 2 Response, 3 Success, 4 Failure).
func (e *EAP) Code() uint8 {
	if len(e.Message) == 0 {
		return 0
	}
	return e.Message[0]
}

func parseEAP(c CriticalFlag, r *reader) (*EAP, error) {
	if r.len() < 4 {
		return nil, r.fail(ErrBadLength, "EAP message of %d octets, header needs 4", r.len())
	}
	return &EAP{CriticalFlag: c, Message: r.rest()}, nil
}

// Unknown is a payload of a type this package does not decode. RFC 7296
// §2.5: if Critical is set the message must be rejected (see
// CheckCritical), otherwise the payload is skipped (see SkipUnknown).
type Unknown struct {
	CriticalFlag
	// PayloadType is the type found in the previous Next Payload field
	// (RFC 7296 §3.2).
	PayloadType PayloadType
	// Body is the payload without its generic header, which RFC 7296 §3.2
	// lets a receiver skip using Payload Length.
	Body []byte
}

// Type returns u.PayloadType.
func (u *Unknown) Type() PayloadType { return u.PayloadType }

// AppendBody appends the raw body.
func (u *Unknown) AppendBody(b []byte) ([]byte, error) { return append(b, u.Body...), nil }

// Encrypted is the Encrypted and Authenticated payload, SK (RFC 7296
// §3.14). Parse stops at it; decrypt Body and decode the plaintext (without
// padding, Pad Length and ICV) with ParsePayloadChain(NextPayload, ...).
type Encrypted struct {
	CriticalFlag
	// NextPayload is the type of the first inner payload, written in the
	// SK payload's own Next Payload field (RFC 7296 §3.2, §3.14).
	NextPayload PayloadType
	// Body is Initialization Vector | encrypted IKE payloads, padding and
	// Pad Length | Integrity Checksum Data, undivided: their sizes depend
	// on the negotiated algorithms (RFC 7296 §3.14, RFC 5282 §3).
	Body []byte
}

// Type returns PayloadSK.
func (*Encrypted) Type() PayloadType { return PayloadSK }

// AppendBody appends the body as is.
func (e *Encrypted) AppendBody(b []byte) ([]byte, error) { return append(b, e.Body...), nil }

// EncryptedFragment is the Encrypted and Authenticated Fragment payload,
// SKF (RFC 7383 §2.5). The plaintexts of fragments 1..TotalFragments,
// concatenated, form the inner chain whose first type is the NextPayload
// of fragment 1.
type EncryptedFragment struct {
	CriticalFlag
	// NextPayload is the first inner payload type in fragment 1 and zero in
	// the others (RFC 7383 §2.5).
	NextPayload PayloadType
	// FragmentNumber is the fragment's number, 1..TotalFragments
	// (RFC 7383 §2.5).
	FragmentNumber uint16
	// TotalFragments is the number of fragments, not zero (RFC 7383 §2.5).
	TotalFragments uint16
	// Body is IV | encrypted content | ICV, undivided (RFC 7383 §2.5).
	Body []byte
}

// Type returns PayloadSKF.
func (*EncryptedFragment) Type() PayloadType { return PayloadSKF }

// AppendBody appends the fragment counters and the body (RFC 7383 §2.5).
func (f *EncryptedFragment) AppendBody(b []byte) ([]byte, error) {
	if f.FragmentNumber == 0 || f.FragmentNumber > f.TotalFragments {
		return nil, invalidf("fragment %d of %d", f.FragmentNumber, f.TotalFragments)
	}
	b = appendU16(b, f.FragmentNumber)
	b = appendU16(b, f.TotalFragments)
	return append(b, f.Body...), nil
}

func parseEncrypted(t, next PayloadType, c CriticalFlag, r *reader) (Payload, error) {
	if t == PayloadSK {
		return &Encrypted{CriticalFlag: c, NextPayload: next, Body: r.rest()}, nil
	}
	f := &EncryptedFragment{CriticalFlag: c, NextPayload: next}
	if !r.u16(&f.FragmentNumber) || !r.u16(&f.TotalFragments) {
		return nil, r.fail(ErrBadLength, "SKF body needs 4 octets")
	}
	// RFC 7383 §2.5: Fragment Number MUST NOT be zero and MUST be less than
	// or equal to Total Fragments, which MUST NOT be zero.
	if f.FragmentNumber == 0 || f.FragmentNumber > f.TotalFragments {
		return nil, r.fail(ErrSyntax, "fragment %d of %d", f.FragmentNumber, f.TotalFragments)
	}
	f.Body = r.rest()
	return f, nil
}
