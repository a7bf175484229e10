package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"errors"
)

// messageAuthenticator computes the Message-Authenticator of an encoded
// packet (RFC 3579 §3.2): HMAC-MD5 keyed with the shared secret over
// Type, Identifier, Length, the Request Authenticator (for a request,
// its own; for a reply, the one of the request it answers), and the
// attributes with the Message-Authenticator's value as sixteen zeros.
// off is the offset of that value in pkt.
func messageAuthenticator(pkt []byte, reqAuth []byte, off int, secret []byte) []byte {
	b := make([]byte, len(pkt))
	copy(b, pkt)
	copy(b[4:20], reqAuth)
	clear(b[off : off+16])
	h := hmac.New(md5.New, secret)
	h.Write(b)
	return h.Sum(nil)
}

// findAttr returns the offset of the value of the first attribute of type
// t in an encoded packet, and its length; -1 when there is none or the
// attributes are malformed.
func findAttr(pkt []byte, t byte) (int, int) {
	for i := 20; i+2 <= len(pkt); {
		l := int(pkt[i+1])
		if l < 2 || i+l > len(pkt) {
			return -1, 0
		}
		if pkt[i] == t {
			return i + 2, l - 2
		}
		i += l
	}
	return -1, 0
}

// checkMessageAuthenticator verifies the Message-Authenticator of a
// reply, if it carries one. RFC 3579 §3.2: a reply that carries an
// EAP-Message must carry one, else it is silently discarded.
func checkMessageAuthenticator(reply, reqAuth, secret []byte) error {
	off, l := findAttr(reply, typeMessageAuthenticator)
	if off < 0 {
		if e, _ := findAttr(reply, typeEAPMessage); e >= 0 {
			return errors.New("radius: reply with EAP-Message lacks Message-Authenticator (RFC 3579 §3.2)")
		}
		return nil
	}
	if l != 16 {
		return errors.New("radius: Message-Authenticator of bad length")
	}
	want := messageAuthenticator(reply, reqAuth, off, secret)
	if subtle.ConstantTimeCompare(want, reply[off:off+16]) != 1 {
		return errors.New("radius: wrong Message-Authenticator")
	}
	return nil
}

// decryptSalted reverses the salt-encryption shared by MS-MPPE-Send-Key
// and MS-MPPE-Recv-Key (RFC 2548 §2.4.2, §2.4.3) and Tunnel-Password
// (RFC 2868 §3.5): v is Salt (2 octets, high bit set) then the cipher
// text in 16-octet blocks, c(i) = p(i) xor b(i) with b(1) =
// MD5(S + R + A) and b(i) = MD5(S + c(i-1)), S the shared secret, R the
// Request Authenticator, A the salt. The plain text is a length octet,
// the value, and padding; the value is returned.
func decryptSalted(v, secret, reqAuth []byte) ([]byte, error) {
	if len(v) < 2+16 || (len(v)-2)%16 != 0 {
		return nil, errors.New("radius: salt-encrypted attribute of bad length")
	}
	if v[0]&0x80 == 0 {
		return nil, errors.New("radius: salt without its high bit (RFC 2548 §2.4.2)")
	}
	salt, ct := v[:2], v[2:]
	plain := make([]byte, len(ct))
	prev := append(append([]byte(nil), reqAuth...), salt...)
	for i := 0; i < len(ct); i += 16 {
		h := md5.New()
		h.Write(secret)
		h.Write(prev)
		b := h.Sum(nil)
		for j := range 16 {
			plain[i+j] = ct[i+j] ^ b[j]
		}
		prev = ct[i : i+16]
	}
	n := int(plain[0])
	if n > len(plain)-1 {
		clear(plain)
		return nil, errors.New("radius: salt-encrypted attribute: length beyond its data")
	}
	out := append([]byte(nil), plain[1:1+n]...)
	clear(plain)
	return out, nil
}

// encryptSalted is decryptSalted's inverse, for the test servers.
func encryptSalted(value, salt, secret, reqAuth []byte) []byte {
	p := append([]byte{byte(len(value))}, value...)
	for len(p)%16 != 0 {
		p = append(p, 0)
	}
	out := append([]byte(nil), salt[:2]...)
	prev := append(append([]byte(nil), reqAuth...), salt[:2]...)
	for i := 0; i < len(p); i += 16 {
		h := md5.New()
		h.Write(secret)
		h.Write(prev)
		b := h.Sum(nil)
		c := make([]byte, 16)
		for j := range 16 {
			c[j] = p[i+j] ^ b[j]
		}
		out = append(out, c...)
		prev = c
	}
	return out
}
