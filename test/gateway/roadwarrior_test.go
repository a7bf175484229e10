package gateway

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"secgw/internal/netnsutil/netnstest"
	"secgw/test/charontest"
)

// The road warriors of the remote-access tests (vip_test.go, eap_test.go,
// pskradius_test.go, hapool_test.go): charons asking secgwd for a virtual
// IP (RFC 7296 §2.19), each in its own namespace.
//
//	10.1.0.1 [secgwd] 198.18.N.1 --veth-- 198.18.N.2 [charon rwN, vips = 0.0.0.0]

// roadWarrior is one charon asking for a virtual IP, in its own
// namespace ns, at addr, with the gateway at gw; id is its identity
// rwN.example, resolv the file its resolve plugin (if loaded) writes the
// DNS servers it receives to.
type roadWarrior struct {
	*charontest.Charon
	ns, id, resolv string
	addr, gw       netip.Addr
	n              int
}

// newWarriors creates secgwd's namespace (10.1.0.1 on loopback) and n
// road warrior namespaces, each on its own veth pair (198.18.N.0/24),
// and starts a charon in each with the options opts gives for it.
func newWarriors(t *testing.T, n int, opts func(r *roadWarrior) charontest.Options) (gwNS string, rws []*roadWarrior) {
	t.Helper()
	requirePrerequisites(t)
	id := netnstest.Name(nsPrefix, topoSeq.Add(1))
	gwNS = id + "-g"
	gw := netnstest.NewNamed(t, gwNS)
	netnstest.LoAddr(t, netnstest.Handle(t, gw), netip.PrefixFrom(gwInner4, 32))
	for i := 1; i <= n; i++ {
		r := &roadWarrior{ns: fmt.Sprintf("%s-r%d", id, i), id: fmt.Sprintf("rw%d.example", i), n: i,
			addr: netip.AddrFrom4([4]byte{198, 18, byte(i), 2}), gw: netip.AddrFrom4([4]byte{198, 18, byte(i), 1})}
		ns := netnstest.NewNamed(t, r.ns)
		netnstest.Veth(t, gw, ns, fmt.Sprintf("veth-rw%d", i), "veth-gw",
			netip.PrefixFrom(r.gw, 24), netip.PrefixFrom(r.addr, 24))
		r.Charon = charontest.Start(t, r.ns, opts(r))
		rws = append(rws, r)
	}
	return gwNS, rws
}

// conn is the road warrior's connection "rw" to secgwd: a virtual IP,
// the tests' GCM suite, a child "net" to secgwd's protected network,
// authentication local and remote, and secrets.
func (r *roadWarrior) conn(local, remote charontest.Auth, secrets ...string) charontest.Conn {
	return charontest.Conn{Name: "rw", LocalAddrs: r.addr.String(), RemoteAddrs: r.gw.String(), VIP: true,
		Proposals: suiteGCM.charonIKE, ESPProposals: suiteGCM.charonESP, RemoteTS: gwNet4,
		Local: local, Remote: remote, Secrets: secrets}
}

// loadPSK gives the road warrior its connection "rw": PSK both ways, as
// id, with key.
func (r *roadWarrior) loadPSK(t *testing.T, id, key string) {
	t.Helper()
	r.Load(t, r.conn(charontest.Auth{Method: "psk", ID: id}, charontest.Auth{Method: "psk", ID: gwID},
		charontest.PSKSecret("rw", key, id, gwID)).String())
}

var vipRE = regexp.MustCompile(`local-vips=\[([0-9a-f.:]+)\]`)

// connect initiates the road warrior's tunnel and returns the virtual
// IP charon got (swanctl --list-sas).
func (r *roadWarrior) connect(t *testing.T) netip.Addr {
	t.Helper()
	if out, err := r.Swanctl("--initiate", "--child", "net", "--timeout", "20"); err != nil {
		t.Fatalf("rw%d: swanctl --initiate: %v\n%s", r.n, err, out)
	}
	out, _ := r.Swanctl("--list-sas", "--raw")
	m := vipRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("rw%d: no virtual IP in swanctl --list-sas --raw:\n%s", r.n, out)
	}
	return netip.MustParseAddr(m[1])
}

// disconnect deletes the road warrior's IKE SA (secgwd is told).
func (r *roadWarrior) disconnect(t *testing.T) {
	t.Helper()
	if out, err := r.Swanctl("--terminate", "--ike", "rw", "--timeout", "10"); err != nil {
		t.Fatalf("rw%d: swanctl --terminate: %v\n%s", r.n, err, out)
	}
}

// refused initiates the tunnel, which must fail with
// AUTHENTICATION_FAILED from secgwd.
func (r *roadWarrior) refused(t *testing.T) {
	t.Helper()
	if out, err := r.Swanctl("--initiate", "--child", "net", "--timeout", "30"); err == nil {
		t.Fatalf("rw%d: connected, want a refusal:\n%s", r.n, out)
	}
	if log := r.ReadLog(); !strings.Contains(log, "AUTHENTICATION_FAILED") {
		t.Errorf("rw%d: charon did not log AUTHENTICATION_FAILED:\n%s", r.n, tail(log, 30))
	}
}
