package gateway

import (
	"testing"

	"secgw/internal/swanctl"
	"secgw/test/charontest"
)

// charon is one charon daemon running in a namespace (charontest.Charon),
// with the methods the tests call.
type charon struct{ *charontest.Charon }

// startCharon starts charon in ns and waits until its vici socket
// answers. t.Cleanup stops it and, if the test failed, logs the tail of
// its log.
func startCharon(t *testing.T, ns string) *charon {
	t.Helper()
	return &charon{charontest.Start(t, ns, charontest.Options{})}
}

// initiate brings a child up from charon's side.
func (c *charon) initiate(t *testing.T, child string) {
	t.Helper()
	if out, err := c.Swanctl("--initiate", "--child", child, "--timeout", "15"); err != nil {
		t.Fatalf("gateway: swanctl --initiate --child %s: %v\n%s", child, err, out)
	}
}

// listSAs returns charon's IKE SAs from `swanctl --list-sas --raw`.
func (c *charon) listSAs(t *testing.T) []rawSection {
	t.Helper()
	sas, err := c.ListSAs()
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	return sas
}

// listSAsRaw returns the IKE SAs of `swanctl --list-sas --raw` output,
// each named by its connection.
func listSAsRaw(out string) []rawSection { return charontest.ListSAsRaw(out) }

// child is charon's side of the tunnel: a swanctl child.
type child struct {
	name          string
	local, remote string // traffic selectors
}

// swanctlConf is charon's connection "secgw" with the given children and
// proposals, and the PSK.
func swanctlConf(s suite, psk string, children ...child) string {
	c := charontest.Conn{Name: "secgw", LocalAddrs: charonOuter.String(), RemoteAddrs: gwOuter.String(), Proposals: s.charonIKE,
		Local: charontest.Auth{Method: "psk", ID: charonID}, Remote: charontest.Auth{Method: "psk", ID: gwID},
		Secrets: []string{charontest.PSKSecret("secgw", psk, charonID, gwID)}}
	for _, ch := range children {
		c.Children = append(c.Children, charontest.Child{Name: ch.name, LocalTS: ch.local, RemoteTS: ch.remote, ESPProposals: s.charonESP})
	}
	return c.String()
}

// The IKE identities of the two sides.
const gwID, charonID = "secgw.example", "charon.example"

// rawSection is a block of `swanctl --list-sas --raw`.
type rawSection = swanctl.Section

// parseRaw parses `swanctl --list-sas --raw`.
func parseRaw(s string) []*rawSection { return swanctl.ParseRaw(s) }
