package wire

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"reflect"
	"secgw/internal/ipsec"
	"strings"
	"testing"
)

// katSAInit is an IKE_SA_INIT request laid out by hand from the figures of
// RFC 7296 §3 (230 octets). Everything after '#' is a comment.
const katSAInit = `
# IKE header (§3.1), 28 octets
01 02 03 04 05 06 07 08   # Initiator's SPI
00 00 00 00 00 00 00 00   # Responder's SPI (zero in the first message)
21                        # Next Payload = SA (33)
20                        # MjVer 2, MnVer 0
22                        # Exchange Type = IKE_SA_INIT (34)
08                        # Flags: I
00 00 00 00               # Message ID 0
00 00 00 e6               # Length 230

# SA payload (§3.3), 4 + 44 = 48 octets
22 00 00 30               # Next = KE (34), C=0, Payload Length 48
00 00 00 2c               # Last Substruc 0 (last proposal), RESERVED, Proposal Length 44
01 01 00 04               # Proposal Num 1, Protocol IKE, SPI Size 0, Num Transforms 4
03 00 00 0c 01 00 00 0c   # more(3), len 12, ENCR, ENCR_AES_CBC (12)
80 0e 01 00               #   attribute AF=1 Key Length (14) = 256
03 00 00 08 02 00 00 05   # more(3), len 8, PRF, PRF_HMAC_SHA2_256 (5)
03 00 00 08 03 00 00 0c   # more(3), len 8, INTEG, AUTH_HMAC_SHA2_256_128 (12)
00 00 00 08 04 00 00 1f   # last(0), len 8, D-H, Curve25519 (31)

# KE payload (§3.4), 4 + 4 + 32 = 40 octets
28 00 00 28               # Next = Nonce (40), Payload Length 40
00 1f 00 00               # DH Group Num 31, RESERVED
00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f
10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f

# Nonce payload (§3.9), 4 + 32 = 36 octets
29 00 00 24               # Next = Notify (41), Payload Length 36
40 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f
50 51 52 53 54 55 56 57 58 59 5a 5b 5c 5d 5e 5f

# Notify NAT_DETECTION_SOURCE_IP (§3.10, §2.23), 4 + 4 + 20 = 28 octets
29 00 00 1c               # Next = Notify, Payload Length 28
00 00 40 04               # Protocol ID 0, SPI Size 0, type 16388
11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11

# Notify NAT_DETECTION_DESTINATION_IP, 28 octets
29 00 00 1c
00 00 40 05               # type 16389
22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22

# Notify IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 §2.3), 8 octets
29 00 00 08
00 00 40 2e               # type 16430

# Notify SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4), 4 + 4 + 6 = 14 octets
00 00 00 0e               # Next = none (0), Payload Length 14
00 00 40 2f               # type 16431
00 02 00 03 00 04         # SHA2-256, SHA2-384, SHA2-512
`

func decodeKAT(t testing.TB, s string) []byte {
	t.Helper()
	var sb strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKnownAnswerSAInit(t *testing.T) {
	b := decodeKAT(t, katSAInit)
	if len(b) != 230 {
		t.Fatalf("KAT is %d octets, want 230", len(b))
	}
	m, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	h := m.Header
	if h.SPIi != 0x0102030405060708 || h.SPIr != 0 {
		t.Errorf("SPIs %x %x", h.SPIi, h.SPIr)
	}
	if h.NextPayload != PayloadSA || h.MajorVersion != 2 || h.MinorVersion != 0 {
		t.Errorf("next %v version %d.%d", h.NextPayload, h.MajorVersion, h.MinorVersion)
	}
	if h.Exchange != ExchangeIKESAInit || h.Flags != FlagInitiator || !h.Flags.Initiator() || h.Flags.Response() {
		t.Errorf("exchange %v flags %v", h.Exchange, h.Flags)
	}
	if h.MessageID != 0 || h.Length != 230 {
		t.Errorf("message ID %d length %d", h.MessageID, h.Length)
	}
	if len(m.Payloads) != 7 {
		t.Fatalf("%d payloads: %v", len(m.Payloads), m)
	}

	sa := m.Payloads[0].(*SA)
	if len(sa.Proposals) != 1 {
		t.Fatalf("%d proposals", len(sa.Proposals))
	}
	p := sa.Proposals[0]
	if p.Number != 1 || p.Protocol != ProtocolIKE || p.SPI != nil || len(p.Transforms) != 4 {
		t.Fatalf("proposal %+v", p)
	}
	wantT := []struct {
		typ ipsec.TransformType
		id  ipsec.TransformID
	}{{ipsec.TransformEncr, ipsec.EncrAESCBC}, {ipsec.TransformPRF, ipsec.PRFHMACSHA2_256}, {ipsec.TransformInteg, ipsec.IntegHMACSHA2_256_128}, {ipsec.TransformDH, ipsec.GroupCurve25519}}
	for i, w := range wantT {
		if tr := p.Transforms[i]; tr.Type != w.typ || tr.ID != w.id {
			t.Errorf("transform %d = %v", i, tr)
		}
	}
	if kl, ok := p.Transforms[0].KeyLength(); !ok || kl != 256 {
		t.Errorf("key length %d %v", kl, ok)
	}
	if _, ok := p.Transforms[1].KeyLength(); ok || p.Transforms[1].Attributes != nil {
		t.Errorf("PRF has attributes")
	}
	if got := p.Transforms[0].String(); got != "ENCR:AES_CBC/256" {
		t.Errorf("transform string %q", got)
	}

	ke := m.Payloads[1].(*KE)
	if ke.Group != ipsec.GroupCurve25519 || !bytes.Equal(ke.Data, seq(0, 32)) {
		t.Errorf("KE %+v", ke)
	}
	if n := m.Payloads[2].(*Nonce); !bytes.Equal(n.Data, seq(0x40, 32)) {
		t.Errorf("nonce % x", n.Data)
	}
	wantN := []NotifyType{NotifyNATDetectionSourceIP, NotifyNATDetectionDestinationIP, NotifyIKEv2FragmentationSupported, NotifySignatureHashAlgorithms}
	for i, w := range wantN {
		n := m.Payloads[3+i].(*Notify)
		if n.NotifyType != w || n.Protocol != ProtocolNone || n.SPI != nil || n.Critical {
			t.Errorf("notify %d = %+v", i, n)
		}
	}
	if d := m.Payloads[3].(*Notify).Data; !bytes.Equal(d, rep(0x11, 20)) {
		t.Errorf("NAT-D source % x", d)
	}
	if d := m.Payloads[4].(*Notify).Data; !bytes.Equal(d, rep(0x22, 20)) {
		t.Errorf("NAT-D destination % x", d)
	}
	if d := m.Payloads[5].(*Notify).Data; d != nil {
		t.Errorf("fragmentation data % x", d)
	}
	algs, ok := m.Payloads[6].(*Notify).HashAlgorithms()
	if !ok || len(algs) != 3 || algs[0] != HashSHA2_256 || algs[2] != HashSHA2_512 {
		t.Errorf("hash algorithms %v %v", algs, ok)
	}

	if got, want := m.String(), "IKE_SA_INIT request 0 [ SA KE No N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP) N(IKEV2_FRAGMENTATION_SUPPORTED) N(SIGNATURE_HASH_ALGORITHMS) ]"; got != want {
		t.Errorf("String() = %q", got)
	}

	// The structured form marshals to exactly the same octets.
	if out := mustMarshal(t, saInitRequest()); !bytes.Equal(out, b) {
		t.Errorf("Marshal differs from KAT:\n got %x\nwant %x", out, b)
	}
	if !bytes.Equal(m.Raw, b) {
		t.Error("Raw differs from input")
	}
}

// TestKnownAnswerIDBody checks the octets AUTH covers for an ID payload
// (RFC 7296 §2.15): ID Type, the RESERVED octets as received, and data.
func TestKnownAnswerIDBody(t *testing.T) {
	chain := decodeKAT(t, `
		00 00 00 0c   # IDi, last payload, length 12
		01 00 00 07   # ID_IPV4_ADDR, RESERVED = 00 00 07 (non-zero on purpose)
		c0 00 02 01   # 192.0.2.1
	`)
	ps, err := ParsePayloadChain(PayloadIDi, chain)
	if err != nil {
		t.Fatal(err)
	}
	id := ps[0].(*Identification)
	if got := id.SignedOctets(); !bytes.Equal(got, chain[4:]) {
		t.Errorf("SignedOctets % x, want % x", got, chain[4:])
	}
	if a, ok := id.Addr(); !ok || a != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("Addr %v %v", a, ok)
	}
	if id.Type() != PayloadIDi || id.Responder {
		t.Error("wrong ID direction")
	}
}

// TestKnownAnswerTS checks a TSi payload with one IPv4 range (§3.13.1).
func TestKnownAnswerTS(t *testing.T) {
	chain := decodeKAT(t, `
		00 00 00 18   # TSr, last, length 24
		01 00 00 00   # Number of TSs 1, RESERVED
		07 06 00 10   # TS_IPV4_ADDR_RANGE, TCP, Selector Length 16
		00 00 ff ff   # ports 0..65535
		0a 00 00 00   # 10.0.0.0
		0a 00 ff ff   # 10.0.255.255
	`)
	ps, err := ParsePayloadChain(PayloadTSr, chain)
	if err != nil {
		t.Fatal(err)
	}
	ts := ps[0].(*TrafficSelectors)
	want := ipsec.SelectorFromPrefix(netip.MustParsePrefix("10.0.0.0/16"), 6, 0, 65535)
	if !ts.Responder || len(ts.Selectors) != 1 || !reflect.DeepEqual(ts.Selectors[0], want) {
		t.Errorf("TS %+v, want %+v", ts, want)
	}
}
