package daemon

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// espSocketBuffer is the receive and send buffer of a NAT-T socket that
// carries the userspace dataplane's ESP. With the default (rmem_default,
// about 200 KiB) a TCP transfer through the tunnel overflowed the
// receiver's socket: a fifth of the ESP datagrams were dropped
// (UdpRcvbufErrors), each one a TCP retransmission. 4 MiB holds about 3,000
// full-size datagrams, a few milliseconds at line rate.
const espSocketBuffer = 4 << 20

// setESPBuffers sets the socket's receive and send buffers to
// espSocketBuffer: with SO_RCVBUFFORCE/SO_SNDBUFFORCE when the daemon has
// CAP_NET_ADMIN (it does, to create its TUN device), else as far as
// net.core.rmem_max and wmem_max allow.
func setESPBuffers(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("daemon: NAT-T socket: %w", err)
	}
	var forced [2]error
	if err := rc.Control(func(fd uintptr) {
		forced[0] = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, espSocketBuffer)
		forced[1] = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, espSocketBuffer)
	}); err != nil {
		return fmt.Errorf("daemon: NAT-T socket: %w", err)
	}
	if forced[0] != nil {
		if err := c.SetReadBuffer(espSocketBuffer); err != nil {
			return fmt.Errorf("daemon: NAT-T socket receive buffer: %w", err)
		}
	}
	if forced[1] != nil {
		if err := c.SetWriteBuffer(espSocketBuffer); err != nil {
			return fmt.Errorf("daemon: NAT-T socket send buffer: %w", err)
		}
	}
	return nil
}
