package wire

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// checkParseError asserts err is a *ParseError wrapping want.
func checkParseError(t *testing.T, name string, err, want error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", name)
		return
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Errorf("%s: %T is not *ParseError: %v", name, err, err)
	}
	if !strings.HasPrefix(err.Error(), "wire: ") {
		t.Errorf("%s: error %q lacks prefix", name, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", name, err, want)
	}
}

// TestTruncatedPrefixes checks that every strict prefix of a valid message
// fails, both as is (the header Length check catches it) and with the
// header Length patched to the prefix length, which forces the payload
// chain parser to find the truncation.
func TestTruncatedPrefixes(t *testing.T) {
	for _, nm := range sampleMessages(t) {
		b := mustMarshal(t, nm.msg)
		for n := 0; n < len(b); n++ {
			p := append([]byte(nil), b[:n]...)
			if _, err := Parse(p); err == nil {
				t.Fatalf("%s: prefix %d parsed", nm.name, n)
			} else {
				checkParseError(t, nm.name, err, nil)
			}
			if n >= HeaderLen {
				binary.BigEndian.PutUint32(p[24:], uint32(n))
				_, err := Parse(p)
				if n == HeaderLen && len(nm.msg.Payloads) == 0 {
					continue
				}
				if err == nil {
					t.Fatalf("%s: prefix %d with patched length parsed", nm.name, n)
				}
				checkParseError(t, nm.name, err, nil)
			}
		}
	}
	for i, inner := range [][]Payload{authInner(), replyInner(), childInner(), infoInner()} {
		b, first, err := AppendPayloadChain(nil, inner)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n++ {
			if _, err := ParsePayloadChain(first, b[:n]); err == nil {
				t.Fatalf("inner chain %d: prefix %d parsed", i, n)
			} else {
				checkParseError(t, "inner", err, nil)
			}
		}
	}
}

// mutate marshals the KAT message and applies f to a copy.
func mutate(t *testing.T, f func(b []byte) []byte) []byte {
	t.Helper()
	b := decodeKAT(t, katSAInit)
	return f(b)
}

func TestMalformedMessages(t *testing.T) {
	// Offsets into the KAT: SA payload at 28, proposal at 32, transforms at
	// 40 (ENCR, 12 octets), 52, 60, 68; KE at 76; Nonce at 116; notifies at
	// 152, 180, 208, 216.
	setLen := func(b []byte, n uint32) []byte { binary.BigEndian.PutUint32(b[24:], n); return b }
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", make([]byte, 27), ErrTruncated},
		{"IKEv1", mutate(t, func(b []byte) []byte { b[17] = 0x10; return b }), ErrBadVersion},
		{"IKEv3", mutate(t, func(b []byte) []byte { b[17] = 0x30; return b }), ErrBadVersion},
		{"length below header", mutate(t, func(b []byte) []byte { return setLen(b, 27) }), ErrBadLength},
		{"datagram longer", mutate(t, func(b []byte) []byte { return append(b, 0) }), ErrBadLength},
		{"datagram shorter", mutate(t, func(b []byte) []byte { return setLen(b, 231) }), ErrTruncated},
		{"trailing octets", mutate(t, func(b []byte) []byte { return setLen(append(b, 0, 0, 0, 0), 234) }), ErrBadLength},
		{"payload length 3", mutate(t, func(b []byte) []byte { b[31] = 3; b[30] = 0; return b }), ErrBadLength},
		{"payload overruns", mutate(t, func(b []byte) []byte { b[30] = 0xff; return b }), ErrTruncated},
		{"proposal marker 1", mutate(t, func(b []byte) []byte { b[32] = 1; return b }), ErrSyntax},
		{"proposal says more", mutate(t, func(b []byte) []byte { b[32] = 2; return b }), ErrTruncated},
		{"proposal length 7", mutate(t, func(b []byte) []byte { b[35] = 7; return b }), ErrBadLength},
		{"proposal too long", mutate(t, func(b []byte) []byte { b[35] = 0x2d; return b }), ErrBadLength},
		{"proposal short", mutate(t, func(b []byte) []byte { b[35] = 0x28; return b }), ErrBadLength},
		{"SPI size 5", mutate(t, func(b []byte) []byte { b[38] = 5; return b }), ErrSyntax},
		{"SPI eats transform", mutate(t, func(b []byte) []byte { b[38] = 8; return b }), ErrSyntax},
		{"more transforms", mutate(t, func(b []byte) []byte { b[39] = 5; return b }), ErrSyntax},
		{"fewer transforms", mutate(t, func(b []byte) []byte { b[39] = 3; return b }), ErrSyntax},
		{"zero transforms", mutate(t, func(b []byte) []byte { b[39] = 0; return b }), ErrBadLength},
		{"transform marker", mutate(t, func(b []byte) []byte { b[40] = 0; return b }), ErrSyntax},
		{"transform length 7", mutate(t, func(b []byte) []byte { b[43] = 7; return b }), ErrBadLength},
		{"transform overruns", mutate(t, func(b []byte) []byte { b[71] = 0x10; return b }), ErrBadLength},
		{"attribute overruns", mutate(t, func(b []byte) []byte { b[48] = 0x00; return b }), ErrBadLength},
		{"nonce 15", mutate(t, func(b []byte) []byte {
			// Cut the last 17 nonce octets: payload length 36 -> 19.
			b = append(b[:116+4+15], b[152:]...)
			b[119] = 19
			return setLen(b, uint32(len(b)))
		}), ErrSyntax},
		{"KE body 3", mutate(t, func(b []byte) []byte {
			b = append(b[:76+7], b[116:]...)
			b[79] = 7
			return setLen(b, uint32(len(b)))
		}), ErrBadLength},
	}
	for _, c := range cases {
		_, err := Parse(c.b)
		checkParseError(t, c.name, err, c.want)
	}
}

func TestBadVersionKeepsHeader(t *testing.T) {
	b := decodeKAT(t, katSAInit)
	b[17] = 0x31
	h, err := ParseHeader(b)
	if !errors.Is(err, ErrBadVersion) {
		t.Fatalf("err = %v", err)
	}
	if h.SPIi != 0x0102030405060708 || h.MajorVersion != 3 || h.MinorVersion != 1 || h.Exchange != ExchangeIKESAInit {
		t.Errorf("header %+v", h)
	}
	if m, err := Parse(b); m != nil || !errors.Is(err, ErrBadVersion) {
		t.Errorf("Parse = %v, %v", m, err)
	}
}

func TestReservedFlagsCleared(t *testing.T) {
	b := decodeKAT(t, katSAInit)
	b[19] = 0xff
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Flags != FlagInitiator|FlagVersion|FlagResponse {
		t.Errorf("flags %v", m.Header.Flags)
	}
	if got := m.Header.Flags.String(); got != "I|V|R" {
		t.Errorf("flags string %q", got)
	}
}

// chainCase parses a hand-written inner chain.
func TestMalformedChains(t *testing.T) {
	cases := []struct {
		name  string
		first PayloadType
		hex   string
		want  error
	}{
		{"SK inside", PayloadSK, "00 00 00 04", ErrSyntax},
		{"SKF inside", PayloadNonce, "35 00 00 14" + strings.Repeat(" 00", 16) + " 00 00 00 08 00 01 00 01", ErrSyntax},
		{"no payload but bytes", PayloadNone, "00", ErrBadLength},
		{"next but no bytes", PayloadNotify, "", ErrTruncated},
		{"header 3 octets", PayloadVendorID, "00 00 00", ErrTruncated},
		{"nonce 257", PayloadNonce, "00 00 01 05" + strings.Repeat(" 00", 257), ErrSyntax},
		{"delete size 0 count 5", PayloadDelete, "00 00 00 08 01 00 00 05", ErrSyntax},
		{"delete count mismatch", PayloadDelete, "00 00 00 0c 03 04 00 02 01 02 03 04", ErrBadLength},
		{"delete huge count", PayloadDelete, "00 00 00 08 03 04 ff ff", ErrBadLength},
		{"notify SPI overruns", PayloadNotify, "00 00 00 0a 03 08 40 09 01 02", ErrBadLength},
		{"notify 3 octets", PayloadNotify, "00 00 00 07 00 00 40", ErrBadLength},
		{"TS count too high", PayloadTSi, "00 00 00 18 02 00 00 00 07 00 00 10 00 00 ff ff 0a 00 00 00 0a 00 00 ff", ErrBadLength},
		{"TS v4 length 40", PayloadTSi, "00 00 00 30 01 00 00 00 07 00 00 28" + strings.Repeat(" 00", 36), ErrBadLength},
		{"TS v6 length 16", PayloadTSr, "00 00 00 18 01 00 00 00 08 00 00 10" + strings.Repeat(" 00", 12), ErrBadLength},
		{"TS unknown length 3", PayloadTSr, "00 00 00 0c 01 00 00 00 0a 00 00 03", ErrBadLength},
		{"TS trailing", PayloadTSr, "00 00 00 0a 00 00 00 00 01 02", ErrBadLength},
		{"CP attr overruns", PayloadCP, "00 00 00 0c 01 00 00 00 00 01 00 04", ErrBadLength},
		{"CP attr header cut", PayloadCP, "00 00 00 0a 01 00 00 00 00 01", ErrTruncated},
		{"EAP 3 octets", PayloadEAP, "00 00 00 07 01 02 00", ErrBadLength},
		{"SA empty", PayloadSA, "00 00 00 04", ErrSyntax},
		{"SPI no room", PayloadSA, "00 00 00 0c 00 00 00 08 01 03 04 00", ErrBadLength},
		{"attribute header cut", PayloadSA, "00 00 00 16 00 00 00 12 01 01 00 01 00 00 00 0a 01 00 00 0c 80 0e", ErrTruncated},
		{"AUTH 2 octets", PayloadAuth, "00 00 00 06 02 00", ErrBadLength},
		{"ID 1 octet", PayloadIDr, "00 00 00 05 02", ErrBadLength},
		{"CERT empty", PayloadCert, "00 00 00 04", ErrBadLength},
		{"CERTREQ empty", PayloadCertReq, "00 00 00 04", ErrBadLength},
	}
	for _, c := range cases {
		_, err := ParsePayloadChain(c.first, decodeKAT(t, c.hex))
		checkParseError(t, c.name, err, c.want)
	}
}

func TestEncryptedMustBeLast(t *testing.T) {
	// Header + SK (len 8) + a stray Vendor ID that the SK length excludes.
	m := &Message{Header: Header{MajorVersion: 2, Exchange: ExchangeIKEAuth},
		Payloads: []Payload{&Encrypted{NextPayload: PayloadIDi, Body: []byte{1, 2, 3, 4}}}}
	b := mustMarshal(t, m)
	b = append(b, 0, 0, 0, 4)
	binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
	_, err := Parse(b)
	checkParseError(t, "SK not last", err, ErrSyntax)

	for _, fn := range [][2]uint16{{0, 1}, {2, 1}, {1, 0}} {
		b := mustMarshal(t, &Message{Header: Header{MajorVersion: 2}, Payloads: []Payload{
			&EncryptedFragment{FragmentNumber: 1, TotalFragments: 1, Body: []byte{9}},
		}})
		binary.BigEndian.PutUint16(b[32:], fn[0])
		binary.BigEndian.PutUint16(b[34:], fn[1])
		_, err := Parse(b)
		checkParseError(t, "SKF numbers", err, ErrSyntax)
	}
	b = mustMarshal(t, &Message{Header: Header{MajorVersion: 2}, Payloads: []Payload{&EncryptedFragment{FragmentNumber: 1, TotalFragments: 1}}})
	b = b[:len(b)-2]
	b[31] = 6
	binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
	_, err = Parse(b)
	checkParseError(t, "SKF short", err, ErrBadLength)
}

func TestParseErrorString(t *testing.T) {
	_, err := ParsePayloadChain(PayloadNonce, decodeKAT(t, "00 00 00 06 01 02"))
	want := "wire: No payload: nonce of 2 octets outside 16..256 at offset 4 (invalid syntax)"
	if err == nil || err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Offset != 4 || pe.Payload != PayloadNonce {
		t.Errorf("ParseError %+v", pe)
	}
}
