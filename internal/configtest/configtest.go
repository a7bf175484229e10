// Package configtest builds the configurations the tests of several
// packages share: the vsr guide's configuration lines, and the vSecGW
// concentrator scaled to many VPNs. It is for tests only.
package configtest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/openconfig/ygot/ygot"

	"secgw/generated"
	"secgw/internal/cliedit"
	"secgw/internal/schema"
)

// Apply runs configuration-mode lines on d, failing the test on an error.
func Apply(t testing.TB, s *schema.Schema, d *generated.Device, lines ...string) {
	t.Helper()
	ed := &cliedit.Editor{S: s}
	for _, l := range lines {
		if _, err := ed.Set(d, nil, cliedit.Fields(l)); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
}

// TestData returns the path of a file of test/testdata.
func TestData(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "test", "testdata", name)
}

// Lines reads a file of test/testdata, without blank and # comment lines.
func Lines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(TestData(name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// ReferencePreconditions are what the guide's lines assume exists: vrf
// main always does, and the inject-routes example says the svti100
// interface "must exist in VRF trusted".
var ReferencePreconditions = []string{"/ vrf main", "/ vrf trusted"}

// Reference returns the configuration of every 'vsr running config#' line
// of the vsr guide, applied in order after ReferencePreconditions.
func Reference(t testing.TB, s *schema.Schema) *generated.Device {
	t.Helper()
	d := &generated.Device{}
	Apply(t, s, d, ReferencePreconditions...)
	Apply(t, s, d, Lines(t, "vsr-config-lines.txt")...)
	return d
}

// ReferenceAccepted is Reference without the lines that set what refused
// reports (support.Checker.Present: what this release refuses at
// commit): the part of the guide a commit to secgwd takes.
func ReferenceAccepted(t testing.TB, s *schema.Schema, refused func(*generated.Device) error) *generated.Device {
	t.Helper()
	d := &generated.Device{}
	Apply(t, s, d, ReferencePreconditions...)
	ed := &cliedit.Editor{S: s}
	for _, l := range Lines(t, "vsr-config-lines.txt") {
		c, err := ygot.DeepCopy(d)
		if err != nil {
			t.Fatal(err)
		}
		try := c.(*generated.Device)
		if _, err := ed.Set(try, nil, cliedit.Fields(l)); err != nil || refused(try) != nil {
			continue
		}
		d = try
	}
	return d
}

// Concentrator builds the configuration of the vSecGW concentrator
// reference scaled to n VPNs: two templates, and per VPN its peer, its
// identities and four security policies.
func Concentrator(t testing.TB, s *schema.Schema, n int) *generated.Device {
	t.Helper()
	d := &generated.Device{}
	Apply(t, s, d,
		"/ vrf main ike ike-policy-template vpnc_ike ike-proposal 1 aead-alg aes128-gcm-96 prf-alg hmac-sha1 dh-group modp2048",
		"/ vrf main ike ike-policy-template vpnc_ike unique-sa replace rekey-time 0 mobike true",
		"/ vrf main ike ipsec-policy-template vpnc_esp esp-proposal 1 aead-alg aes128-gcm-128 esn true",
		"/ vrf main ike ipsec-policy-template vpnc_esp start-action none close-action none replay-window 4096 rekey-time 0",
	)
	ike := d.Vrf["main"].Ike
	str := func(s string) *string { return &s }
	for i := 0; i < n; i++ {
		v := ike.GetOrCreateVpn(fmt.Sprintf("vpn%05d", i))
		v.GetOrCreateIkePolicy().Template = str("vpnc_ike")
		v.GetOrCreateIpsecPolicy().Template = str("vpnc_esp")
		v.LocalAddress = str("250.0.0.2")
		v.RemoteAddress = str(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		v.LocalId = str("vpnc.example.com")
		v.RemoteId = str(fmt.Sprintf("ucpe%05d.example.com", i))
		for j := 0; j < 4; j++ {
			sp := v.GetOrCreateSecurityPolicy(fmt.Sprintf("sp%05d_%d", i, j))
			sp.GetOrCreateLocalTs().Subnet = str(fmt.Sprintf("172.%d.0.0/24", 26+j))
			sp.GetOrCreateRemoteTs().Subnet = str(fmt.Sprintf("100.%d.%d.0/24", j*16+i>>8&15, i&255))
		}
	}
	return d
}
