package gateway

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"secgw/test/charontest"
)

// Remote access (RFC 7296 §2.19, §3.15): secgwd as the concentrator of
// road warriors (roadwarrior_test.go) that ask for a virtual IP.

// rwPoolLines configure secgwd's VPN "rw": any identity with the PSK, an
// address of pool rwpool (two addresses, a DNS server), the protected
// network 10.1.0.0/24 against the road warrior's virtual IP (no
// remote-ts: the guide's "make sure that no remote-ts is configured").
var rwPoolLines = []string{
	"pool rwpool address 10.8.0.1-10.8.0.2",
	"pool rwpool dns 10.1.0.53",
	"vpn rw local-id " + gwID,
	"vpn rw ike-policy pre-shared-key " + testPSK,
	"vpn rw ike-policy ike-proposal 1 " + suiteGCM.ourIKE,
	"vpn rw ipsec-policy esp-proposal 1 " + suiteGCM.ourESP,
	"vpn rw vip-pool rwpool",
	"vpn rw security-policy net local-ts subnet " + gwNet4,
}

// newRoadWarriors creates secgwd's namespace and n road warriors
// (newWarriors) with the resolve plugin, each with a connection "rw" to
// secgwd by PSK.
func newRoadWarriors(t *testing.T, n int) (gwNS string, rws []*roadWarrior) {
	t.Helper()
	gwNS, rws = newWarriors(t, n, func(r *roadWarrior) charontest.Options {
		r.resolv = filepath.Join(t.TempDir(), "resolv.conf")
		return charontest.Options{Plugins: "attr resolve", PluginConf: "\t\tresolve {\n\t\t\tfile = " + r.resolv + "\n\t\t}"}
	})
	for _, r := range rws {
		r.loadPSK(t, r.id, testPSK)
	}
	return gwNS, rws
}

// TestSecgwdRoadWarriors: charon road warriors (vips = 0.0.0.0) get an
// address of secgwd's pool and its DNS server, and pass traffic from
// it; one gets the same address after reconnecting; the third client of
// the two-address pool is refused with INTERNAL_ADDRESS_FAILURE, counted;
// `show ike pool` shows who holds what; and after a restart of secgwd the
// leases are still there: the second client gets its address back, not
// the pool's first one.
func TestSecgwdRoadWarriors(t *testing.T) {
	t.Parallel()
	gwNS, rws := newRoadWarriors(t, 3)
	gw := startGateway(t, gwNS)
	gw.configure(t, rwPoolLines...)

	vip1 := rws[0].connect(t)
	vip2 := rws[1].connect(t)
	if vip1.String() != "10.8.0.1" || vip2.String() != "10.8.0.2" {
		t.Fatalf("virtual IPs %s and %s, want 10.8.0.1 and 10.8.0.2", vip1, vip2)
	}
	// The DNS attribute reached charon's resolver (its resolve plugin).
	if !eventually(5*time.Second, func() bool {
		b, _ := os.ReadFile(rws[0].resolv)
		return strings.Contains(string(b), "nameserver 10.1.0.53")
	}) {
		b, _ := os.ReadFile(rws[0].resolv)
		t.Errorf("rw1's resolv.conf lacks the pool's DNS server:\n%s", b)
	}
	// Traffic from the virtual IP, through secgwd's userspace dataplane.
	ping(t, rws[0].ns, vip1, gwInner4)
	ping(t, rws[1].ns, vip2, gwInner4)
	ping(t, gwNS, gwInner4, vip1)

	// The third client: the pool is exhausted.
	if out, err := rws[2].Swanctl("--initiate", "--child", "net", "--timeout", "15"); err == nil {
		t.Fatalf("rw3 connected with a full pool:\n%s", out)
	}
	if log := rws[2].ReadLog(); !strings.Contains(log, "INTERNAL_ADDRESS_FAILURE") {
		t.Errorf("rw3's charon did not log INTERNAL_ADDRESS_FAILURE:\n%s", tail(log, 30))
	}
	if st := gw.rpc(t, `<get><filter type="subtree"><vrf xmlns="`+nsVRF+`"><name>main</name><ike xmlns="`+nsIKE+
		`"><statistics/></ike></vrf></filter></get>`); !regexp.MustCompile(`<reason>internal-address-failure</reason>\s*<count>1</count>`).MatchString(st) {
		t.Errorf("statistics do not count one internal-address-failure:\n%s", st)
	}
	out := gw.mustCLI(t, "", "show", "ike", "pool", "rwpool")
	for _, want := range []string{"rwpool ike  2    2      2    1", "10.8.0.1 rw1.example held by 1 IKE SA", "10.8.0.2 rw2.example held by 1 IKE SA"} {
		if !strings.Contains(out, want) {
			t.Errorf("show ike pool rwpool lacks %q:\n%s", want, out)
		}
	}

	// Reconnecting gives the same address.
	rws[0].disconnect(t)
	if vip := rws[0].connect(t); vip != vip1 {
		t.Errorf("rw1 got %s after reconnecting, want %s", vip, vip1)
	}
	ping(t, rws[0].ns, vip1, gwInner4)

	// The leases survive a restart of secgwd.
	rws[0].disconnect(t)
	rws[1].disconnect(t)
	gw = gw.restart(t)
	if vip := rws[1].connect(t); vip != vip2 {
		t.Errorf("rw2 got %s after secgwd restarted, want its lease %s", vip, vip2)
	}
	if vip := rws[0].connect(t); vip != vip1 {
		t.Errorf("rw1 got %s after secgwd restarted, want its lease %s", vip, vip1)
	}
	ping(t, rws[1].ns, vip2, gwInner4)
}

// TestSecgwdVIPRequest: secgwd as a road warrior of secgwd (vip-request
// 0.0.0.0): it gets an address of the concentrator's pool, installs it on
// global-options install-vip-on (lo), its child SA's local selector is
// the address, and traffic from it crosses the tunnel; the address goes
// away with the SA.
func TestSecgwdVIPRequest(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	top := newTopology(t)
	hq, rw := startGateway(t, top.gw), startGateway(t, top.charon)
	hq.configure(t, rwPoolLines...)
	rw.configure(t,
		"global-options install-vip-on lo",
		"vpn hq local-address "+charonOuter.String()+" remote-address "+gwOuter.String(),
		"vpn hq local-id rw.example remote-id "+gwID,
		"vpn hq ike-policy pre-shared-key "+testPSK,
		"vpn hq ike-policy ike-proposal 1 "+suiteGCM.ourIKE,
		"vpn hq ipsec-policy esp-proposal 1 "+suiteGCM.ourESP,
		"vpn hq vip-request 0.0.0.0",
		"vpn hq security-policy net remote-ts subnet "+gwNet4)
	out := rw.mustCLI(t, "", "cmd", "ike", "initiate", "child-sa", "security-policy", "net")
	if !strings.Contains(out, "CHILD_SA net{") || !strings.Contains(out, "established") {
		t.Fatalf("cmd ike initiate child-sa security-policy net:\n%s", out)
	}
	vip := netip.MustParseAddr("10.8.0.1")
	get := `<get><filter type="subtree"><vrf xmlns="` + nsVRF + `"><name>main</name><ike xmlns="` + nsIKE + `"><ike-sa/></ike></vrf></filter></get>`
	if st := rw.rpc(t, get); !strings.Contains(st, "<local-vip>10.8.0.1</local-vip>") {
		t.Errorf("the road warrior's state lacks local-vip 10.8.0.1:\n%s", st)
	}
	if st := hq.rpc(t, get); !strings.Contains(st, "<remote-vip>10.8.0.1</remote-vip>") || !strings.Contains(st, "<remote-id>rw.example</remote-id>") {
		t.Errorf("the concentrator's state lacks remote-vip 10.8.0.1:\n%s", st)
	}
	if addrs := run(t, "ip", "-n", top.charon, "addr", "show", "dev", "lo"); !strings.Contains(addrs, "inet 10.8.0.1/32") {
		t.Errorf("the virtual IP is not on lo (install-vip-on):\n%s", addrs)
	}
	details := rw.mustCLI(t, "", "show", "ike", "ike-sa", "details")
	if !strings.Contains(details, "local  10.8.0.1/32\n") || !strings.Contains(details, "remote "+gwNet4) {
		t.Errorf("the child SA's local selector is not the virtual IP:\n%s", details)
	}
	ping(t, top.charon, vip, gwInner4)
	ping(t, top.gw, gwInner4, vip)

	rw.mustCLI(t, "", "flush", "ike", "ike-sa", "vpn", "hq")
	if !eventually(5*time.Second, func() bool {
		return !strings.Contains(run(t, "ip", "-n", top.charon, "addr", "show", "dev", "lo"), "10.8.0.1")
	}) {
		t.Errorf("the virtual IP stayed on lo after the IKE SA went")
	}
}
