package udpconn_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/udpconn"
	"secgw/internal/netnsutil/netnstest"
)

// TestFreeBind: in a namespace of its own with ip_nonlocal_bind off, a
// Conn binds an address the host does not hold only with FreeBind
// (IP_FREEBIND, IPV6_FREEBIND), and receives on it once the address is
// added, as an HA standby's sockets on the VRRP address do once
// keepalived moves it there; nothing leaves the namespace.
func TestFreeBind(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.NewNS(t)
	netnstest.Sysctl(t, ns, "net/ipv4/ip_nonlocal_bind", "0")
	netnstest.Sysctl(t, ns, "net/ipv6/ip_nonlocal_bind", "0")
	h := netnstest.Handle(t, ns)
	for _, vip := range []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::7")} {
		var c *udpconn.Conn
		netnstest.In(t, ns, func() error {
			o := udpconn.Options{Addrs: []netip.Addr{vip}, PortIKE: 15500, PortNATT: 15501}
			if c, err := udpconn.Listen(o); err == nil {
				c.Close()
				return fmt.Errorf("%v: bound without FreeBind, the address is not the host's", vip)
			} else if !errors.Is(err, syscall.EADDRNOTAVAIL) {
				return fmt.Errorf("%v: without FreeBind: %v, want EADDRNOTAVAIL", vip, err)
			}
			o.FreeBind = true
			var err error
			if c, err = udpconn.Listen(o); err != nil {
				return fmt.Errorf("%v: FreeBind: %w", vip, err)
			}
			return nil
		})
		defer c.Close()
		bits := 32
		if vip.Is6() {
			bits = 128
		}
		netnstest.LoAddr(t, h, netip.PrefixFrom(vip, bits))
		netnstest.In(t, ns, func() error {
			peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(vip, 0)))
			if err != nil {
				return err
			}
			defer peer.Close()
			msg := ikeHeader()
			deadline := time.Now().Add(5 * time.Second)
			for {
				if _, err := peer.WriteToUDPAddrPort(msg, netip.AddrPortFrom(vip, 15500)); err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
				d, err := c.Receive(ctx)
				cancel()
				if err == nil {
					if d.Local != netip.AddrPortFrom(vip, engine.PortIKE) {
						return fmt.Errorf("%v: received on %v", vip, d.Local)
					}
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%v: nothing received on the free-bound socket once the address was added: %v", vip, err)
				}
			}
		})
	}
}
