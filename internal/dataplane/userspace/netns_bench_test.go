package userspace

import (
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"secgw/internal/netnsutil/netnstest"
)

// BenchmarkNetnsTCP measures TCP throughput from namespace A to B through
// the two userspace dataplanes (real TUN and UDP, AES-128-GCM): 1 MiB per
// iteration.
func BenchmarkNetnsTCP(b *testing.B) {
	a, bs := newNetnsPair(b)
	installSuite(b, a, bs, suites[0], 0x100)
	var ln net.Listener
	netnstest.InNamed(b, bs.ns, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(innerB, 0).String())
		return err
	})
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	var c net.Conn
	netnstest.InNamed(b, a.ns, func() (err error) {
		c, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		return err
	})
	defer c.Close()
	chunk := make([]byte, 1<<20)
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNetnsUDP measures packets per second of 1400-octet UDP
// datagrams from A to B through the dataplanes (AES-128-GCM); it reports
// the received rate and the loss.
func BenchmarkNetnsUDP(b *testing.B) {
	a, bs := newNetnsPair(b)
	installSuite(b, a, bs, suites[0], 0x200)
	var rx, tx net.PacketConn
	netnstest.InNamed(b, bs.ns, func() (err error) {
		rx, err = net.ListenPacket("udp", netip.AddrPortFrom(innerB, 9000).String())
		return err
	})
	defer rx.Close()
	netnstest.InNamed(b, a.ns, func() (err error) {
		tx, err = net.ListenPacket("udp", netip.AddrPortFrom(innerA, 0).String())
		return err
	})
	defer tx.Close()
	var got atomic.Int64
	go func() {
		buf := make([]byte, 2000)
		for {
			if _, _, err := rx.ReadFrom(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(innerB, 9000))
	msg := make([]byte, 1400-28)
	start := time.Now()
	n := 0
	for b.Loop() {
		tx.WriteTo(msg, dst)
		n++
	}
	for last := int64(-1); got.Load() != last; {
		last = got.Load()
		time.Sleep(50 * time.Millisecond)
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(got.Load())/el, "rx-pkts/s")
	b.ReportMetric(100*float64(int64(n)-got.Load())/float64(n), "%loss")
}
