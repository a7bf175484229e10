package radius

import (
	"bytes"
	"crypto/md5"
	"testing"

	lr "layeh.com/radius"
)

// responseAuth is the Response Authenticator of reply b whose
// authenticator field holds the request's (RFC 2865 §3).
func responseAuth(b, secret []byte) []byte {
	h := md5.New()
	h.Write(b)
	h.Write(secret)
	return h.Sum(nil)
}

// TestDecryptSaltedAgainstLayeh: the salt-encryption of RFC 2548 §2.4.2
// and RFC 2868 §3.5, decrypted here, encrypted by layeh.com/radius's
// independent implementation (NewTunnelPassword); and the round trip
// with encryptSalted, for every length across block boundaries.
func TestDecryptSaltedAgainstLayeh(t *testing.T) {
	secret, auth := []byte("xyzzy5461"), bytes.Repeat([]byte{0x42}, 16)
	for n := 1; n <= 70; n++ {
		key := bytes.Repeat([]byte{byte(n)}, n)
		enc, err := lr.NewTunnelPassword(key, []byte{0x81, byte(n)}, secret, auth)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decryptSalted(enc, secret, auth)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("len %d: layeh's encryption decrypts to %x, %v", n, got, err)
		}
		if got, err := decryptSalted(encryptSalted(key, []byte{0x80, 1}, secret, auth), secret, auth); err != nil || !bytes.Equal(got, key) {
			t.Fatalf("len %d: round trip %x, %v", n, got, err)
		}
	}
}

// TestDecryptSaltedRejects: truncated input, a salt without its high
// bit and a length octet beyond the data are refused.
func TestDecryptSaltedRejects(t *testing.T) {
	secret, auth := []byte("s"), make([]byte, 16)
	enc := encryptSalted(bytes.Repeat([]byte{7}, 32), []byte{0x80, 1}, secret, auth)
	for i := range len(enc) {
		if _, err := decryptSalted(enc[:i], secret, auth); err == nil {
			t.Errorf("truncated to %d octets: accepted", i)
		}
	}
	bad := append([]byte(nil), enc...)
	bad[0] &^= 0x80
	if _, err := decryptSalted(bad, secret, auth); err == nil {
		t.Error("salt without its high bit: accepted")
	}
	long := encryptSalted(nil, []byte{0x80, 1}, secret, auth)
	// Make the length octet 200 by flipping the first plain octet.
	long[2] ^= 200
	if _, err := decryptSalted(long, secret, auth); err == nil {
		t.Error("length beyond the data: accepted")
	}
}

// TestCheckReplyTruncated: every prefix of an authentic reply is
// refused.
func TestCheckReplyTruncated(t *testing.T) {
	req := &lr.Packet{Code: lr.CodeAccessRequest, Identifier: 9, Secret: []byte("k")}
	wire, err := encodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	req.Authenticator = [16]byte(wire[4:20])
	b := reply(req, lr.CodeAccessChallenge, []byte("k"), lr.Attributes{{Type: typeEAPMessage, Attribute: []byte{1, 2, 0, 5, 4}}}, true)
	c := New(Config{}, nil)
	if _, err := c.checkReply(b, wire, []byte("k"), "test"); err != nil {
		t.Fatalf("authentic reply refused: %v", err)
	}
	for i := range len(b) {
		if _, err := c.checkReply(b[:i], wire, []byte("k"), "test"); err == nil {
			t.Errorf("prefix of %d octets accepted", i)
		}
	}
}

// FuzzDecode: the decoders of replies (the checks of checkReply, the
// session attributes, the MS-MPPE keys, vendor attributes, the salted
// decryption) never panic on any input, and a reply they accept had a
// valid Response Authenticator.
func FuzzDecode(f *testing.F) {
	req := &lr.Packet{Code: lr.CodeAccessRequest, Identifier: 1, Secret: []byte("k")}
	wire, _ := encodeRequest(req)
	req.Authenticator = [16]byte(wire[4:20])
	f.Add(reply(req, lr.CodeAccessAccept, []byte("k"), lr.Attributes{{Type: typeEAPMessage, Attribute: []byte{3, 1, 0, 4}},
		msVSA(msMPPESendKey, encryptSalted(make([]byte, 32), []byte{0x80, 1}, []byte("k"), wire[4:20])),
		msVSA(msMPPERecvKey, encryptSalted(make([]byte, 32), []byte{0x80, 2}, []byte("k"), wire[4:20])),
		{Type: typeFramedIPAddress, Attribute: addr4("10.0.0.1")}}, true))
	f.Add([]byte{2, 1, 0, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := New(Config{}, nil)
		if p, err := c.checkReply(b, wire, []byte("k"), "fuzz"); err == nil {
			if !lr.IsAuthenticResponse(b, wire, []byte("k")) {
				t.Fatal("accepted a reply whose Response Authenticator does not verify")
			}
			attributes(p)
			msk(p, wire[4:20])
		}
		if p, err := lr.Parse(b, []byte("k")); err == nil {
			attributes(p)
			msk(p, wire[4:20])
		}
		vendorAttrs(b, vendorMicrosoft)
		decryptSalted(b, []byte("k"), wire[4:20])
		checkMessageAuthenticator(b, wire[4:20], []byte("k"))
	})
}

// TestRFC2865Example: the Access-Request and Access-Accept of RFC 2865
// §7.1 (secret "xyzzy5461"): the reply's Response Authenticator
// verifies against the request, and not with another secret; the
// request's User-Password decrypts to "arctangent" (§5.2).
func TestRFC2865Example(t *testing.T) {
	request := []byte{
		0x01, 0x00, 0x00, 0x38, 0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83, 0xd5, 0xcb,
		0x98, 0xf4, 0x22, 0x7a, 0x01, 0x06, 0x6e, 0x65, 0x6d, 0x6f, 0x02, 0x12, 0x0d, 0xbe, 0x70, 0x8d,
		0x93, 0xd4, 0x13, 0xce, 0x31, 0x96, 0xe4, 0x3f, 0x78, 0x2a, 0x0a, 0xee, 0x04, 0x06, 0xc0, 0xa8,
		0x01, 0x10, 0x05, 0x06, 0x00, 0x00, 0x00, 0x03,
	}
	response := []byte{
		0x02, 0x00, 0x00, 0x26, 0x86, 0xfe, 0x22, 0x0e, 0x76, 0x24, 0xba, 0x2a, 0x10, 0x05, 0xf6, 0xbf,
		0x9b, 0x55, 0xe0, 0xb2, 0x06, 0x06, 0x00, 0x00, 0x00, 0x01, 0x0f, 0x06, 0x00, 0x00, 0x00, 0x00,
		0x0e, 0x06, 0xc0, 0xa8, 0x01, 0x03,
	}
	secret := []byte("xyzzy5461")
	c := New(Config{}, nil)
	p, err := c.checkReply(response, request, secret, "rfc")
	if err != nil || p.Code != lr.CodeAccessAccept {
		t.Fatalf("RFC 2865 §7.1 reply refused: %v", err)
	}
	if _, err := c.checkReply(response, request, []byte("xyzzy5462"), "rfc"); err == nil {
		t.Error("the reply verifies with another secret")
	}
	if h := responseAuth(append(append(append([]byte(nil), response[:4]...), request[4:20]...), response[20:]...), secret); !bytes.Equal(h, response[4:20]) {
		t.Errorf("Response Authenticator %x, RFC says %x", h, response[4:20])
	}
	off, n := findAttr(request, typeUserPassword)
	pw, err := lr.UserPassword(request[off:off+n], secret, request[4:20])
	if err != nil || string(pw) != "arctangent" {
		t.Errorf("User-Password %q, %v", pw, err)
	}
}
