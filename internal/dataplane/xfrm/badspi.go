package xfrm

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/netnsutil"
)

// Unknown-SPI sampling (respond-bad-spi with the kernel dataplane): XFRM
// drops ESP whose SPI no SA has and only counts it (XfrmInNoStates,
// Stats). When that counter grows, the daemon samples the inbound ESP
// for a short while through a packet socket whose BPF filter passes only
// ESP (IP protocol 50) and ESP in UDP to port 4500 (RFC 3948: not a
// NAT-keepalive, not IKE with its Non-ESP Marker), keeping the first
// octets up to the SPI, and reports the sampled SPIs the kernel has no SA
// for. No packet is copied outside those windows: the socket exists only
// while it samples.

// sampleSnap is what the filter keeps of a packet: an IPv6 header, a UDP
// header and the SPI fit.
const sampleSnap = 40 + 8 + 4

// sampleFilter is the BPF program of the sampling socket. A SOCK_DGRAM
// packet socket hands it the packet from the network header on.
func sampleFilter() ([]bpf.RawInstruction, error) {
	const (
		accept   = sampleSnap
		portNATT = 4500
	)
	return bpf.Assemble([]bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: 0, Size: 1},
		/* 1 */ bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4},
		/* 2 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 4, SkipFalse: 13}, // not IPv4: 16
		// IPv4: a first fragment at most (the UDP header and SPI are in it).
		/* 3 */ bpf.LoadAbsolute{Off: 6, Size: 2},
		/* 4 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 23}, // drop: 28
		/* 5 */ bpf.LoadAbsolute{Off: 9, Size: 1},
		/* 6 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_ESP, SkipTrue: 20}, // accept: 27
		/* 7 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_UDP, SkipFalse: 20}, // drop: 28
		/* 8 */ bpf.LoadMemShift{Off: 0}, // X = the IPv4 header's length
		/* 9 */ bpf.LoadIndirect{Off: 2, Size: 2},
		/* 10 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: portNATT, SkipFalse: 17}, // drop: 28
		/* 11 */ bpf.LoadIndirect{Off: 4, Size: 2},
		/* 12 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 9, SkipTrue: 15}, // a NAT-keepalive: drop 28
		/* 13 */ bpf.LoadIndirect{Off: 8, Size: 4},
		/* 14 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 13}, // the Non-ESP Marker: IKE, drop 28
		/* 15 */ bpf.Jump{Skip: 11}, // accept: 27
		// IPv6 (no extension headers: ESP or UDP right after the header).
		/* 16 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipFalse: 11}, // drop: 28
		/* 17 */ bpf.LoadAbsolute{Off: 6, Size: 1},
		/* 18 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_ESP, SkipTrue: 8}, // accept: 27
		/* 19 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_UDP, SkipFalse: 8}, // drop: 28
		/* 20 */ bpf.LoadAbsolute{Off: 40 + 2, Size: 2},
		/* 21 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: portNATT, SkipFalse: 6}, // drop: 28
		/* 22 */ bpf.LoadAbsolute{Off: 40 + 4, Size: 2},
		/* 23 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 9, SkipTrue: 4}, // drop: 28
		/* 24 */ bpf.LoadAbsolute{Off: 40 + 8, Size: 4},
		/* 25 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 2}, // drop: 28
		/* 26 */ bpf.Jump{Skip: 0},
		/* 27 */ bpf.RetConstant{Val: accept},
		/* 28 */ bpf.RetConstant{Val: 0},
	})
}

// parseSample returns the outer addresses and the SPI of a packet the
// filter passed (from its network header, at most sampleSnap octets).
func parseSample(b []byte) (src, dst netip.Addr, spi uint32, ok bool) {
	if len(b) < 1 {
		return
	}
	var proto byte
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return
		}
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		proto, l4 = b[9], b[ihl:]
	case 6:
		if len(b) < 40 {
			return
		}
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		proto, l4 = b[6], b[40:]
	default:
		return
	}
	switch proto {
	case unix.IPPROTO_ESP:
	case unix.IPPROTO_UDP:
		if len(l4) < 8 {
			return
		}
		l4 = l4[8:] // RFC 3948 §2.1: the ESP header follows the UDP header
	default:
		return
	}
	if len(l4) < 4 {
		return
	}
	spi = binary.BigEndian.Uint32(l4)
	// SPIs 1-255 are reserved (RFC 4303 §2.1); 0 is the Non-ESP Marker.
	return src, dst, spi, spi > 255
}

// SampleUnknownSPI samples the inbound ESP of the dataplane's namespace
// for window or until max distinct (source, destination, SPI) were seen,
// and returns as UnknownSPI events those whose SPI no SA of the kernel
// has (an SA added meanwhile, or a packet of a valid SA, is not
// reported).
func (d *Dataplane) SampleUnknownSPI(ctx context.Context, window time.Duration, max int) ([]dataplane.Event, error) {
	prog, err := sampleFilter()
	if err != nil {
		return nil, fmt.Errorf("xfrm: sample filter: %w", err)
	}
	var fd int
	err = netnsutil.Run(d.o.NetNS, func() error {
		// Protocol 0 receives nothing until bound: the filter is in
		// place before the first packet.
		var err error
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("xfrm: sample socket: %w", err)
	}
	defer unix.Close(fd)
	filter := make([]unix.SockFilter, len(prog))
	for i, p := range prog {
		filter[i] = unix.SockFilter{Code: p.Op, Jt: p.Jt, Jf: p.Jf, K: p.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}); err != nil {
		return nil, fmt.Errorf("xfrm: sample filter: %w", err)
	}
	// Our own outbound ESP is not what the peers send.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL)}); err != nil {
		return nil, fmt.Errorf("xfrm: sample bind: %w", err)
	}
	type key struct {
		src, dst netip.Addr
		spi      uint32
	}
	seen := map[key]bool{}
	var out []dataplane.Event
	end := time.Now().Add(window)
	buf := make([]byte, sampleSnap)
	for len(seen) < max && ctx.Err() == nil {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return out, fmt.Errorf("xfrm: sample: %w", err)
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("xfrm: sample: %w", err)
		}
		src, dst, spi, ok := parseSample(buf[:n])
		k := key{src, dst, spi}
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		sa := dataplane.SAKey{Dst: dst, SPI: spi}
		if _, err := d.Counters(ctx, sa); err == nil {
			continue // the kernel has this SA: the drops were others'
		}
		out = append(out, dataplane.Event{Kind: dataplane.UnknownSPI, SA: sa, Src: src})
	}
	return out, nil
}

// htons is the network order of a 16-bit protocol number for
// sockaddr_ll.
func htons(v uint16) uint16 { return v<<8 | v>>8 }
