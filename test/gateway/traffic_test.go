package gateway

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
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

// tcpTimeout bounds one TCP transfer.
const tcpTimeout = 20 * time.Second

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
	var ln net.Listener
	err := inNetns(serverNS, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(dst, 0).String())
		return err
	})
	if err != nil {
		return err
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(tcpTimeout))
		_, err = io.Copy(c, c)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		served <- err
	}()
	var conn net.Conn
	err = inNetns(clientNS, func() (err error) {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 5 * time.Second}
		conn, err = d.Dial("tcp", ln.Addr().String())
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(tcpTimeout))
	sent := make([]byte, tcpSize)
	rand.Read(sent)
	wrote := make(chan error, 1)
	go func() {
		_, err := conn.Write(sent)
		if err == nil {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	got, rerr := io.ReadAll(conn)
	if err := <-wrote; err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("receiving (%d of %d octets back): %w", len(got), len(sent), rerr)
	}
	if err := <-served; err != nil {
		return fmt.Errorf("echo server: %w", err)
	}
	if !bytes.Equal(got, sent) {
		return fmt.Errorf("%d octets back, not the %d sent", len(got), len(sent))
	}
	return nil
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
