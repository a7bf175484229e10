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
	if err := s.mobileSocket(local.Unmap()); err != nil {
		return err
	}
	return s.eng.MoveIKE(uid, local.Unmap())
}

// mobileSocket makes sure the IKE sockets of local are open, opening
// them for MOBIKE if the configuration did not.
func (s *Service) mobileSocket(local netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.bound, local) {
		s.conn.setDraining(local, false)
		return nil
	}
	c, err := s.listen(udpconn.Options{Addrs: []netip.Addr{local}, PortIKE: s.o.PortIKE, PortNATT: s.o.PortNATT,
		OnESP: s.o.OnESP, OnESPBorrow: s.o.OnESPBorrow, OnNATTSocket: s.o.OnNATTSocket, Logger: s.o.Logger})
	if err != nil {
		return fmt.Errorf("ike: MOBIKE: cannot open the IKE sockets of %v: %w", local, err)
	}
	s.conn.add(local, c)
	s.bound = append(s.bound, local)
	if s.mobile == nil {
		s.mobile = map[netip.Addr]bool{}
	}
	s.mobile[local] = true
	s.log.Info("IKE sockets opened for a MOBIKE move", "addr", local)
	return nil
}

// mobikePath is the engine's Options.MOBIKEPath: the source address
// routing picks for remote, once the IKE sockets can send from it. It is
// called with an engine worker locked, so it does not take s.mu (Apply
// holds s.mu while it locks the workers): sockets missing for that
// address are opened in the background, and the engine asks again at its
// next retransmission.
func (s *Service) mobikePath(remote netip.Addr) (netip.Addr, bool) {
	src := s.sourceAddr(remote)
	if !src.IsValid() {
		return netip.Addr{}, false
	}
	if s.conn.has(src) {
		return src, true
	}
	go func() {
		if err := s.mobileSocket(src); err != nil {
			s.log.Warn("MOBIKE: no IKE sockets on the new path", "addr", src, "err", err)
		}
	}()
	return netip.Addr{}, false
}

// has reports whether address a has sockets.
func (s *switchConn) has(a netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[a] != nil
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

// SetHostAddrs tells the service which addresses the host has now (the
// daemon's netlink watcher): MOBIKE advertises the IKE-bound addresses
// among them (mobikeAddrs). nil means unknown: all IKE-bound addresses.
func (s *Service) SetHostAddrs(addrs []netip.Addr) {
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	s.conn.host = slices.Clone(addrs)
}

// AnnounceAddresses sends the IKE SA with the given unique-id our current
// list of additional addresses (RFC 4555 §3.6; the daemon calls it when
// the host's addresses change).
func (s *Service) AnnounceAddresses(uid uint32) error { return s.eng.AnnounceAddresses(uid) }

// mobikeAddrs is the engine's Options.MOBIKEAddrs: the specific addresses
// the IKE sockets are bound to, not draining, and still on the host when
// the daemon said which it has. Called with an engine worker locked, it
// takes only the sockets' lock.
func (s *Service) mobikeAddrs() []netip.Addr {
	c := s.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []netip.Addr
	for a := range c.conns {
		if a.IsUnspecified() || c.draining[a] || (c.host != nil && !slices.Contains(c.host, a)) {
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}
