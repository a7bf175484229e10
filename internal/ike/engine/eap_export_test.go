package engine

import ikecrypto "secgw/internal/ike/crypto"

// AuthForTest is the shared-key AUTH (RFC 7296 §2.15) that the initiator
// of IKE SA spi (ours) computes over its signed octets with key and
// idBody, its IDi body, or (responder true) that it expects from the
// responder over the responder's signed octets with idBody, its IDr body.
// A nil key is SK_pi or SK_pr: the keys of an EAP method without MSK
// (RFC 7296 §2.16).
func (e *Engine) AuthForTest(spi uint64, responder bool, key, idBody []byte) []byte {
	sa, w := e.lookup(spi)
	defer w.unlock()
	skp, msg, nonce := sa.keys().SKpi, sa.initRequest, sa.nr
	if responder {
		skp, msg, nonce = sa.keys().SKpr, sa.initResponse, sa.ni
	}
	if key == nil {
		key = skp
	}
	return ikecrypto.AuthPSK(sa.prf(), key, sa.signedOctets(skp, msg, nonce, idBody))
}
