package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"secgw/internal/ike/wire"
)

// MOBIKE (RFC 4555): both sides announce MOBIKE_SUPPORTED in IKE_AUTH
// (§3.3); the initiator then moves the IKE SA and its child SAs to new
// addresses with an INFORMATIONAL exchange carrying UPDATE_SA_ADDRESSES,
// fresh NAT_DETECTION_* notifications and a COOKIE2 (§3.5, §4.1.4):
//
//	HDR, SK {N(UPDATE_SA_ADDRESSES), N(NAT_DETECTION_SOURCE_IP),
//	         N(NAT_DETECTION_DESTINATION_IP), N(COOKIE2)}  -->
//	<--  HDR, SK {N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP),
//	              N(COOKIE2)}
//
// Only the original initiator sends updates (§3.1, the initiator decides);
// the responder takes the new addresses from the IP header of the request,
// which its SK payload authenticates, and moves the child SAs in the
// dataplane without renegotiating them (same SPIs, same keys).

// ChildMover is implemented by a dataplane that can give an installed
// child SA new outer addresses and UDP encapsulation while keeping its
// SPIs, keys and sequence numbers (RFC 4555 §3.5: the IPsec SAs are
// updated, not renegotiated). A dataplane without it gets DeleteChild
// then InstallChild.
type ChildMover interface {
	MoveChild(old, moved ChildSA) error
}

// ErrNoMOBIKE is returned by MoveIKE for an IKE SA that is not ours to
// move: not established, without MOBIKE, or not the original initiator's.
var ErrNoMOBIKE = errors.New("engine: IKE SA cannot move: MOBIKE was not negotiated or we are not its initiator")

// mobikeNotify is MOBIKE_SUPPORTED when the VPN enables MOBIKE.
func (sa *ikeSA) mobikeNotify() []wire.Payload {
	if sa.vpn == nil || !sa.vpn.MOBIKE {
		return nil
	}
	ps := []wire.Payload{wire.NewNotify(wire.NotifyMOBIKESupported, nil)}
	if addrs := sa.additionalAddresses(); len(addrs) > 0 {
		// §3.4: the other addresses may come with MOBIKE_SUPPORTED.
		ps = append(ps, addressNotifies(addrs)...)
	}
	return ps
}

// mobikeNegotiated records whether MOBIKE is on for the SA: the VPN
// enables it and the peer's IKE_AUTH message announced it (RFC 4555 §3.3).
func (sa *ikeSA) mobikeNegotiated(ps []wire.Payload) {
	sa.mobike = sa.vpn != nil && sa.vpn.MOBIKE && wire.FindNotify(ps, wire.NotifyMOBIKESupported) != nil
	sa.mobikeInitiator = sa.initiator
	if sa.mobike {
		sa.log().Debug("MOBIKE negotiated")
		sa.recordPeerAddresses(ps)
	}
}

// natFromHashes compares the NAT_DETECTION_* hashes of ps, computed
// with spii and spir (RFC 7296 §2.23: spir is zero in IKE_SA_INIT's
// request; RFC 4555 §3.5: in an INFORMATIONAL exchange both are known),
// with the addresses a datagram carried. found is false when the message
// had none (a peer without NAT-T).
func natFromHashes(ps []wire.Payload, spii, spir uint64, local, remote netip.AddrPort) (natLocal, natRemote, found bool) {
	src, dst := false, false
	srcFound, dstFound := false, false
	for _, p := range ps {
		n, ok := p.(*wire.Notify)
		if !ok {
			continue
		}
		switch n.NotifyType {
		case wire.NotifyNATDetectionSourceIP:
			srcFound = true
			src = src || bytes.Equal(n.Data, natdHash(spii, spir, remote))
		case wire.NotifyNATDetectionDestinationIP:
			dstFound = true
			dst = dst || bytes.Equal(n.Data, natdHash(spii, spir, local))
		}
	}
	if !srcFound || !dstFound {
		return false, false, false
	}
	return !dst, !src, true
}

// respondUpdateAddresses handles an INFORMATIONAL request with
// UPDATE_SA_ADDRESSES (RFC 4555 §3.5): the request authenticated under
// the IKE SA (handleRequest decrypted it), so its IP addresses become the
// SA's, NAT detection is done again over them, the child SAs move in the
// dataplane, and the response carries our NAT_DETECTION_* and the COOKIE2
// copied (§3.5, §4.1.4). Without MOBIKE, or from the responder's peer
// when we are the original initiator, the notification is ignored (§3.1:
// only the initiator sends it) and nothing moves.
func (sa *ikeSA) respondUpdateAddresses(d Datagram, ps []wire.Payload) []wire.Payload {
	if sa.mobike {
		sa.recordPeerAddresses(ps) // §3.6: any INFORMATIONAL request may carry the list
	}
	var resp []wire.Payload
	if c := wire.FindNotify(ps, wire.NotifyCookie2); c != nil {
		// §3.5: the COOKIE2 is copied whatever else happens.
		resp = append(resp, wire.NewNotify(wire.NotifyCookie2, bytes.Clone(c.Data)))
	}
	if wire.FindNotify(ps, wire.NotifyUpdateSAAddresses) == nil {
		return resp // a return routability check (§3.5): COOKIE2 only
	}
	if !sa.mobike || sa.mobikeInitiator {
		sa.log().Info("ignoring UPDATE_SA_ADDRESSES: MOBIKE not negotiated on this IKE SA or the peer is not its initiator",
			"remote", d.Remote)
		return resp
	}
	natLocal, natRemote, found := natFromHashes(ps, sa.spii, sa.spir, d.Local, d.Remote)
	if !found {
		natLocal, natRemote = sa.natLocal, sa.natRemote
	}
	natLocal = natLocal || sa.w.e.o.ForceEncap
	if wire.FindNotify(ps, wire.NotifyNoNATsAllowed) != nil && (natLocal || natRemote) && !sa.w.e.o.ForceEncap {
		// §3.9: the initiator does not want to go through a NAT.
		sa.log().Info("refusing UPDATE_SA_ADDRESSES: NO_NATS_ALLOWED and a NAT is on the path", "remote", d.Remote)
		return append(resp, wire.NewNotify(wire.NotifyUnexpectedNATDetected, nil))
	}
	if found {
		resp = append(resp, natdPayloads(sa.spii, sa.spir, d.Local, d.Remote, sa.w.e.o.ForceEncap)...)
	}
	sa.moveAddresses(d.Local, d.Remote, natLocal, natRemote)
	return resp
}

// moveAddresses gives the IKE SA new addresses and NAT state and moves its child
// SAs in the dataplane (RFC 4555 §3.5). The SPIs and keys do not change.
func (sa *ikeSA) moveAddresses(local, remote netip.AddrPort, natLocal, natRemote bool) {
	if local == sa.local && remote == sa.remote && natLocal == sa.natLocal && natRemote == sa.natRemote {
		return
	}
	old := make([]ChildSA, len(sa.children))
	for i, c := range sa.children {
		old[i] = sa.childSA(c)
	}
	sa.log().Info("IKE SA moved (MOBIKE)", "from-local", sa.local, "from-remote", sa.remote,
		"local", local, "remote", remote, "nat-local", natLocal, "nat-remote", natRemote)
	sa.local, sa.remote = local, remote
	sa.natLocal, sa.natRemote = natLocal, natRemote
	if local.Port() == PortNATT {
		sa.natt = true
	}
	if natLocal && !sa.w.e.o.ForceEncap {
		sa.startKeepalive()
	}
	for i, c := range sa.children {
		if c.state == childDeleting {
			continue
		}
		moved := sa.childSA(c)
		if err := sa.w.e.moveChild(old[i], moved); err != nil {
			sa.childLog().Warn("cannot move child SA", "in", fmt.Sprintf("%08x", c.InSPI), "err", err)
			continue
		}
		sa.childLog().Info("child SA moved", "in", fmt.Sprintf("%08x", c.InSPI), "out", fmt.Sprintf("%08x", c.OutSPI),
			"local", moved.Local, "remote", moved.Remote, "encap", moved.Encap)
	}
}

// moveChild moves one child SA in the dataplane: by ChildMover when the
// dataplane has it, else by reinstalling it.
func (e *Engine) moveChild(old, moved ChildSA) error {
	if m, ok := e.o.Dataplane.(ChildMover); ok {
		return m.MoveChild(old, moved)
	}
	if err := e.o.Dataplane.DeleteChild(old); err != nil {
		return err
	}
	return e.o.Dataplane.InstallChild(moved)
}

// updateAddressesTask is the initiator's UPDATE_SA_ADDRESSES exchange
// (RFC 4555 §3.5): sent from local to remote, it carries NAT detection
// over those addresses and a COOKIE2 the response must echo (§3.5, §5:
// the return routability check; a response without it is not from the
// peer at the new address).
type updateAddressesTask struct {
	local, remote netip.AddrPort
	// prev are the addresses before the update, restored if it fails;
	// from, if set, are those the child SAs are still at (the IKE SA
	// already moved to retransmit a request, tryOtherPath).
	prev [2]netip.AddrPort
	from *[2]netip.AddrPort
	// cookie2 is the COOKIE2 we sent (§3.5: 8 to 64 octets).
	cookie2 []byte
}

func (*updateAddressesTask) exchange() wire.ExchangeType { return wire.ExchangeInformational }

func (t *updateAddressesTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if sa.state != stateEstablished || !sa.mobike {
		return nil, errSkip
	}
	t.cookie2 = make([]byte, 16)
	if _, err := io.ReadFull(sa.w.e.o.Rand, t.cookie2); err != nil {
		return nil, err
	}
	t.prev = [2]netip.AddrPort{sa.local, sa.remote}
	if t.from != nil {
		t.prev = *t.from
	}
	// §3.5: the request goes from the new address; the retransmissions
	// too.
	sa.local, sa.remote = t.local, t.remote
	if t.local.Port() == PortNATT {
		sa.natt = true // RFC 7296 §2.23: with the Non-ESP Marker from now on
	}
	ps := []wire.Payload{wire.NewNotify(wire.NotifyUpdateSAAddresses, nil)}
	ps = append(ps, natdPayloads(sa.spii, sa.spir, t.local, t.remote, sa.w.e.o.ForceEncap)...)
	ps = append(ps, wire.NewNotify(wire.NotifyCookie2, t.cookie2))
	// §3.6: our other addresses, or NO_ADDITIONAL_ADDRESSES.
	ps = append(ps, addressNotifies(sa.additionalAddresses())...)
	return ps, nil
}

func (t *updateAddressesTask) process(sa *ikeSA, m *wire.Message, ps []wire.Payload) error {
	c := wire.FindNotify(ps, wire.NotifyCookie2)
	if c == nil || !bytes.Equal(c.Data, t.cookie2) {
		// §3.5: the return routability check failed.
		return notifyErr(wire.NotifyCookie2, "UPDATE_SA_ADDRESSES response without our COOKIE2")
	}
	if n := wire.FindNotify(ps, wire.NotifyUnexpectedNATDetected); n != nil {
		sa.local, sa.remote = t.prev[0], t.prev[1]
		return notifyErr(wire.NotifyUnexpectedNATDetected, "peer refused the new addresses")
	}
	sa.recordPeerAddresses(ps)
	natLocal, natRemote, found := natFromHashes(ps, sa.spii, sa.spir, t.local, t.remote)
	if !found {
		natLocal, natRemote = sa.natLocal, sa.natRemote
	}
	natLocal = natLocal || sa.w.e.o.ForceEncap
	// moveAddresses compares with the addresses before the update.
	sa.local, sa.remote = t.prev[0], t.prev[1]
	sa.moveAddresses(t.local, t.remote, natLocal, natRemote)
	return nil
}

// MoveIKE moves the IKE SA with the given unique-id, and its child SAs,
// to a new local address (RFC 4555 §3.5; the daemon calls it when an
// address or route change makes another source address the right one).
// The peer's address does not change; the port is the NAT-T port. It
// returns once the UPDATE_SA_ADDRESSES request is queued.
func (e *Engine) MoveIKE(uid uint32, local netip.Addr) error {
	sa, w := e.byUID(uid)
	if sa == nil {
		return ErrNoSA
	}
	defer w.unlock()
	if sa.state != stateEstablished || !sa.mobike || !sa.mobikeInitiator {
		return ErrNoMOBIKE
	}
	sa.queueMove(local)
	return nil
}

// queueMove queues an UPDATE_SA_ADDRESSES to local, replacing one not
// sent yet (§3.5: only the most recent address set matters).
func (sa *ikeSA) queueMove(local netip.Addr) {
	t := &updateAddressesTask{
		local:  netip.AddrPortFrom(local, PortNATT),
		remote: netip.AddrPortFrom(sa.remote.Addr(), PortNATT),
	}
	for i, q := range sa.tasks {
		if _, ok := q.(*updateAddressesTask); ok {
			sa.tasks[i] = t
			sa.startNext()
			return
		}
	}
	sa.queue(t)
	sa.startNext()
}

// mobikeSwitchTry is the retransmission from which an unanswered request
// of a MOBIKE IKE SA we decide for makes it look for another path: the
// first transmission and one retransmission went unanswered.
const mobikeSwitchTry = 2

// tryOtherPath moves a MOBIKE IKE SA whose request goes unanswered to
// another path (the vsr guide: the path is changed when the current one
// stops working): first to the local address routing now picks for the
// peer's address, if it is another; else to the next pair of one of our
// IKE-bound addresses and one of the peer's, its additional ones
// included (RFC 4555 §3.6: the initiator decides which pair is used and
// may try the others, §3.7). The request is retransmitted from there and
// an UPDATE_SA_ADDRESSES follows it, which moves the child SAs (§3.5:
// outstanding requests go on with the new addresses).
func (sa *ikeSA) tryOtherPath() {
	if !sa.mobike || !sa.mobikeInitiator || sa.state != stateEstablished || !sa.busy() {
		return
	}
	if sa.outstanding(func(t task) bool { _, ok := t.(*updateAddressesTask); return ok }) {
		return
	}
	for _, t := range sa.tasks {
		if _, ok := t.(*updateAddressesTask); ok {
			return // already moving
		}
	}
	src, remote, ok := sa.nextPath()
	if !ok {
		return
	}
	from := [2]netip.AddrPort{sa.local, sa.remote}
	sa.log().Info("MOBIKE: no answer on the current path, trying another", "from-local", sa.local, "from-remote", sa.remote,
		"local", src, "remote", remote)
	sa.local, sa.remote, sa.natt = netip.AddrPortFrom(src, PortNATT), netip.AddrPortFrom(remote, PortNATT), true
	sa.queueFirst(&updateAddressesTask{local: sa.local, remote: sa.remote, from: &from})
}

// nextPath picks the path tryOtherPath moves to: routing's source address
// for the current peer address when it changed, else the next of the
// pairs (local, remote) other than the current one, remote the peer's
// current address then its additional ones, local routing's source for it
// then our other IKE-bound addresses of its family, in turn (pathTry).
func (sa *ikeSA) nextPath() (local, remote netip.Addr, ok bool) {
	curL, curR := sa.local.Addr().Unmap(), sa.remote.Addr().Unmap()
	path := sa.w.e.o.MOBIKEPath
	if path != nil {
		if src, ok := path(curR); ok && src.IsValid() && src.Unmap() != curL {
			return src.Unmap(), curR, true
		}
	}
	var own []netip.Addr
	if f := sa.w.e.o.MOBIKEAddrs; f != nil {
		own = f()
	}
	type pair struct{ l, r netip.Addr }
	var pairs []pair
	add := func(l, r netip.Addr) {
		l, r = l.Unmap(), r.Unmap()
		if !l.IsValid() || l.IsUnspecified() || l.Is4() != r.Is4() || (l == curL && r == curR) || slices.Contains(pairs, pair{l, r}) {
			return
		}
		pairs = append(pairs, pair{l, r})
	}
	for _, r := range append([]netip.Addr{curR}, sa.peerAddrs...) {
		if path != nil {
			if src, ok := path(r); ok {
				add(src, r)
			}
		}
		for _, l := range own {
			add(l, r)
		}
	}
	if len(pairs) == 0 {
		return netip.Addr{}, netip.Addr{}, false
	}
	p := pairs[sa.pathTry%len(pairs)]
	sa.pathTry++
	return p.l, p.r, true
}

// maxAdditionalAddresses bounds the addresses we send and keep of the
// peer's (RFC 4555 §3.6 sets no limit; a message with more is cut).
const maxAdditionalAddresses = 16

// additionalAddresses are the addresses we advertise (RFC 4555 §3.6): the
// IKE-bound local addresses of the SA's family other than its own.
func (sa *ikeSA) additionalAddresses() []netip.Addr {
	f := sa.w.e.o.MOBIKEAddrs
	if f == nil {
		return nil
	}
	cur := sa.local.Addr().Unmap()
	var out []netip.Addr
	for _, a := range f() {
		a = a.Unmap()
		if !a.IsValid() || a.IsUnspecified() || a == cur || a.Is4() != cur.Is4() || slices.Contains(out, a) {
			continue
		}
		if len(out) == maxAdditionalAddresses {
			break
		}
		out = append(out, a)
	}
	return out
}

// addressNotifies are ADDITIONAL_IP4/6_ADDRESS for each address, or
// NO_ADDITIONAL_ADDRESSES for none (RFC 4555 §3.6).
func addressNotifies(addrs []netip.Addr) []wire.Payload {
	if len(addrs) == 0 {
		return []wire.Payload{wire.NewNotify(wire.NotifyNoAdditionalAddresses, nil)}
	}
	ps := make([]wire.Payload, 0, len(addrs))
	for _, a := range addrs {
		if a.Is4() {
			b := a.As4()
			ps = append(ps, wire.NewNotify(wire.NotifyAdditionalIP4Address, b[:]))
		} else {
			b := a.As16()
			ps = append(ps, wire.NewNotify(wire.NotifyAdditionalIP6Address, b[:]))
		}
	}
	return ps
}

// recordPeerAddresses takes the peer's additional addresses from a
// message (RFC 4555 §3.6): a message with ADDITIONAL_IP4/6_ADDRESS or
// NO_ADDITIONAL_ADDRESSES carries the whole list, which replaces the one
// known; one with neither leaves it. Malformed or unusable addresses
// (wrong length, unspecified, multicast, loopback) are dropped, logged.
func (sa *ikeSA) recordPeerAddresses(ps []wire.Payload) {
	var list []netip.Addr
	seen := false
	for _, p := range ps {
		n, ok := p.(*wire.Notify)
		if !ok {
			continue
		}
		switch n.NotifyType {
		case wire.NotifyNoAdditionalAddresses:
			seen = true
		case wire.NotifyAdditionalIP4Address, wire.NotifyAdditionalIP6Address:
			seen = true
			a, ok := n.Addr()
			if !ok || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
				sa.log().Info("MOBIKE: ignoring an unusable additional address of the peer", "notify", n.NotifyType, "len", len(n.Data))
				continue
			}
			if len(list) == maxAdditionalAddresses {
				sa.log().Info("MOBIKE: ignoring additional addresses of the peer beyond the limit", "limit", maxAdditionalAddresses)
				continue
			}
			if !slices.Contains(list, a) {
				list = append(list, a)
			}
		}
	}
	if !seen {
		return
	}
	if !slices.Equal(list, sa.peerAddrs) {
		sa.log().Info("MOBIKE: peer's additional addresses", "addrs", list)
	}
	sa.peerAddrs, sa.pathTry = list, 0
}

// addressListTask is an INFORMATIONAL request with our current list of
// additional addresses (RFC 4555 §3.6: sent when it changes).
type addressListTask struct{}

func (*addressListTask) exchange() wire.ExchangeType { return wire.ExchangeInformational }

func (*addressListTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if sa.state != stateEstablished || !sa.mobike {
		return nil, errSkip
	}
	return addressNotifies(sa.additionalAddresses()), nil
}

func (*addressListTask) process(sa *ikeSA, _ *wire.Message, ps []wire.Payload) error {
	sa.recordPeerAddresses(ps)
	return nil
}

// AnnounceAddresses sends the IKE SA with the given unique-id our new
// list of additional addresses (RFC 4555 §3.6; the daemon calls it when
// the host's addresses change). One not sent yet is replaced.
func (e *Engine) AnnounceAddresses(uid uint32) error {
	sa, w := e.byUID(uid)
	if sa == nil {
		return ErrNoSA
	}
	defer w.unlock()
	if sa.state != stateEstablished || !sa.mobike {
		return ErrNoMOBIKE
	}
	for _, t := range sa.tasks {
		if _, ok := t.(*addressListTask); ok {
			return nil // built when sent: it will carry the newest list
		}
	}
	sa.queue(&addressListTask{})
	sa.startNext()
	return nil
}
