package userspace

import (
	"secgw/internal/esp"
	ikecrypto "secgw/internal/ike/crypto"
)

// SupportsESP reports whether the dataplane can install a child SA of the
// ESP suite s: whether internal/esp keys its transforms with the key
// lengths the IKE key derivation gives them (RFC 7296 §2.17). It
// implements engine.ESPSupport, so that the engine neither offers nor
// accepts a suite that would fail to install.
func (d *Dataplane) SupportsESP(s ikecrypto.Suite) bool {
	kl, err := s.ESPKeyLengths()
	if err != nil {
		return false
	}
	return esp.Supports(s.Encr, kl.Encr, s.Integ, kl.Integ)
}
