package gateway

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"secgw/internal/netnsutil/netnstest"
	"secgw/test/charontest"
)

// Remote access (RFC 7296 §2.19, §3.15): secgwd as the concentrator of
// road warriors that ask for a virtual IP.
//
//	10.1.0.1 [secgwd] 198.18.N.1 --veth-- 198.18.N.2 [charon rwN, vips = 0.0.0.0]

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

// roadWarrior is one charon asking for a virtual IP, in its own
// namespace; resolv is the file its resolve plugin writes the DNS
// servers it receives to.
type roadWarrior struct {
	*charontest.Charon
	ns, id, resolv string
	addr           netip.Addr
}

// newRoadWarriors creates secgwd's namespace (10.1.0.1 on loopback) and
// n road warrior namespaces, each on its own veth pair, and starts a
// charon in each with a connection "rw" to secgwd.
func newRoadWarriors(t *testing.T, n int) (gwNS string, rws []*roadWarrior) {
	t.Helper()
	requirePrerequisites(t)
	id := netnstest.Name(nsPrefix, topoSeq.Add(1))
	gwNS = id + "-g"
	gw := netnstest.NewNamed(t, gwNS)
	netnstest.LoAddr(t, netnstest.Handle(t, gw), netip.PrefixFrom(gwInner4, 32))
	for i := 1; i <= n; i++ {
		r := &roadWarrior{ns: fmt.Sprintf("%s-r%d", id, i), id: fmt.Sprintf("rw%d.example", i),
			addr: netip.AddrFrom4([4]byte{198, 18, byte(i), 2}), resolv: filepath.Join(t.TempDir(), "resolv.conf")}
		ns := netnstest.NewNamed(t, r.ns)
		netnstest.Veth(t, gw, ns, fmt.Sprintf("veth-rw%d", i), "veth-gw",
			netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i), 1}), 24), netip.PrefixFrom(r.addr, 24))
		r.Charon = charontest.Start(t, r.ns, charontest.Options{Plugins: "attr resolve",
			PluginConf: "\t\tresolve {\n\t\t\tfile = " + r.resolv + "\n\t\t}"})
		r.Load(t, fmt.Sprintf(`connections {
	rw {
		version = 2
		local_addrs = %s
		remote_addrs = 198.18.%d.1
		vips = 0.0.0.0
		proposals = %s
		local {
			auth = psk
			id = %s
		}
		remote {
			auth = psk
			id = %s
		}
		children {
			net {
				remote_ts = %s
				esp_proposals = %s
				start_action = none
			}
		}
	}
}
secrets {
	ike-rw {
		id-1 = %s
		id-2 = %s
		secret = "%s"
	}
}
`, r.addr, i, suiteGCM.charonIKE, r.id, gwID, gwNet4, suiteGCM.charonESP, r.id, gwID, testPSK))
		rws = append(rws, r)
	}
	return gwNS, rws
}

var vipRE = regexp.MustCompile(`local-vips=\[([0-9a-f.:]+)\]`)

// connect initiates the road warrior's tunnel and returns the virtual
// IP charon got (swanctl --list-sas).
func (r *roadWarrior) connect(t *testing.T) netip.Addr {
	t.Helper()
	if out, err := r.Swanctl("--initiate", "--child", "net", "--timeout", "15"); err != nil {
		t.Fatalf("%s: swanctl --initiate: %v\n%s", r.id, err, out)
	}
	out, _ := r.Swanctl("--list-sas", "--raw")
	m := vipRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("%s: no virtual IP in swanctl --list-sas --raw:\n%s", r.id, out)
	}
	return netip.MustParseAddr(m[1])
}

// disconnect deletes the road warrior's IKE SA (secgwd is told).
func (r *roadWarrior) disconnect(t *testing.T) {
	t.Helper()
	if out, err := r.Swanctl("--terminate", "--ike", "rw", "--timeout", "10"); err != nil {
		t.Fatalf("%s: swanctl --terminate: %v\n%s", r.id, err, out)
	}
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
