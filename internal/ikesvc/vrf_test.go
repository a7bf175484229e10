package ikesvc

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/pkitest"
	"secgw/internal/poll"
	"secgw/internal/schema"
)

// twoVRFs is a running configuration with a VPN called v in vrf main
// and one of the same name, same local address and another peer in vrf
// cust1: the same VPN name may exist in two vrfs.
func twoVRFs() *generated.Device {
	dev := device("v", "127.0.0.1", "127.0.0.2", "a", "b", "10.1.0.0/16", "10.2.0.0/16")
	cust := device("v", "127.0.0.1", "127.0.0.3", "a", "c", "10.1.0.0/16", "10.2.0.0/16").Vrf["main"]
	cust.Name = ptr2("cust1")
	dev.Vrf["cust1"] = cust
	return dev
}

// TestVRFInstances runs one Service per vrf: cust1's opens its sockets in
// the vrf's network namespace (Options.InVRF), so both bind 127.0.0.1 on
// the same ports without clashing; each runs only its own vrf's VPN; a
// commit that changes vrf main leaves cust1's configuration as it was;
// an RPC naming the other vrf is refused.
func TestVRFInstances(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.NewNS(t)
	h := netnstest.Handle(t, ns)
	if err := netnsutil.LinkUp(h, "lo"); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mk := func(vrf string, in func(func() error) error) *Service {
		s := New(Options{VRF: vrf, InVRF: in, Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace",
			PortIKE: 15920, PortNATT: 15921, Logger: logger, OtherVRFsRun: true,
			HostAddrs: func() []netip.Addr { return nil }})
		t.Cleanup(func() { s.Close() })
		return s
	}
	main := mk("", nil)
	cust := mk("cust1", func(fn func() error) error { return netnsutil.Run(ns, fn) })
	if main.VRF() != "main" || cust.VRF() != "cust1" {
		t.Fatalf("vrfs %q %q", main.VRF(), cust.VRF())
	}
	run := twoVRFs()
	for _, s := range []*Service{main, cust} {
		if err := s.Start(run); err != nil {
			t.Fatal(err)
		}
	}
	peer := func(s *Service) string {
		v := s.Engine().Config().VPN("v")
		if v == nil {
			t.Fatalf("vrf %s: no VPN v", s.VRF())
		}
		return v.RemoteAddr.String()
	}
	if got := peer(main); got != "127.0.0.2" {
		t.Errorf("vrf main runs peer %s, want 127.0.0.2", got)
	}
	if got := peer(cust); got != "127.0.0.3" {
		t.Errorf("vrf cust1 runs peer %s, want 127.0.0.3", got)
	}
	// Both bound 127.0.0.1 on the same ports: each in its namespace.
	for _, s := range []*Service{main, cust} {
		s.mu.Lock()
		bound := s.bound
		s.mu.Unlock()
		if len(bound) != 1 || bound[0] != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("vrf %s bound %v, want [127.0.0.1] (a clash on the ports would leave it unbound)", s.VRF(), bound)
		}
	}

	// A commit in vrf main: cust1's configuration is untouched.
	before := cust.Engine().Config()
	next := twoVRFs()
	next.Vrf["main"].Ike.Vpn["v"].RemoteAddress = ptr2("127.0.0.4")
	tx := &datastore.Tx{Old: run, New: next, Changes: []datastore.Change{{Path: schema.DataPath{
		{Name: "vrf", KeyName: "name", Key: "main"}, {Name: "ike"}, {Name: "vpn", KeyName: "name", Key: "v"}, {Name: "remote-address"}}}}}
	for _, s := range []*Service{main, cust} {
		if err := s.Prepare(tx); err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(tx); err != nil {
			t.Fatal(err)
		}
	}
	if got := peer(main); got != "127.0.0.4" {
		t.Errorf("after the commit vrf main runs peer %s, want 127.0.0.4", got)
	}
	if after := cust.Engine().Config(); after.VPN("v") != before.VPN("v") || peer(cust) != "127.0.0.3" {
		t.Errorf("a commit in vrf main changed vrf cust1's VPN")
	}

	// RPCs take the vrf from their input: each Service refuses the other's.
	if _, err := cust.Flush(t.Context(), Target{VRF: "main", IKESA: &IKESelector{VPN: "v"}}); err == nil {
		t.Error("vrf cust1's Service accepted a flush of vrf main")
	}
	if _, err := cust.Flush(t.Context(), Target{VRF: "cust1", IKESA: &IKESelector{VPN: "v"}}); err != nil {
		t.Errorf("flush vrf cust1: %v", err)
	}
}

// TestCRLFetchInVRF: the CRL of a Service in another vrf is fetched from
// inside the vrf's namespace: the distribution point listens on
// 127.0.0.1 there only, where the host's loopback has nothing.
func TestCRLFetchInVRF(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.NewNS(t)
	if err := netnsutil.LinkUp(netnstest.Handle(t, ns), "lo"); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	netnstest.In(t, ns, func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:0"); return err })
	ca := pkitest.NewCA(t, "ca", pkitest.P256)
	var crl []byte
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(crl) })}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/ca.crl"
	revoked := ca.Issue(t, "r", pkitest.P256, pkitest.Options{CRL: url})
	crl = ca.CRL(t, revoked)
	s := newServiceOn(t, Options{VRF: "cust1", InVRF: func(fn func() error) error { return netnsutil.Run(ns, fn) },
		Dataplane: enginetest.NewDataplane()})
	c := s.crlFetcher()
	c.Revoked(revoked.Cert, ca.Cert) // starts the fetch
	if !poll.Until(5*time.Second, func() bool { _, known := c.Revoked(revoked.Cert, ca.Cert); return known }) {
		t.Fatal("CRL never fetched from inside the vrf")
	}
	if r, _ := c.Revoked(revoked.Cert, ca.Cert); !r {
		t.Error("listed certificate not revoked")
	}
}
