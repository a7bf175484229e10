package crypto_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"secgw/internal/ipsec"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

// Example runs the cryptographic part of IKE_SA_INIT and IKE_AUTH for both
// peers: key exchange, key derivation, an SK payload from the initiator to
// the responder, PSK authentication and the first Child SA's keys.
func Example() {
	suite, err := ikecrypto.NewIKESuite(ipsec.EncrAESGCM16, 256, ipsec.IntegNone, ipsec.PRFHMACSHA2_256, ipsec.GroupCurve25519)
	if err != nil {
		panic(err)
	}
	fmt.Println("suite:", suite)

	// IKE_SA_INIT: KE payloads and nonces.
	dhI, _ := ikecrypto.NewDH(suite.Group, nil)
	dhR, _ := ikecrypto.NewDH(suite.Group, nil)
	ni, nr := make([]byte, 32), make([]byte, 32)
	rand.Read(ni)
	rand.Read(nr)
	const spii, spir = 0x1111111111111111, 0x2222222222222222

	girI, _ := dhI.SharedSecret(dhR.PublicKey())
	girR, _ := dhR.SharedSecret(dhI.PublicKey())
	keysI, _ := ikecrypto.NewIKEKeys(suite, girI, ni, nr, spii, spir)
	keysR, _ := ikecrypto.NewIKEKeys(suite, girR, ni, nr, spii, spir)
	outI, _, _ := keysI.Ciphers(suite, true)
	_, inR, _ := keysR.Ciphers(suite, false)

	// The initiator protects its IKE_AUTH payloads. The header and the SK
	// payload header are built first, with lengths that already count the
	// SK body, then Seal appends IV | ciphertext | ICV.
	inner := []byte("IDi | AUTH | SA | TSi | TSr")
	body := outI.SealedLen(len(inner))
	hdr := make([]byte, wire.HeaderLen+4)
	binary.BigEndian.PutUint64(hdr[0:], spii)
	binary.BigEndian.PutUint64(hdr[8:], spir)
	hdr[16], hdr[17], hdr[18], hdr[19] = byte(wire.PayloadSK), 0x20, 35, 0x08
	binary.BigEndian.PutUint32(hdr[20:], 1)
	binary.BigEndian.PutUint32(hdr[24:], uint32(len(hdr)+body))
	hdr[28] = byte(wire.PayloadIDi)
	binary.BigEndian.PutUint16(hdr[30:], uint16(4+body))
	msg, _ := outI.Seal(hdr, hdr, inner)

	// The responder parses the message and opens the SK payload.
	m, err := wire.Parse(msg)
	if err != nil {
		panic(err)
	}
	sk := m.Payloads[len(m.Payloads)-1].(*wire.Encrypted)
	plain, err := inR.Open(nil, msg[:len(msg)-len(sk.Body)], sk.Body)
	fmt.Printf("opened %q, err %v\n", plain, err)

	// PSK AUTH of the initiator (RFC 7296 §2.15), computed by the
	// initiator and verified by the responder.
	prf, _ := suite.NewPRF()
	psk := []byte("shared secret")
	realMessage1 := []byte("IKE_SA_INIT request as sent")
	idBody, _ := (&wire.Identification{IDType: wire.IDFQDN, Data: []byte("client.example")}).AppendBody(nil)
	auth := ikecrypto.AuthPSK(prf, psk, ikecrypto.SignedOctets(prf, keysI.SKpi, realMessage1, nr, idBody))
	ok := ikecrypto.VerifyAuthPSK(prf, psk, ikecrypto.SignedOctets(prf, keysR.SKpi, realMessage1, nr, idBody), auth)
	fmt.Println("AUTH verified:", ok)

	// The Child SA created by IKE_AUTH (RFC 7296 §2.17).
	esp, _ := ikecrypto.NewESPSuite(ipsec.EncrAESGCM16, 128, ipsec.IntegNone, ipsec.GroupNone)
	childI, _ := ikecrypto.DeriveChildKeys(prf, keysI.SKd, esp, nil, ni, nr)
	childR, _ := ikecrypto.DeriveChildKeys(prf, keysR.SKd, esp, nil, ni, nr)
	fmt.Println("ESP keys agree:", bytes.Equal(childI.EncrI, childR.EncrI), len(childI.EncrI), "octets")
	// Output:
	// suite: AES_GCM_16/256-HMAC_SHA2_256-CURVE25519
	// opened "IDi | AUTH | SA | TSi | TSr", err <nil>
	// AUTH verified: true
	// ESP keys agree: true 20 octets
}

// ExampleNewDH shows the Key Exchange Data sizes of the supported groups:
// MODP values are as long as the prime, ECP values are x | y and X25519
// values are 32 octets.
func ExampleNewDH() {
	for _, g := range []ipsec.TransformID{ipsec.GroupMODP2048, ipsec.GroupECP256, ipsec.GroupECP521, ipsec.GroupCurve25519} {
		dh, err := ikecrypto.NewDH(g, nil)
		if err != nil {
			panic(err)
		}
		fmt.Println(ipsec.TransformName(ipsec.TransformKE, g), len(dh.PublicKey()))
	}
	_, err := ikecrypto.NewDH(ipsec.GroupCurve448, nil)
	fmt.Println(err)
	// Output:
	// MODP_2048 256
	// ECP_256 64
	// ECP_521 132
	// CURVE25519 32
	// crypto: unsupported algorithm: key exchange method CURVE448
}

// ExamplePRF_PlusExpand derives 40 octets with prf+ (RFC 7296 §2.13).
func ExamplePRF_PlusExpand() {
	prf, _ := ikecrypto.NewPRF(ipsec.PRFHMACSHA2_256)
	out, err := prf.PlusExpand([]byte("key"), []byte("seed"), 40)
	fmt.Println(len(out), err)
	_, err = prf.PlusExpand([]byte("key"), []byte("seed"), 255*32+1)
	fmt.Println(err)
	// Output:
	// 40 <nil>
	// crypto: prf+ output longer than 255 PRF blocks
}
