package ikesvc

import (
	"fmt"
	"net/netip"
	"slices"

	"secgw/internal/ike/udpconn"
)

// MoveIKE moves the IKE SA with the given unique-id, which we initiated
// with MOBIKE, to the local address local (RFC 4555 §3.5; the daemon
// calls it when the host's addresses or routes change). The IKE sockets
// are bound to the configured local addresses: a new address gets its
// own sockets first, kept while an IKE SA uses it.
func (s *Service) MoveIKE(uid uint32, local netip.Addr) error {
	local = local.Unmap()
	s.mu.Lock()
	if !slices.Contains(s.bound, local) {
		c, err := udpconn.Listen(udpconn.Options{Addrs: []netip.Addr{local}, PortIKE: s.o.PortIKE, PortNATT: s.o.PortNATT,
			OnESP: s.o.OnESP, OnESPBorrow: s.o.OnESPBorrow, OnNATTSocket: s.o.OnNATTSocket, Logger: s.o.Logger})
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("ike: MOBIKE: cannot open the IKE sockets of %v: %w", local, err)
		}
		s.conn.add(local, c)
		s.bound = append(s.bound, local)
		if s.mobile == nil {
			s.mobile = map[netip.Addr]bool{}
		}
		s.mobile[local] = true
		s.log.Info("IKE sockets opened for a MOBIKE move", "addr", local)
	} else {
		s.conn.setDraining(local, false)
	}
	s.mu.Unlock()
	return s.eng.MoveIKE(uid, local)
}

// withMobile adds to the addresses a configuration wants those bound for
// MOBIKE moves that an IKE SA still uses; the others are forgotten (and
// drain like any address the configuration dropped). s.mu is held.
func (s *Service) withMobile(addrs []netip.Addr) []netip.Addr {
	for a := range s.mobile {
		switch {
		case slices.Contains(addrs, a):
			delete(s.mobile, a) // the configuration wants it now
		case s.eng.UsesLocal(a):
			addrs = append(addrs, a)
		default:
			delete(s.mobile, a)
		}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	return addrs
}
