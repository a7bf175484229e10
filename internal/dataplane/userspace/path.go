package userspace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"secgw/internal/ipsec"
	"sync/atomic"
	"time"

	"secgw/internal/dataplane"
	"secgw/internal/edge"
	"secgw/internal/esp"
)

// stats counts what the packet paths drop, by reason.
type stats struct {
	noPolicy, discard, noSA, mtu, seqOverflow, malformed, sendErr atomic.Uint64
	unknownSPI, replay, auth, badInner, selector, tunErr          atomic.Uint64
	ike, keepalive, eventsDropped                                 atomic.Uint64
}

// Stats are the dataplane's drop and pass-through counters.
type Stats struct {
	// Outbound drops: no Out policy, a Discard or Bypass policy (and
	// inbound: a decrypted packet whose In policy is a Discard), no SA
	// (an Acquire was raised), too big with DF (an ICMP error was sent
	// back), sequence numbers exhausted, unparsable, send failures.
	NoPolicy, Discard, NoSA, TooBig, SeqOverflow, Malformed, SendErrors uint64
	// Inbound drops: unknown SPI, replayed or too old, failed ICV, inner
	// packet not IP or not what the Next Header says, inner packet outside
	// the SA's selectors (RFC 4301 §5.2), TUN write failures.
	UnknownSPI, Replay, Auth, BadInner, Selector, TUNErrors uint64
	// IKE and Keepalive count the non-ESP datagrams of the Bind;
	// EventsDropped the events lost to a full queue.
	IKE, Keepalive, EventsDropped uint64
}

// Stats returns the drop counters.
func (d *Dataplane) Stats() Stats {
	s := &d.stats
	return Stats{
		NoPolicy: s.noPolicy.Load(), Discard: s.discard.Load(), NoSA: s.noSA.Load(), TooBig: s.mtu.Load(),
		SeqOverflow: s.seqOverflow.Load(), Malformed: s.malformed.Load(), SendErrors: s.sendErr.Load(),
		UnknownSPI: s.unknownSPI.Load(), Replay: s.replay.Load(), Auth: s.auth.Load(), BadInner: s.badInner.Load(),
		Selector: s.selector.Load(), TUNErrors: s.tunErr.Load(),
		IKE: s.ike.Load(), Keepalive: s.keepalive.Load(), EventsDropped: s.eventsDropped.Load(),
	}
}

// readFailed handles a failed read of a reader goroutine: true if the
// reader must stop (the dataplane or the device is closed), else the
// failure is logged and the reader backs off before its next read.
func (d *Dataplane) readFailed(what string, err error) bool {
	select {
	case <-d.done:
		return true
	default:
	}
	if errors.Is(err, edge.ErrClosed) {
		return true
	}
	d.log.Debug(what, "err", err)
	time.Sleep(10 * time.Millisecond)
	return false
}

// readTUN is the outbound reader of one TUN queue.
func (d *Dataplane) readTUN(dev edge.Device) {
	defer d.wg.Done()
	if bd, ok := dev.(edge.BatchDevice); ok {
		d.readTUNBatch(bd)
		return
	}
	buf := new(buffer)
	for {
		n, err := dev.Read(buf.b[headroom : bufSize-esp.MaxTrailer])
		if err != nil {
			if d.readFailed("TUN read failed", err) {
				return
			}
			continue
		}
		d.outbound(dev, buf, n)
	}
}

// readTUNBatch is the outbound reader of a TUN queue that returns
// several packets per read: they are protected one by one and their ESP
// datagrams go out together (sendmmsg with UDP GSO through a UDPBind).
func (d *Dataplane) readTUNBatch(dev edge.BatchDevice) {
	bufs := make([]*buffer, maxTUNBatch)
	views := make([][]byte, maxTUNBatch)
	sizes := make([]int, maxTUNBatch)
	ds := make([]edge.Datagram, 0, maxTUNBatch)
	for i := range bufs {
		bufs[i] = new(buffer)
		views[i] = bufs[i].b[:bufSize-esp.MaxTrailer]
	}
	for {
		n, err := dev.ReadBatch(views, sizes, headroom)
		if err != nil {
			if d.readFailed("TUN read failed", err) {
				return
			}
			continue
		}
		ds = ds[:0]
		for i := range n {
			if dg, ok := d.protect(dev, bufs[i], sizes[i]); ok {
				ds = append(ds, dg)
			}
		}
		if len(ds) > 0 {
			if err := d.o.Bind.Send(ds); err != nil {
				d.stats.sendErr.Add(1)
			}
		}
	}
}

// maxTUNBatch is the number of packets of one TUN read: a 64 KiB TCP
// super-segment cut at an MSS above 1024.
const maxTUNBatch = 64

// outbound protects one packet of n octets at buf.b[headroom:] (RFC 4301
// §5.1) and sends it.
func (d *Dataplane) outbound(dev edge.Device, buf *buffer, n int) {
	dg, ok := d.protect(dev, buf, n)
	if !ok {
		return
	}
	buf.ds[0] = dg
	if err := d.o.Bind.Send(buf.ds[:]); err != nil {
		d.stats.sendErr.Add(1)
	}
}

// protect seals one packet of n octets at buf.b[headroom:] (RFC 4301
// §5.1) and returns its ESP datagram, or false if it was dropped.
func (d *Dataplane) protect(dev edge.Device, buf *buffer, n int) (edge.Datagram, bool) {
	pkt := buf.b[headroom : headroom+n]
	f, ok := parseFlow(pkt)
	if !ok {
		d.stats.malformed.Add(1)
		return edge.Datagram{}, false
	}
	t := d.tables.Load()
	p := t.lookupOut(&f)
	if p == nil {
		d.stats.noPolicy.Add(1)
		return edge.Datagram{}, false
	}
	if p.cfg.Action != dataplane.Protect {
		// Discard: a drop security policy, whose traffic is routed
		// into the TUN to meet this. Bypass cannot be honoured here:
		// the packet was routed into the tunnel device and has nowhere
		// else to go; a pass policy's traffic is kept out of the TUN
		// by its throw routes (internal/routes) and goes in clear.
		d.stats.discard.Add(1)
		return edge.Datagram{}, false
	}
	s := t.saFor(p)
	if s == nil || s.st.hardFired.Load() {
		d.stats.noSA.Add(1)
		d.acquire(p, &f)
		return edge.Datagram{}, false
	}
	off, plen, next := headroom, n, byte(esp.NextIPv4)
	if f.v6 {
		next = esp.NextIPv6
	}
	if s.cfg.Mode == dataplane.Transport {
		// RFC 4303 §3.1.1: ESP protects the transport payload; the IP
		// header goes (the outer one replaces it).
		off, plen, next = headroom+f.hdrLen, n-f.hdrLen, f.proto
	}
	outer := s.outerHeaderLen()
	if outer+s.st.out.Overhead(plen)+plen > d.o.MTU && s.cfg.Mode == dataplane.Tunnel {
		// RFC 4301 §8.2.1: the inner packet may not be fragmented
		// (IPv4 with DF, or IPv6, whose routers never fragment): tell
		// the sender the MTU left after ESP; otherwise send it and let
		// the outer packet be fragmented.
		mtu := d.innerMTU(s)
		if (!f.v6 && f.df) || (f.v6 && mtu >= 1280) {
			d.stats.mtu.Add(1)
			d.tooBig(dev, buf, pkt, &f, mtu)
			return edge.Datagram{}, false
		}
	}
	out, err := s.st.out.Seal(buf.b[:], off, plen, next)
	if err != nil {
		if err == esp.ErrSeqOverflow {
			d.stats.seqOverflow.Add(1)
			if !s.st.ovfl.Swap(true) {
				d.emit(dataplane.Event{Kind: dataplane.SeqOverflow, SA: s.cfg.Key()})
			}
			return edge.Datagram{}, false
		}
		d.stats.malformed.Add(1)
		return edge.Datagram{}, false
	}
	d.account(s, n)
	return edge.Datagram{Buf: out, Local: s.local(), Remote: s.remote()}, true
}

// innerMTU is the largest inner packet that an outbound SA carries within
// the path MTU.
func (d *Dataplane) innerMTU(s *sa) int {
	room := d.o.MTU - s.outerHeaderLen()
	n := room - s.st.out.Overhead(0)
	for n > 0 && n+s.st.out.Overhead(n) > room {
		n--
	}
	return n
}

// tooBig writes the ICMP error for an oversized packet into the TUN,
// addressed to its sender. Its source is the packet's destination: the
// error enters the kernel through the TUN like any packet from the
// tunnel, so it needs a source that routes through the tunnel (strict
// reverse-path filtering) and is not a local address (the kernel drops
// packets from its own addresses as martians). PMTU discovery uses the
// quoted header, not the source (RFC 1191 §6.3, RFC 8201 §4).
func (d *Dataplane) tooBig(dev edge.Device, buf *buffer, pkt []byte, f *flow, mtu int) {
	if _, err := dev.Write(appendTooBig(buf.icmp[:], pkt, f, f.dst, mtu)); err != nil {
		d.stats.tunErr.Add(1)
	}
}

// acquire raises an Acquire for a trap policy, at most once per
// AcquireInterval (the kernel likewise keeps a larval SA meanwhile).
func (d *Dataplane) acquire(p *policy, f *flow) {
	now := time.Now().UnixNano()
	last := p.lastAcquire.Load()
	if last != 0 && now-last < int64(d.o.AcquireInterval) {
		return
	}
	if !p.lastAcquire.CompareAndSwap(last, now) {
		return
	}
	bits := 32
	if f.v6 {
		bits = 128
	}
	d.emit(dataplane.Event{
		Kind:   dataplane.Acquire,
		Policy: p.cfg.Key(),
		Sel: dataplane.Selector{
			Src: netip.PrefixFrom(f.src, bits), Dst: netip.PrefixFrom(f.dst, bits),
			Proto: f.proto, SrcPort: f.srcPort, DstPort: f.dstPort,
		},
	})
}

// account counts a packet on an SA and raises the limit events.
func (d *Dataplane) account(s *sa, n int) {
	reason, hard := s.account(n, time.Now().UnixNano())
	if reason == "" {
		return
	}
	if hard {
		d.removeSA(s, reason)
		return
	}
	d.emit(dataplane.Event{Kind: dataplane.SoftExpire, SA: s.cfg.Key(), Reason: reason})
}

// readUDP is an inbound reader of one receive function.
func (d *Dataplane) readUDP(rf edge.ReceiveFunc) {
	defer d.wg.Done()
	bufs := make([]*buffer, d.o.Batch)
	ds := make([]edge.Datagram, d.o.Batch)
	for i := range bufs {
		bufs[i] = new(buffer)
	}
	for {
		for i := range ds {
			ds[i].Buf = bufs[i].b[esp.Scratch:bufSize]
		}
		n, err := rf(ds)
		if err != nil {
			if d.readFailed("UDP receive failed", err) {
				return
			}
			continue
		}
		for i := range n {
			if ds[i].Seg > 0 {
				// A GRO run: each datagram is copied out and opened
				// on its own.
				for one := range ds[i].Datagrams() {
					d.handleESP(ds[i].Local, ds[i].Remote, one, true)
				}
				continue
			}
			d.inbound(d.o.TUN[0], bufs[i].b[:], len(ds[i].Buf), ds[i].Local, ds[i].Remote, true)
		}
		d.FlushESP()
	}
}

// HandleESP is the hook for an IKE socket reader that owns port 4500
// (udpconn.Options.OnESP): it processes one ESP-in-UDP datagram (RFC 3948
// §2.1) synchronously. data is not retained or modified.
func (d *Dataplane) HandleESP(local, remote netip.AddrPort, data []byte) {
	d.handleESP(local, remote, data, false)
}

// HandleESPBatched is HandleESP for a reader that takes batches
// (udpconn.Options.OnESPBorrow): the decrypted TCP segments of a flow may
// be held to go into the TUN as one super-segment, until FlushESP, which
// the reader calls at the end of each batch. With Options.InboundWorkers
// the datagram is queued for the worker of its SPI (inworkers.go).
func (d *Dataplane) HandleESPBatched(local, remote netip.AddrPort, data []byte) {
	if d.in != nil && ipsec.ClassifyNATT(data) == ipsec.PacketESP {
		d.in.queue(d, local, remote, data)
		return
	}
	d.handleESP(local, remote, data, true)
}

// FlushESP writes into the TUN what HandleESPBatched holds, and hands the
// queued datagrams to the inbound workers.
func (d *Dataplane) FlushESP() {
	if d.in != nil {
		d.in.flush(d)
	}
	if cd, ok := d.o.TUN[0].(edge.CoalescingDevice); ok {
		if err := cd.Flush(); err != nil {
			d.stats.tunErr.Add(1)
		}
	}
}

func (d *Dataplane) handleESP(local, remote netip.AddrPort, data []byte, coalesce bool) {
	if len(data) > bufSize-esp.Scratch {
		d.stats.malformed.Add(1)
		return
	}
	buf := d.bufs.Get().(*buffer)
	n := copy(buf.b[esp.Scratch:], data)
	d.inbound(d.o.TUN[0], buf.b[:], n, local, remote, coalesce)
	d.bufs.Put(buf)
}

// inbound processes one datagram of n octets at b[esp.Scratch:] (b is
// the packet's buffer, cap(b) its end) and writes its inner packet into
// dev; with coalesce the packet may be held by dev
// (edge.CoalescingDevice) until its Flush.
func (d *Dataplane) inbound(dev edge.Device, b []byte, n int, local, remote netip.AddrPort, coalesce bool) {
	off, end := esp.Scratch, esp.Scratch+n
	pkt := b[off:end]
	switch ipsec.ClassifyNATT(pkt) {
	case ipsec.PacketKeepalive:
		d.stats.keepalive.Add(1)
		return
	case ipsec.PacketIKE:
		d.stats.ike.Add(1)
		if d.o.OnIKE != nil {
			d.o.OnIKE(local, remote, pkt)
		}
		return
	case ipsec.PacketInvalid:
		d.stats.malformed.Add(1)
		return
	}
	t := d.tables.Load()
	s, _ := t.bySPI.get(esp.SPI(pkt))
	if s == nil || s.st.hardFired.Load() {
		d.dropUnknownSPI(pkt, local, remote)
		return
	}
	payload, next, _, err := s.st.in.Open(b, off, end)
	switch err {
	case nil:
	case esp.ErrReplay, esp.ErrTooOld:
		d.stats.replay.Add(1)
		s.st.replayDrops.Add(1)
		return
	case esp.ErrAuth:
		d.stats.auth.Add(1)
		s.st.authDrops.Add(1)
		return
	default:
		d.stats.malformed.Add(1)
		return
	}
	var inner []byte
	if s.cfg.Mode == dataplane.Transport {
		inner = d.transportInner(b, payload, next, s)
	} else {
		inner = d.tunnelInner(payload, next)
	}
	if inner == nil {
		return
	}
	f, ok := parseFlow(inner)
	if !ok {
		d.stats.badInner.Add(1)
		return
	}
	// RFC 4301 §5.2 step 4: the decrypted packet must be one the SA's
	// policies admit.
	allowed := false
	sels, _ := t.inSel.get(s.cfg.ReqID)
	for i := range sels {
		if matches(&sels[i], &f) {
			allowed = true
			break
		}
	}
	if !allowed {
		d.stats.selector.Add(1)
		return
	}
	if t.dropIn(&f) {
		d.stats.discard.Add(1)
		return
	}
	d.account(s, len(inner))
	if cd, ok := dev.(edge.CoalescingDevice); ok && coalesce {
		_, err = cd.WriteCoalesced(inner)
	} else {
		_, err = dev.Write(inner)
	}
	if err != nil {
		d.stats.tunErr.Add(1)
	}
}

// tunnelInner returns the inner packet of a tunnel-mode payload, trimmed
// to its IP length (TFC padding may follow it, RFC 4303 §2.7), or nil.
func (d *Dataplane) tunnelInner(p []byte, next byte) []byte {
	var l int
	switch {
	case next == esp.NextDummy:
		// RFC 4303 §2.6: dummy packets are discarded silently.
		return nil
	case next == esp.NextIPv4 && len(p) >= ipv4HeaderLen && p[0]>>4 == 4:
		l = int(p[2])<<8 | int(p[3])
	case next == esp.NextIPv6 && len(p) >= ipv6HeaderLen && p[0]>>4 == 6:
		l = ipv6HeaderLen + (int(p[4])<<8 | int(p[5]))
	default:
		d.stats.badInner.Add(1)
		return nil
	}
	if l > len(p) || l < ipv4HeaderLen {
		d.stats.badInner.Add(1)
		return nil
	}
	return p[:l]
}

// transportInner rebuilds the IP packet of a transport-mode payload: a
// header from the SA's addresses (RFC 4303 §3.1.1) written in front of
// the payload, over the ESP header that is no longer needed.
func (d *Dataplane) transportInner(b []byte, p []byte, next byte, s *sa) []byte {
	if next == esp.NextDummy {
		return nil
	}
	start := cap(b) - cap(p) // offset of p in b
	hl := ipv4HeaderLen
	if !s.cfg.Src.Is4() {
		hl = ipv6HeaderLen
	}
	if start < hl {
		d.stats.badInner.Add(1)
		return nil
	}
	pkt := b[start-hl : start+len(p)]
	if hl == ipv4HeaderLen {
		putIPv4Header(pkt, s.cfg.Src, s.cfg.Dst, next, len(pkt), false)
	} else {
		putIPv6Header(pkt, s.cfg.Src, s.cfg.Dst, next, len(p))
	}
	return pkt
}

// dropUnknownSPI counts an inbound ESP packet for which no SA exists (or
// whose SA reached its hard lifetime) and logs it, rate-limited: RFC 4303
// §3.4.2 makes it an auditable event, whose entry should carry the SPI,
// the addresses and the sequence number. A flood of such packets costs a
// counter each and DefaultBurst lines per interval (loglimit).
func (d *Dataplane) dropUnknownSPI(pkt []byte, local, remote netip.AddrPort) {
	n := d.stats.unknownSPI.Add(1)
	if len(pkt) >= esp.HeaderLen && d.spiEvents.allow(time.Now().Unix()) && len(d.events) < cap(d.events)/2 {
		d.emit(dataplane.Event{Kind: dataplane.UnknownSPI, Src: remote.Addr(),
			SA: dataplane.SAKey{Dst: local.Addr(), SPI: esp.SPI(pkt)}})
	}
	if !d.log.Enabled(context.Background(), slog.LevelInfo) || len(pkt) < esp.HeaderLen {
		return
	}
	d.limit.Log(nil, d.log, slog.LevelInfo, "dropping ESP with unknown SPI", "spi", fmt.Sprintf("%08x", esp.SPI(pkt)),
		"seq", binary.BigEndian.Uint32(pkt[4:]), "remote", remote, "local", local, "total", n)
}
