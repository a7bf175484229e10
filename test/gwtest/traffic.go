package gwtest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"time"

	"secgw/internal/netnsutil"
)

// lossRE reads ping's summary: "N packets transmitted, M received".
var lossRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// Ping sends count echo requests from src to dst inside ns, 0.2 s apart,
// and returns how many were answered, with ping's output.
func Ping(ns string, src, dst netip.Addr, count int) (int, string) {
	out, _ := Run("ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", strconv.Itoa(count), "-i", "0.2", "-W", "2",
		"-I", src.String(), dst.String())
	m := lossRE.FindStringSubmatch(out)
	if m == nil {
		return 0, out
	}
	n, _ := strconv.Atoi(m[2])
	return n, out
}

// TCPTimeout bounds one TCP transfer.
const TCPTimeout = 20 * time.Second

// TCPEcho connects from src (in clientNS) to an echo server on dst (in
// serverNS), sends size random octets and checks that the same octets
// come back: data crosses the tunnel both ways on one connection.
func TCPEcho(clientNS string, src netip.Addr, serverNS string, dst netip.Addr, size int) error {
	var ln net.Listener
	err := netnsutil.RunNamed(serverNS, func() (err error) {
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
		c.SetDeadline(time.Now().Add(TCPTimeout))
		_, err = io.Copy(c, c)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		served <- err
	}()
	var conn net.Conn
	err = netnsutil.RunNamed(clientNS, func() (err error) {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 5 * time.Second}
		conn, err = d.Dial("tcp", ln.Addr().String())
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(TCPTimeout))
	sent := make([]byte, size)
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
