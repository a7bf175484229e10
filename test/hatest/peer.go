package hatest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"secgw/test/charontest"
)

// PSK is the pre-shared key of examples/ha's VPN, which the peer uses.
const PSK = "change-me: the uCPEs' pre-shared key"

// LocalID is the VPN's local-id in examples/ha.
const LocalID = "vpnc.6wind.com"

// PeerConns is the peer's swanctl.conf: two uCPEs, each one IKE SA to
// the public VIP with two child SAs (ucpe1: sites 0 and 1, ucpe2: sites 2
// and 3), in the reference's suites (IKE AES-GCM-96 / PRF-HMAC-SHA1 /
// MODP1024, ESP AES-GCM-128 with ESN). dpd_delay makes charon probe the
// gateway every 2 s: a failover must answer its INFORMATIONAL requests
// at the message IDs it expects (engine/ha_msgid.go), or charon
// declares the gateway dead and renegotiates.
func PeerConns() string {
	var b strings.Builder
	b.WriteString("connections {\n")
	for u := 0; u < 2; u++ {
		fmt.Fprintf(&b, `	ucpe%[1]d {
		version = 2
		local_addrs = %[2]s
		remote_addrs = %[3]s
		proposals = aes128gcm12-prfsha1-modp1024
		dpd_delay = 2s
		rekey_time = 0
		local {
			auth = psk
			id = ucpe%[1]d.example
		}
		remote {
			auth = psk
			id = %[4]s
		}
		children {
`, u+1, PeerWAN, PublicVIP, LocalID)
		for s := 2 * u; s < 2*u+2; s++ {
			fmt.Fprintf(&b, `			site%d {
				local_ts = %s
				remote_ts = %s
				esp_proposals = aes128gcm128
				rekey_time = 0
				start_action = none
				dpd_action = clear
			}
`, s+1, Sites[s].PeerNet, Sites[s].LocalNet)
		}
		b.WriteString("\t\t}\n\t}\n")
	}
	fmt.Fprintf(&b, `}
secrets {
	ike-vpnc {
		id-1 = ucpe1.example
		id-2 = ucpe2.example
		id-3 = %s
		secret = "%s"
	}
}
`, LocalID, PSK)
	return b.String()
}

// StartPeer starts charon in the peer namespace with the uCPEs' VPNs,
// its ESP log (libipsec's "ESP sequence number verification failed",
// the replay drops) at level 1.
func StartPeer(t testing.TB, ns string) *charontest.Charon {
	t.Helper()
	c := charontest.Start(t, ns, charontest.Options{LogLevels: "esp = 1\nike = 1"})
	c.Load(t, PeerConns())
	return c
}

// InitiateAll brings every site's child SA up from the peer, the first
// of each uCPE creating its IKE SA.
func InitiateAll(t testing.TB, c *charontest.Charon) {
	t.Helper()
	for s := range Sites {
		if out, err := c.Swanctl("--initiate", "--child", fmt.Sprintf("site%d", s+1), "--timeout", "15"); err != nil {
			t.Fatalf("hatest: swanctl --initiate --child site%d: %v\n%s", s+1, err, out)
		}
	}
}

// SPIs is what the peer holds: per IKE SA (by connection) its SPIs and
// state, and per child SA its SPIs and state, in one comparable string
// per SA.
type SPIs []string

// PeerSPIs reads charon's SAs: "ucpe1 ike i=.. r=.. ESTABLISHED" and
// "ucpe1/site1 child in=.. out=.. INSTALLED", sorted.
func PeerSPIs(c *charontest.Charon) (SPIs, error) {
	sas, err := c.ListSAs()
	if err != nil {
		return nil, err
	}
	var out SPIs
	for _, sa := range sas {
		out = append(out, fmt.Sprintf("%s ike i=%s r=%s %s", sa.Name, sa.KV["initiator-spi"], sa.KV["responder-spi"], sa.KV["state"]))
		if ch := sa.Sub["child-sas"]; ch != nil {
			for _, name := range ch.Order {
				cs := ch.Sub[name]
				out = append(out, fmt.Sprintf("%s/%s child in=%s out=%s %s", sa.Name, cs.KV["name"], cs.KV["spi-in"], cs.KV["spi-out"], cs.KV["state"]))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Established reports whether s holds the two IKE SAs and four child
// SAs, established and installed.
func (s SPIs) Established() bool {
	ike, child := 0, 0
	for _, l := range s {
		switch {
		case strings.Contains(l, " ike ") && strings.HasSuffix(l, " ESTABLISHED"):
			ike++
		case strings.Contains(l, " child ") && strings.HasSuffix(l, " INSTALLED"):
			child++
		}
	}
	return ike == 2 && child == len(Sites)
}

// ReplayDrops counts the ESP packets charon's libipsec dropped as
// replays or failed to authenticate: its esp log lines (level 1)
// "ESP sequence number verification failed" and "ICV verification
// failed". kernel-libipsec keeps no counters of its own (swanctl's
// counters plugin counts IKE messages, and `ip -s xfrm state` shows
// nothing: the SAs are in charon's userspace SAD), so its log is the
// record.
func ReplayDrops(c *charontest.Charon) (replays, icv int) {
	log := c.ReadLog()
	return strings.Count(log, "ESP sequence number verification failed"), strings.Count(log, "ICV verification failed")
}

// IKEInits counts the IKE_SA_INIT requests charon sent: a renegotiation
// after a failover sends one.
func IKEInits(c *charontest.Charon) int {
	return strings.Count(c.ReadLog(), "initiating IKE_SA")
}
