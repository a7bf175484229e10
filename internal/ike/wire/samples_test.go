package wire

import (
	"bytes"
	"net/netip"
	"reflect"
	"secgw/internal/ipsec"
	"testing"
)

// seq returns n bytes starting at start and counting up.
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func rep(v byte, n int) []byte { return bytes.Repeat([]byte{v}, n) }

// ikeProposal is the IKE proposal of the known-answer IKE_SA_INIT request.
func ikeProposal() Proposal {
	return Proposal{
		Number: 1, Protocol: ProtocolIKE,
		Transforms: []Transform{
			{Type: ipsec.TransformEncr, ID: ipsec.EncrAESCBC, Attributes: []TransformAttribute{KeyLengthAttribute(256)}},
			{Type: ipsec.TransformPRF, ID: ipsec.PRFHMACSHA2_256},
			{Type: ipsec.TransformInteg, ID: ipsec.IntegHMACSHA2_256_128},
			{Type: ipsec.TransformKE, ID: ipsec.GroupCurve25519},
		},
	}
}

// saInitRequest is the message encoded by hand in kat_test.go.
func saInitRequest() *Message {
	return &Message{
		Header: Header{
			SPIi: 0x0102030405060708, MajorVersion: 2, Exchange: ExchangeIKESAInit,
			Flags: FlagInitiator,
		},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{ikeProposal()}},
			&KE{Group: ipsec.GroupCurve25519, Data: seq(0x00, 32)},
			&Nonce{Data: seq(0x40, 32)},
			NewNotify(NotifyNATDetectionSourceIP, rep(0x11, 20)),
			NewNotify(NotifyNATDetectionDestinationIP, rep(0x22, 20)),
			NewNotify(NotifyIKEv2FragmentationSupported, nil),
			SignatureHashAlgorithms(HashSHA2_256, HashSHA2_384, HashSHA2_512),
		},
	}
}

func saInitResponse() *Message {
	p := ikeProposal()
	p.Transforms = []Transform{
		{Type: ipsec.TransformEncr, ID: ipsec.EncrAESGCM16, Attributes: []TransformAttribute{KeyLengthAttribute(256)}},
		{Type: ipsec.TransformPRF, ID: ipsec.PRFHMACSHA2_384},
		{Type: ipsec.TransformKE, ID: ipsec.GroupECP384},
	}
	return &Message{
		Header: Header{
			SPIi: 0x0102030405060708, SPIr: 0xa1a2a3a4a5a6a7a8, MajorVersion: 2,
			Exchange: ExchangeIKESAInit, Flags: FlagResponse,
		},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{p}},
			&KE{Group: ipsec.GroupECP384, Data: seq(0x80, 96)},
			&Nonce{Data: seq(0x10, 48)},
			NewNotify(NotifyNATDetectionSourceIP, rep(0x33, 20)),
			NewNotify(NotifyNATDetectionDestinationIP, rep(0x44, 20)),
			&CertRequest{Encoding: CertX509Signature, Authorities: rep(0x55, 40)},
			NewNotify(NotifyMultipleAuthSupported, nil),
			NewNotify(NotifyChildlessIKEv2Supported, nil),
			&VendorID{Data: []byte("secgw test vendor")},
		},
	}
}

// cookieResponse is an IKE_SA_INIT response asking for a cookie and an
// INVALID_KE_PAYLOAD rejection combined with an unknown payload.
func cookieResponse() *Message {
	return &Message{
		Header: Header{SPIi: 7, MajorVersion: 2, Exchange: ExchangeIKESAInit, Flags: FlagResponse},
		Payloads: []Payload{
			NewNotify(NotifyCookie, seq(0x90, 32)),
			InvalidKEPayload(ipsec.GroupMODP2048),
			&Unknown{PayloadType: 200, Body: []byte{1, 2, 3}},
		},
	}
}

func espProposals() []Proposal {
	return []Proposal{
		{
			Number: 1, Protocol: ProtocolESP, SPI: []byte{0xc0, 0x01, 0x02, 0x03},
			Transforms: []Transform{
				{Type: ipsec.TransformEncr, ID: ipsec.EncrAESGCM16, Attributes: []TransformAttribute{KeyLengthAttribute(128)}},
				{Type: ipsec.TransformEncr, ID: ipsec.EncrChaCha20Poly1305},
				{Type: ipsec.TransformESN, ID: ipsec.ESNDisabled},
			},
		},
		{
			Number: 2, Protocol: ProtocolESP, SPI: []byte{0xc0, 0x01, 0x02, 0x03},
			Transforms: []Transform{
				{Type: ipsec.TransformEncr, ID: ipsec.EncrAESCBC, Attributes: []TransformAttribute{KeyLengthAttribute(256)}},
				{Type: ipsec.TransformInteg, ID: ipsec.IntegHMACSHA2_512_256},
				{Type: ipsec.TransformInteg, ID: ipsec.IntegHMACSHA1_96},
				{Type: ipsec.TransformKE, ID: ipsec.GroupMODP3072},
				{Type: ipsec.TransformESN, ID: ipsec.ESNEnabled},
			},
		},
	}
}

func v4range(proto uint8, a, z string) ipsec.TrafficSelector {
	return ipsec.TrafficSelector{
		Type: ipsec.TSIPv4AddrRange, IPProtocol: proto, StartPort: 0, EndPort: 65535,
		StartAddr: netip.MustParseAddr(a), EndAddr: netip.MustParseAddr(z),
	}
}

func v6range(a, z string) ipsec.TrafficSelector {
	return ipsec.TrafficSelector{
		Type: ipsec.TSIPv6AddrRange, StartPort: 500, EndPort: 4500,
		StartAddr: netip.MustParseAddr(a), EndAddr: netip.MustParseAddr(z),
	}
}

// authInner is a typical IKE_AUTH request plaintext.
func authInner() []Payload {
	return []Payload{
		&Identification{IDType: IDFQDN, Data: []byte("client.example.org")},
		&Certificate{Encoding: CertX509Signature, Data: seq(0x30, 64)},
		&CertRequest{Encoding: CertX509Signature, Authorities: rep(0x66, 20)},
		NewNotify(NotifyInitialContact, nil),
		&Identification{Responder: true, IDType: IDIPv4Addr, Data: []byte{192, 0, 2, 1}},
		&Auth{Method: AuthDigitalSignature, Data: seq(0x01, 80)},
		&Configuration{CFGType: CFGRequest, Attributes: []CPAttribute{
			{Type: CPInternalIP4Address}, {Type: CPInternalIP4DNS},
			{Type: CPInternalIP6Address}, {Type: CPApplicationVersion, Value: []byte("secgw 1.0")},
		}},
		NewNotify(NotifyUseTransportMode, nil),
		NewNotify(NotifyMOBIKESupported, nil),
		&SA{Proposals: espProposals()},
		&TrafficSelectors{Selectors: []ipsec.TrafficSelector{
			v4range(0, "10.0.0.0", "10.0.255.255"), v6range("2001:db8::", "2001:db8::ffff"),
		}},
		&TrafficSelectors{Responder: true, Selectors: []ipsec.TrafficSelector{
			v4range(6, "0.0.0.0", "255.255.255.255"),
			{Type: 10, IPProtocol: 0, Data: []byte("seclabel")},
		}},
		NewNotify(NotifyUsePPK, nil),
		&Notify{NotifyType: NotifyPPKIdentity, Data: append([]byte{1}, "ppk-id"...)},
		NewNotify(NotifyNoPPKAuth, seq(0x70, 32)),
	}
}

// replyInner is an IKE_AUTH response plaintext with a CP reply.
func replyInner() []Payload {
	return []Payload{
		&Identification{Responder: true, IDType: IDDERASN1DN, Data: seq(0x30, 40)},
		&Auth{Method: AuthSharedKeyMIC, Data: seq(0x99, 32)},
		&Configuration{CFGType: CFGReply, Attributes: []CPAttribute{
			CPAddr(CPInternalIP4Address, netip.MustParseAddr("100.64.0.7")),
			CPAddr(CPInternalIP4DNS, netip.MustParseAddr("100.64.0.1")),
			CPPrefix(CPInternalIP6Address, netip.MustParsePrefix("fd00::7/64")),
			CPPrefix(CPInternalIP4Subnet, netip.MustParsePrefix("10.1.0.0/16")),
			{Type: CPSupportedAttributes, Value: []byte{0, 1, 0, 3}},
		}},
		&SA{Proposals: espProposals()[:1]},
		&TrafficSelectors{Selectors: []ipsec.TrafficSelector{ipsec.SelectorFromPrefix(netip.MustParsePrefix("100.64.0.7/32"), 0, 0, 65535)}},
		&TrafficSelectors{Responder: true, Selectors: []ipsec.TrafficSelector{ipsec.SelectorFromPrefix(netip.MustParsePrefix("0.0.0.0/0"), 0, 0, 65535)}},
		&EAP{Message: []byte{1, 7, 0, 5, 1}},
		NewNotify(NotifyAuthLifetime, []byte{0, 0, 0x0e, 0x10}),
	}
}

// childInner is a CREATE_CHILD_SA rekey request plaintext.
func childInner() []Payload {
	return []Payload{
		&Notify{Protocol: ProtocolESP, SPI: []byte{1, 2, 3, 4}, NotifyType: NotifyRekeySA},
		&SA{Proposals: espProposals()},
		&Nonce{Data: seq(0x20, 16)},
		&KE{Group: ipsec.GroupMODP3072, Data: seq(0x00, 200)},
		&TrafficSelectors{Selectors: []ipsec.TrafficSelector{v4range(17, "192.0.2.0", "192.0.2.255")}},
		&TrafficSelectors{Responder: true, Selectors: []ipsec.TrafficSelector{v4range(17, "198.51.100.0", "198.51.100.255")}},
		NewNotify(NotifyESPTFCPaddingNotSupported, nil),
		NewNotify(NotifyNonFirstFragmentsAlso, nil),
	}
}

// infoInner is an INFORMATIONAL plaintext with deletes and MOBIKE notifies.
func infoInner() []Payload {
	return []Payload{
		&Delete{Protocol: ProtocolESP, SPISize: 4, SPIs: [][]byte{{1, 2, 3, 4}, {5, 6, 7, 8}}},
		&Delete{Protocol: ProtocolIKE},
		NewNotify(NotifyUpdateSAAddresses, nil),
		NewNotify(NotifyAdditionalIP4Address, []byte{203, 0, 113, 9}),
		NewNotify(NotifyAdditionalIP6Address, netip.MustParseAddr("2001:db8::9").AsSlice()),
		NewNotify(NotifyCookie2, seq(0x01, 16)),
		NewNotify(NotifyNoNATsAllowed, seq(0x02, 36)),
		&Notify{Protocol: ProtocolESP, SPI: []byte{9, 9, 9, 9}, NotifyType: NotifyChildSANotFound},
		&Unknown{CriticalFlag: CriticalFlag{Critical: false}, PayloadType: PayloadGSPM, Body: nil},
	}
}

// encryptedMessage wraps an inner chain as if it had been encrypted with a
// 16-octet IV and ICV: the "ciphertext" is the plaintext itself, which is
// enough for the codec.
func encryptedMessage(t testing.TB, h Header, inner []Payload) *Message {
	t.Helper()
	pt, first, err := AppendPayloadChain(nil, inner)
	if err != nil {
		t.Fatalf("AppendPayloadChain: %v", err)
	}
	body := append(append(rep(0xee, 16), pt...), rep(0xcc, 16)...)
	return &Message{Header: h, Payloads: []Payload{&Encrypted{NextPayload: first, Body: body}}}
}

type namedMessage struct {
	name string
	msg  *Message
}

// sampleMessages covers every exchange type this package names.
func sampleMessages(t testing.TB) []namedMessage {
	spi := func(ex ExchangeType, f Flags, id uint32) Header {
		return Header{SPIi: 0x1111, SPIr: 0x2222, MajorVersion: 2, Exchange: ex, Flags: f, MessageID: id}
	}
	frag := &Message{Header: spi(ExchangeIKEAuth, FlagInitiator, 1), Payloads: []Payload{
		&EncryptedFragment{NextPayload: PayloadIDi, FragmentNumber: 1, TotalFragments: 3, Body: seq(0, 64)},
	}}
	frag3 := &Message{Header: spi(ExchangeIKEAuth, FlagInitiator, 1), Payloads: []Payload{
		&EncryptedFragment{FragmentNumber: 3, TotalFragments: 3, Body: seq(0x40, 40)},
	}}
	resume := &Message{Header: Header{SPIi: 0x3333, MajorVersion: 2, Exchange: ExchangeIKESessionResume, Flags: FlagInitiator},
		Payloads: []Payload{
			&Nonce{Data: seq(0, 32)},
			&Notify{NotifyType: 16413, Data: seq(0x50, 48)}, // TICKET_OPAQUE (RFC 5723)
		}}
	return []namedMessage{
		{"ike_sa_init_request", saInitRequest()},
		{"ike_sa_init_response", saInitResponse()},
		{"ike_sa_init_cookie", cookieResponse()},
		{"ike_auth_request", encryptedMessage(t, spi(ExchangeIKEAuth, FlagInitiator, 1), authInner())},
		{"ike_auth_response", encryptedMessage(t, spi(ExchangeIKEAuth, FlagResponse, 1), replyInner())},
		{"ike_auth_fragment_1", frag},
		{"ike_auth_fragment_3", frag3},
		{"create_child_sa", encryptedMessage(t, spi(ExchangeCreateChildSA, FlagInitiator, 2), childInner())},
		{"informational", encryptedMessage(t, spi(ExchangeInformational, FlagResponse|FlagInitiator, 3), infoInner())},
		{"informational_empty", encryptedMessage(t, spi(ExchangeInformational, 0, 4), nil)},
		{"ike_intermediate", encryptedMessage(t, spi(ExchangeIKEIntermediate, FlagInitiator, 1),
			[]Payload{&KE{Group: 35, Data: seq(0, 200)}})},
		{"ike_session_resume", resume},
	}
}

func mustMarshal(t testing.TB, m *Message) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

// sameMessage compares header (except the computed fields) and payloads.
func sameMessage(t testing.TB, want, got *Message) {
	t.Helper()
	wh, gh := want.Header, got.Header
	wh.Length, gh.Length, wh.NextPayload, gh.NextPayload = 0, 0, 0, 0
	if wh != gh {
		t.Errorf("header:\n got %+v\nwant %+v", gh, wh)
	}
	if !reflect.DeepEqual(want.Payloads, got.Payloads) {
		t.Errorf("payloads differ:\n got %#v\nwant %#v", got.Payloads, want.Payloads)
		for i := range want.Payloads {
			if i < len(got.Payloads) && !reflect.DeepEqual(want.Payloads[i], got.Payloads[i]) {
				t.Errorf("first difference at %d:\n got %#v\nwant %#v", i, got.Payloads[i], want.Payloads[i])
				break
			}
		}
	}
}
