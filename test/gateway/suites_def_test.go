package gateway

// suite is one algorithm suite: charon's proposals, our vsr configuration
// leaves, and the algorithms as `secgw show ike ike-sa details` prints
// them, which every view of the SAs must agree on once it is negotiated.
type suite struct {
	name                 string // charon's IKE proposal, the subtest name
	charonIKE, charonESP string // swanctl proposals
	ourIKE, ourESP       string // ike-proposal 1 / esp-proposal 1 leaves
	ikeAlgs, espAlgs     string // as shown, e.g. "aes256-gcm-128/prf:hmac-sha256/ecp256"
}

// The suites the gateway tests run.
var (
	suiteGCM = suite{"aes256gcm16-prfsha256-ecp256", "aes256gcm16-prfsha256-ecp256", "aes256gcm16",
		"aead-alg aes256-gcm-128 prf-alg hmac-sha256 dh-group ecp256", "aead-alg aes256-gcm-128",
		"aes256-gcm-128/prf:hmac-sha256/ecp256", "aes256-gcm-128"}
	suiteCBC128 = suite{"aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha256",
		"enc-alg aes128-cbc auth-alg hmac-sha256 prf-alg hmac-sha256 dh-group modp2048",
		"enc-alg aes128-cbc auth-alg hmac-sha256",
		"aes128-cbc/hmac-sha256/prf:hmac-sha256/modp2048", "aes128-cbc/hmac-sha256"}
	suiteChaCha = suite{"chacha20poly1305-prfsha256-x25519", "chacha20poly1305-prfsha256-x25519", "chacha20poly1305",
		"aead-alg chacha20-poly1305 prf-alg hmac-sha256 dh-group curve25519", "aead-alg chacha20-poly1305",
		"chacha20-poly1305/prf:hmac-sha256/curve25519", "chacha20-poly1305"}
	suiteCBC384 = suite{"aes256-sha384-ecp384", "aes256-sha384-ecp384", "aes256-sha384",
		"enc-alg aes256-cbc auth-alg hmac-sha384 prf-alg hmac-sha384 dh-group ecp384",
		"enc-alg aes256-cbc auth-alg hmac-sha384",
		"aes256-cbc/hmac-sha384/prf:hmac-sha384/ecp384", "aes256-cbc/hmac-sha384"}

	allSuites = []suite{suiteGCM, suiteCBC128, suiteChaCha, suiteCBC384}
)

// policy is one security policy of our VPN and the swanctl child that
// matches it (same name, selectors swapped).
type policy struct {
	name          string
	local, remote string // our selectors
}

var (
	policy4 = policy{"net4", gwNet4, charonNet4}
	policy6 = policy{"net6", gwNet6, charonNet6}
)

// ourVPN is the VPN's configuration in CLI lines under "/ vrf main ike".
func ourVPN(vpn string, s suite, psk string, policies ...policy) []string {
	p := "vpn " + vpn + " "
	lines := []string{
		p + "local-address " + gwOuter.String() + " remote-address " + charonOuter.String(),
		p + "local-id " + gwID + " remote-id " + charonID,
		p + "ike-policy pre-shared-key " + psk,
		p + "ike-policy ike-proposal 1 " + s.ourIKE,
		p + "ipsec-policy esp-proposal 1 " + s.ourESP,
	}
	for _, pol := range policies {
		lines = append(lines,
			p+"security-policy "+pol.name+" local-ts subnet "+pol.local,
			p+"security-policy "+pol.name+" remote-ts subnet "+pol.remote)
	}
	return lines
}

// charonChildren are the swanctl children matching our policies.
func charonChildren(policies ...policy) []child {
	var out []child
	for _, p := range policies {
		out = append(out, child{name: p.name, local: p.remote, remote: p.local})
	}
	return out
}
