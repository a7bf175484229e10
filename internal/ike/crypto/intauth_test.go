package crypto

import (
	"bytes"
	"encoding/hex"
	"testing"

	"secgw/internal/ike/wire"
)

// TestIntAuthA checks IntAuth_*A against the layout of RFC 9242 §3.3.2,
// written out by hand: the IKE header (SPIs, Next Payload SK = 46, version
// 2.0, IKE_INTERMEDIATE = 43, flags, Message ID, Length = 28 + 4 + the
// inner payloads) and the SK payload header (Next Payload of the first
// inner payload, KE = 34, Payload Length = 4 + the inner payloads), as if
// the message were neither encrypted nor fragmented: the same octets for
// a message that went out in SKF fragments.
func TestIntAuthA(t *testing.T) {
	h := wire.Header{SPIi: 0x0102030405060708, SPIr: 0x1112131415161718, NextPayload: wire.PayloadSKF,
		MajorVersion: 2, Exchange: wire.ExchangeIKEIntermediate, Flags: wire.FlagInitiator, MessageID: 1, Length: 9999}
	got := hex.EncodeToString(IntAuthA(h, wire.PayloadKE, 1192))
	want := "0102030405060708" + "1112131415161718" + "2e" + "20" + "2b" + "08" + "00000001" + "000004c8" + // 28+4+1192 = 1224
		"22" + "00" + "04ac" // 4+1192 = 1196
	if got != want {
		t.Errorf("IntAuth_A\n got %s\nwant %s", got, want)
	}
}

// TestAppendIntAuth: the signed octets are followed by IntAuth_iN,
// IntAuth_rN and the IKE_AUTH Message ID in network order (RFC 9242
// §3.3.2).
func TestAppendIntAuth(t *testing.T) {
	got := AppendIntAuth([]byte("so|"), []byte("ii|"), []byte("rr|"), 0x01020304)
	if want := append([]byte("so|ii|rr|"), 1, 2, 3, 4); !bytes.Equal(got, want) {
		t.Errorf("AppendIntAuth = %q, want %q", got, want)
	}
}
