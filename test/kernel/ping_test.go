//go:build vmtest

package kernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"secgw/internal/netnsutil"
)

// ping sends ICMP echo requests from src (inside ns) to dst and returns
// the number of matching replies among count tries.
func ping(ns netns.NsHandle, src, dst netip.Addr, count int) (int, error) {
	fam, proto, req, rep := unix.AF_INET, unix.IPPROTO_ICMP, byte(8), byte(0)
	if src.Is6() {
		fam, proto, req, rep = unix.AF_INET6, unix.IPPROTO_ICMPV6, 128, 129
	}
	var fd int
	err := netnsutil.Run(ns, func() (err error) {
		fd, err = unix.Socket(fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ping: raw socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, sockaddr(src)); err != nil {
		return 0, fmt.Errorf("ping: bind %s: %w", src, err)
	}
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	id := uint16(0x5ec0)
	got := 0
	buf := make([]byte, 1500)
	for seq := uint16(1); seq <= uint16(count); seq++ {
		msg := make([]byte, 8+56)
		msg[0] = req
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], seq)
		copy(msg[8:], "secgw kernel ESP test payload")
		if fam == unix.AF_INET {
			binary.BigEndian.PutUint16(msg[2:], checksum(msg))
		} // ICMPv6 raw sockets: the kernel fills in the checksum
		if err := unix.Sendto(fd, msg, 0, sockaddr(dst)); err != nil {
			return got, fmt.Errorf("ping: send to %s: %w", dst, err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				break // timeout: this one is lost
			}
			p := buf[:n]
			if fam == unix.AF_INET {
				if n < 20 {
					continue
				}
				p = p[int(p[0]&0xf)*4:] // IPv4 raw sockets deliver the IP header
			}
			if len(p) < 8 || p[0] != rep || binary.BigEndian.Uint16(p[4:]) != id || binary.BigEndian.Uint16(p[6:]) != seq || addrOf(from) != dst {
				continue
			}
			got++
			break
		}
	}
	return got, nil
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func sockaddr(a netip.Addr) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Addr: a.As16()}
}

func addrOf(sa unix.Sockaddr) netip.Addr {
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(s.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(s.Addr)
	}
	return netip.Addr{}
}
