package xfrm

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// EnableESPInUDP sets UDP_ENCAP_ESPINUDP on a UDP socket (IPv4 or IPv6),
// typically the IKE socket on port 4500. The kernel decapsulates an
// UDP-encapsulated ESP SA's packets only when they arrive on a socket with
// this option: it takes datagrams whose first four octets are a non-zero
// SPI as ESP and passes those starting with the Non-ESP Marker (four zero
// octets, IKE) to the socket unchanged (RFC 3948 §2.1, §2.2).
func EnableESPInUDP(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("xfrm: UDP encapsulation: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_ENCAP, unix.UDP_ENCAP_ESPINUDP)
	}); err != nil {
		return fmt.Errorf("xfrm: UDP encapsulation: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("xfrm: set UDP_ENCAP_ESPINUDP: %w", serr)
	}
	return nil
}
