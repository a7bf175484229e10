package gateway

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"secgw/test/radiustest"
)

// Remote access with pre-shared keys kept on FreeRADIUS
// (remote-auth-method pre-shared-key-radius, the vsr guide's "Remote
// peer authentication by PSK via RADIUS"): charon road warriors
// authenticate with a plain PSK AUTH; secgwd asks FreeRADIUS for the key
// of the road warrior's identity and gets it in the Access-Accept's
// Tunnel-Password (RFC 2868 §3.5), with the Framed-IP-Address for the
// configuration reply (vip-pool radius). The VPN has no pre-shared-key:
// secgwd's own AUTH uses the key from RADIUS too.
//
//	10.1.0.1 [secgwd + FreeRADIUS on 127.0.0.1] 198.18.N.1 --veth-- 198.18.N.2 [charon rwN]

// pskRadiusUsers is FreeRADIUS's users file: carol (an email identity)
// accepted whatever the User-Password, dave (an FQDN) checked against
// the User-Password secgwd sends (radius.PSKPassword); each with its key
// and a virtual IP.
const pskRadiusUsers = `"carol@vpn.example"	Auth-Type := Accept
	Tunnel-Password = "carol-psk-from-radius",
	Framed-IP-Address = 10.9.0.7,
	MS-Primary-DNS-Server = 10.1.0.53

dave.example	Cleartext-Password := "secgw"
	Tunnel-Password = "dave-psk-from-radius",
	Framed-IP-Address = 10.9.0.8
`

// pskRadiusLines configure secgwd's VPN "rw": any peer identity, its
// key from the RADIUS servers, virtual IPs from the RADIUS attributes,
// accounting.
func pskRadiusLines(radius ...string) []string {
	return append(radius,
		"radius accounting true",
		"vpn rw local-id "+gwID,
		"vpn rw ike-policy remote-auth-method pre-shared-key-radius",
		"vpn rw ike-policy ike-proposal 1 "+suiteGCM.ourIKE,
		"vpn rw ipsec-policy esp-proposal 1 "+suiteGCM.ourESP,
		"vpn rw vip-pool radius",
		"vpn rw security-policy net local-ts subnet "+gwNet4)
}

// TestSecgwdPSKRadius: two road warriors authenticate with the PSKs
// FreeRADIUS holds for their identities (one entry accepting any
// User-Password, one checking secgwd's): each gets the Framed-IP-Address
// of its Access-Accept as virtual IP and passes traffic from it, and
// FreeRADIUS's detail file records the accounting Start and Stop. With a
// wrong key, with an identity FreeRADIUS does not know, and with
// FreeRADIUS stopped, a road warrior is refused (AUTHENTICATION_FAILED),
// secgwd saying why. No key or secret appears in secgwd's log.
func TestSecgwdPSKRadius(t *testing.T) {
	t.Parallel()
	gwNS, gw, rws := newEAPSetup(t, 2)
	fr := radiustest.Start(t, gwNS, radiustest.Options{Secret: radiusSecret, Users: pskRadiusUsers})
	gw.configure(t, pskRadiusLines("radius server 127.0.0.1 secret "+radiusSecret)...)
	carol, dave := rws[0], rws[1]
	carol.loadPSK(t, "carol@vpn.example", "carol-psk-from-radius")
	dave.loadPSK(t, "dave.example", "dave-psk-from-radius")

	for _, c := range []struct {
		rw  *roadWarrior
		vip netip.Addr
	}{{carol, netip.MustParseAddr("10.9.0.7")}, {dave, netip.MustParseAddr("10.9.0.8")}} {
		if vip := c.rw.connect(t); vip != c.vip {
			t.Fatalf("rw%d: virtual IP %s, want the Framed-IP-Address %s", c.rw.n, vip, c.vip)
		}
		ping(t, c.rw.ns, c.vip, gwInner4)
	}
	if log := gw.readLog(); !strings.Contains(log, "peer authenticated with its pre-shared key from the AAA server") {
		t.Errorf("secgwd did not log the RADIUS authentication:\n%s", tail(log, 30))
	}
	if !eventually(5*time.Second, func() bool {
		d := fr.Detail()
		return strings.Contains(d, `User-Name = "carol@vpn.example"`) && strings.Contains(d, "Framed-IP-Address = 10.9.0.8")
	}) {
		t.Errorf("no accounting Start of both road warriors in FreeRADIUS's detail file:\n%s", fr.Detail())
	}

	// A wrong key: FreeRADIUS accepts the identity, the AUTH does not
	// verify with its key.
	if out, err := carol.Swanctl("--terminate", "--ike", "rw", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --terminate: %v\n%s", err, out)
	}
	if !eventually(10*time.Second, func() bool { return strings.Contains(fr.Detail(), "Acct-Status-Type = Stop") }) {
		t.Errorf("no accounting Stop of carol in FreeRADIUS's detail file:\n%s", fr.Detail())
	}
	carol.loadPSK(t, "carol@vpn.example", "not-carol-psk")
	carol.refused(t)
	if log := gw.readLog(); !strings.Contains(log, "does not verify with the pre-shared key of the AAA server") {
		t.Errorf("secgwd did not log the wrong key:\n%s", tail(log, 20))
	}
	// An identity FreeRADIUS does not know: Access-Reject.
	carol.loadPSK(t, "mallory@vpn.example", "carol-psk-from-radius")
	carol.refused(t)
	if log := gw.readLog(); !strings.Contains(log, "pre-shared-key-radius: the AAA server rejected the identity") {
		t.Errorf("secgwd did not log the rejection:\n%s", tail(log, 20))
	}
	// RADIUS down (FreeRADIUS stopped, one try of one second): refused,
	// secgwd saying that no server answered.
	gw.configure(t, "radius server 127.0.0.1 timeout 1 retries 0")
	fr.Stop()
	carol.loadPSK(t, "carol@vpn.example", "carol-psk-from-radius")
	carol.refused(t)
	if log := gw.readLog(); !strings.Contains(log, "pre-shared-key-radius: no AAA server answered") {
		t.Errorf("secgwd did not log the silent server:\n%s", tail(log, 20))
	}
	for _, s := range []string{radiusSecret, "carol-psk-from-radius", "dave-psk-from-radius"} {
		if strings.Contains(gw.readLog(), s) {
			t.Errorf("secgwd logged a secret (%.6s...)", s)
		}
	}
}
