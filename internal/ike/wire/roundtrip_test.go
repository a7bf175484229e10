package wire

import (
	"bytes"
	"errors"
	"reflect"
	"secgw/internal/ipsec"
	"strings"
	"testing"
)

// everyPayload returns at least one value of every payload struct.
func everyPayload() []Payload {
	var ps []Payload
	ps = append(ps, saInitResponse().Payloads...)
	ps = append(ps, authInner()...)
	ps = append(ps, replyInner()...)
	ps = append(ps, childInner()...)
	ps = append(ps, infoInner()...)
	ps = append(ps,
		&Unknown{CriticalFlag: CriticalFlag{Critical: true}, PayloadType: 250, Body: seq(0, 9)},
		&Nonce{CriticalFlag: CriticalFlag{Critical: true}, Data: seq(0, MaxNonceLen)},
		&Nonce{Data: seq(0, MinNonceLen)},
		&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolIKE, SPI: seq(1, 8), Transforms: []Transform{
			{Type: ipsec.TransformEncr, ID: 99, Attributes: []TransformAttribute{
				{Type: 200, Data: []byte("tlv")}, {Type: 201}, KeyLengthAttribute(192),
			}},
		}}}},
		&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolAH, SPI: seq(1, 4)}}},
		&Identification{IDType: IDKeyID, Reserved: [3]byte{1, 2, 3}, Data: []byte("key-id")},
		&Identification{IDType: IDIPv6Addr, Data: seq(0x20, 16)},
		&Identification{IDType: IDRFC822Addr, Data: []byte("user@example.org")},
		&TrafficSelectors{},
		&Configuration{CFGType: CFGAck},
		&Configuration{CFGType: CFGSet, Attributes: []CPAttribute{{Type: 0x7fff, Value: seq(0, 3)}}},
		&Delete{Protocol: ProtocolAH, SPISize: 4},
		&VendorID{},
		&Certificate{Encoding: CertHashURLX509, Data: append(rep(1, 20), "http://ca.example/c"...)},
	)
	return ps
}

func TestPayloadRoundTrip(t *testing.T) {
	for i, p := range everyPayload() {
		b, first, err := AppendPayloadChain(nil, []Payload{p})
		if err != nil {
			t.Fatalf("%d %T: marshal: %v", i, p, err)
		}
		if first != p.Type() {
			t.Errorf("%d: first = %v, want %v", i, first, p.Type())
		}
		got, err := ParsePayloadChain(first, b)
		if err != nil {
			t.Fatalf("%d %T: parse: %v\n% x", i, p, err, b)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], p) {
			t.Fatalf("%d %T: round trip:\n got %#v\nwant %#v", i, p, got, p)
		}
		b2, _, err := AppendPayloadChain(nil, got)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("%d %T: re-marshal differs (%v)", i, p, err)
		}
	}
}

func TestPayloadTypesCovered(t *testing.T) {
	seen := map[PayloadType]bool{}
	for _, p := range everyPayload() {
		seen[p.Type()] = true
	}
	for _, m := range sampleMessages(t) {
		for _, p := range m.msg.Payloads {
			seen[p.Type()] = true
		}
	}
	for pt := PayloadSA; pt <= PayloadSKF; pt++ {
		if pt.known() && !seen[pt] {
			t.Errorf("no round-trip sample for %v", pt)
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, nm := range sampleMessages(t) {
		t.Run(nm.name, func(t *testing.T) {
			b := mustMarshal(t, nm.msg)
			m, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			sameMessage(t, nm.msg, m)
			if m.Header.Length != uint32(len(b)) || !bytes.Equal(m.Raw, b) {
				t.Errorf("Length %d / Raw mismatch for %d octets", m.Header.Length, len(b))
			}
			if len(nm.msg.Payloads) > 0 && m.Header.NextPayload != nm.msg.Payloads[0].Type() {
				t.Errorf("NextPayload = %v", m.Header.NextPayload)
			}
			b2 := mustMarshal(t, m)
			if !bytes.Equal(b, b2) {
				t.Errorf("re-marshal differs")
			}
			// Decrypt (identity) and parse the inner chain where there is one.
			if enc, ok := m.Find(PayloadSK).(*Encrypted); ok {
				off := m.EncryptedBodyOffset()
				if off < HeaderLen || !bytes.Equal(m.Raw[off:], enc.Body) {
					t.Fatalf("EncryptedBodyOffset = %d", off)
				}
				inner, err := ParsePayloadChain(enc.NextPayload, enc.Body[16:len(enc.Body)-16])
				if err != nil {
					t.Fatalf("inner: %v", err)
				}
				orig := nm.msg.Payloads[0].(*Encrypted)
				want, _ := ParsePayloadChain(orig.NextPayload, orig.Body[16:len(orig.Body)-16])
				if !reflect.DeepEqual(inner, want) {
					t.Errorf("inner chain differs")
				}
			}
		})
	}
}

func TestInnerChainsRoundTrip(t *testing.T) {
	for _, inner := range [][]Payload{authInner(), replyInner(), childInner(), infoInner()} {
		b, first, err := AppendPayloadChain(nil, inner)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParsePayloadChain(first, b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, inner) {
			t.Errorf("inner chain round trip:\n got %#v\nwant %#v", got, inner)
		}
	}
}

// TestParseCopiesInput checks that Parse's result does not alias the
// caller's buffer and that parsed slices cannot grow into the message.
func TestParseCopiesInput(t *testing.T) {
	b := mustMarshal(t, saInitRequest())
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0
	}
	ke := m.Find(PayloadKE).(*KE)
	if ke.Data[1] != 1 {
		t.Fatal("parsed message aliases the input buffer")
	}
	before := append([]byte(nil), m.Raw...)
	_ = append(ke.Data, 0xff, 0xff, 0xff, 0xff)
	if !bytes.Equal(before, m.Raw) {
		t.Fatal("appending to a parsed slice overwrote Raw")
	}
}

func TestMarshalErrors(t *testing.T) {
	cases := []struct {
		name string
		ps   []Payload
	}{
		{"empty SA", []Payload{&SA{}}},
		{"SPI size 3", []Payload{&SA{Proposals: []Proposal{{SPI: []byte{1, 2, 3}}}}}},
		{"short nonce", []Payload{&Nonce{Data: seq(0, 15)}}},
		{"long nonce", []Payload{&Nonce{Data: seq(0, 257)}}},
		{"v6 in v4 TS", []Payload{&TrafficSelectors{Selectors: []ipsec.TrafficSelector{{Type: ipsec.TSIPv4AddrRange, StartAddr: v6range("::1", "::2").StartAddr, EndAddr: v6range("::1", "::2").EndAddr}}}}},
		{"TS missing address", []Payload{&TrafficSelectors{Selectors: []ipsec.TrafficSelector{{Type: ipsec.TSIPv6AddrRange}}}}},
		{"delete size mismatch", []Payload{&Delete{Protocol: ProtocolESP, SPISize: 4, SPIs: [][]byte{{1}}}}},
		{"delete size 0 with SPIs", []Payload{&Delete{Protocol: ProtocolESP, SPIs: [][]byte{nil}}}},
		{"short EAP", []Payload{&EAP{Message: []byte{1}}}},
		{"attribute type", []Payload{&Configuration{Attributes: []CPAttribute{{Type: 0x8000}}}}},
		{"huge payload", []Payload{&VendorID{Data: make([]byte, 70000)}}},
		{"SK inside chain", []Payload{&Encrypted{}}},
		{"nil payload", []Payload{nil}},
	}
	for _, c := range cases {
		_, _, err := AppendPayloadChain(nil, c.ps)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "wire: ") {
			t.Errorf("%s: error %q", c.name, err)
		}
	}
	bad := []*Message{
		{Payloads: []Payload{&EncryptedFragment{FragmentNumber: 0, TotalFragments: 1}}},
		{Payloads: []Payload{&EncryptedFragment{FragmentNumber: 2, TotalFragments: 1}}},
		{Payloads: []Payload{&Encrypted{}, &VendorID{}}},
	}
	for i, m := range bad {
		if _, err := m.Marshal(); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad message %d: err = %v", i, err)
		}
	}
}
