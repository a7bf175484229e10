package gateway

import (
	"net/netip"
	"testing"

	"secgw/test/gwtest"
)

// pingCount is the number of echo requests of each ping; all must be
// answered.
const pingCount = "3"

// ping pings dst from src inside ns and fails the test unless every
// request is answered.
func ping(t *testing.T, ns string, src, dst netip.Addr) {
	t.Helper()
	out, err := runErr("ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", pingCount, "-i", "0.2", "-W", "2",
		"-I", src.String(), dst.String())
	if err != nil {
		t.Errorf("gateway: ping %s -> %s in %s: %v\n%s", src, dst, ns, err, out)
	}
}

// pingFails checks that no echo request from src to dst gets through.
func pingFails(t *testing.T, ns string, src, dst netip.Addr) {
	t.Helper()
	if out, err := runErr("ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "1", "-W", "1",
		"-I", src.String(), dst.String()); err == nil {
		t.Errorf("gateway: ping %s -> %s in %s answered, want no tunnel:\n%s", src, dst, ns, out)
	}
}

// tcpSize is what each TCP transfer sends one way (and gets back): enough
// for full-size segments and a few round trips of the window.
const tcpSize = 1 << 20

// tcpEcho connects from src (in clientNS) to an echo server on dst (in
// serverNS), sends tcpSize random octets and checks that the same octets
// come back: data crosses the tunnel both ways on one connection.
func tcpEcho(t *testing.T, clientNS string, src netip.Addr, serverNS string, dst netip.Addr) {
	t.Helper()
	if err := tcpEchoErr(clientNS, src, serverNS, dst); err != nil {
		t.Errorf("gateway: TCP %s -> %s: %v", src, dst, err)
	}
}

func tcpEchoErr(clientNS string, src netip.Addr, serverNS string, dst netip.Addr) error {
	return gwtest.TCPEcho(clientNS, src, serverNS, dst, tcpSize)
}

// traffic is the addresses of one inner family on both sides.
type traffic struct{ gw, charon netip.Addr }

var (
	traffic4 = traffic{gwInner4, charonIn4}
	traffic6 = traffic{gwInner6, charonIn6}
)

// checkTraffic pings and runs a TCP echo transfer in both directions
// through the tunnel.
func checkTraffic(t *testing.T, top *topology, f traffic) {
	t.Helper()
	ping(t, top.gw, f.gw, f.charon)
	ping(t, top.charon, f.charon, f.gw)
	tcpEcho(t, top.gw, f.gw, top.charon, f.charon)
	tcpEcho(t, top.charon, f.charon, top.gw, f.gw)
}
