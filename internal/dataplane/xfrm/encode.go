package xfrm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"secgw/internal/ipsec"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
)

// Layout of the XFRM structures of linux/xfrm.h (x86-64 and every other
// Linux ABI: the structs have no architecture-dependent members).
const (
	sizeSelector   = 56  // struct xfrm_selector
	sizeLftCfg     = 64  // struct xfrm_lifetime_cfg
	sizeLftCur     = 32  // struct xfrm_lifetime_cur
	sizeUsersaInfo = 224 // struct xfrm_usersa_info
	sizeUsersaID   = 24  // struct xfrm_usersa_id
	sizeSpiInfo    = 232 // struct xfrm_userspi_info
	sizePolicyInfo = 168 // struct xfrm_userpolicy_info
	sizePolicyID   = 64  // struct xfrm_userpolicy_id
	sizeUserTmpl   = 64  // struct xfrm_user_tmpl
	sizeAlgo       = 68  // struct xfrm_algo without the key
	sizeAlgoAuth   = 72  // struct xfrm_algo_auth / xfrm_algo_aead without the key
	sizeEncapTmpl  = 24  // struct xfrm_encap_tmpl
	sizeReplayESN  = 24  // struct xfrm_replay_state_esn without the bitmap
	sizeReplay     = 12  // struct xfrm_replay_state
	sizeUserExpire = 232 // struct xfrm_user_expire
	sizeUserAcq    = 280 // struct xfrm_user_acquire

	// Offsets in struct xfrm_usersa_info.
	saID      = 56  // struct xfrm_id: daddr, spi (be), proto
	saSaddr   = 80  //
	saLft     = 96  //
	saCurlft  = 160 //
	saStats   = 192 // replay_window, replay, integrity_failed
	saReqid   = 208 //
	saFamily  = 212 //
	saMode    = 214 //
	saReplayW = 215 //
	saFlags   = 216 //

	// Offsets in struct xfrm_userpolicy_info.
	polLft      = 56
	polPriority = 152
	polIndex    = 156
	polDir      = 160
	polAction   = 161

	xfrmInf = ^uint64(0) // XFRM_INF: no byte or packet limit

	xfrmStateESN      = 128 // XFRM_STATE_ESN
	xfrmStateAFUnspec = 32  // XFRM_STATE_AF_UNSPEC: the selector's family follows the packet

	xfrmModeTransport = 0
	xfrmModeTunnel    = 1

	encapESPinUDP = 2 // UDP_ENCAP_ESPINUDP (RFC 3948)

	// replayESNMax is XFRMA_REPLAY_ESN_MAX: the largest bitmap, in bits.
	replayESNMax = 4096
	// legacyReplayMax is the legacy replay bitmap: larger windows need
	// struct xfrm_replay_state_esn even without ESN.
	legacyReplayMax = 32
)

// msg builds netlink messages back to back in one buffer (a batch).
type msg struct {
	b     []byte
	start int
}

func (m *msg) begin(typ uint16, flags uint16, seq uint32) {
	m.start = len(m.b)
	m.b = append(m.b, make([]byte, headerLen)...)
	h := m.b[m.start:]
	ne.PutUint16(h[4:], typ)
	ne.PutUint16(h[6:], flags)
	ne.PutUint32(h[8:], seq)
}

func (m *msg) end() { ne.PutUint32(m.b[m.start:], uint32(len(m.b)-m.start)) }

// put appends n zeroed bytes (padded to 4) and returns them.
func (m *msg) put(n int) []byte {
	off := len(m.b)
	m.b = append(m.b, make([]byte, align4(n))...)
	return m.b[off : off+n]
}

// attr appends an attribute with an n-byte payload and returns the payload.
func (m *msg) attr(typ uint16, n int) []byte {
	a := m.put(4 + n)
	ne.PutUint16(a, uint16(4+n))
	ne.PutUint16(a[2:], typ)
	return a[4:]
}

func (m *msg) attrU32(typ uint16, v uint32) { ne.PutUint32(m.attr(typ, 4), v) }

// walkAttrs calls fn for each well-formed attribute of b; it stops at the
// first malformed one.
func walkAttrs(b []byte, fn func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(ne.Uint16(b))
		if l < 4 || l > len(b) {
			return
		}
		fn(ne.Uint16(b[2:])&nlaTypeMask, b[4:l])
		b = b[min(align4(l), len(b)):]
	}
}

func family(a netip.Addr) uint16 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// putAddr writes an xfrm_address_t: IPv4 in its first four bytes.
func putAddr(b []byte, a netip.Addr) {
	if !a.IsValid() {
		return
	}
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
		return
	}
	v := a.As16()
	copy(b, v[:])
}

func selFamily(s dataplane.Selector) uint16 {
	switch {
	case s.Src.IsValid():
		return family(s.Src.Addr())
	case s.Dst.IsValid():
		return family(s.Dst.Addr())
	}
	return unix.AF_UNSPEC
}

func validSelector(s dataplane.Selector) error {
	if !s.Src.IsValid() || !s.Dst.IsValid() || s.Src.Addr().Is4() != s.Dst.Addr().Is4() {
		return errors.New("xfrm: selector needs source and destination prefixes of one family")
	}
	return nil
}

// putSelector writes a struct xfrm_selector; a zero Selector is all zero
// (AF_UNSPEC).
func putSelector(b []byte, s dataplane.Selector) {
	putAddr(b[0:], s.Dst.Addr())
	putAddr(b[16:], s.Src.Addr())
	be := binary.BigEndian
	if s.DstPort != 0 {
		be.PutUint16(b[32:], s.DstPort)
		be.PutUint16(b[34:], 0xffff)
	}
	if s.SrcPort != 0 {
		be.PutUint16(b[36:], s.SrcPort)
		be.PutUint16(b[38:], 0xffff)
	}
	ne.PutUint16(b[40:], selFamily(s))
	if s.Dst.IsValid() {
		b[42] = byte(s.Dst.Bits())
	}
	if s.Src.IsValid() {
		b[43] = byte(s.Src.Bits())
	}
	b[44] = s.Proto
}

func limit(v uint64) uint64 {
	if v == 0 {
		return xfrmInf
	}
	return v
}

// seconds rounds a lifetime up to whole seconds, the kernel's unit.
func seconds(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Second - 1) / time.Second)
}

func putLifetime(b []byte, l dataplane.Limits) {
	ne.PutUint64(b[0:], limit(l.SoftBytes))
	ne.PutUint64(b[8:], limit(l.HardBytes))
	ne.PutUint64(b[16:], limit(l.SoftPackets))
	ne.PutUint64(b[24:], limit(l.HardPackets))
	ne.PutUint64(b[32:], seconds(l.SoftAdd))
	ne.PutUint64(b[40:], seconds(l.HardAdd))
}

func putAlgo(m *msg, typ uint16, name string, key []byte, bits int) {
	hdr := sizeAlgo
	if typ != nl.XFRMA_ALG_CRYPT {
		hdr = sizeAlgoAuth // auth_trunc and aead carry a length after key_len
	}
	a := m.attr(typ, hdr+len(key))
	copy(a[:64], name)
	ne.PutUint32(a[64:], uint32(len(key)*8))
	if typ != nl.XFRMA_ALG_CRYPT {
		ne.PutUint32(a[68:], uint32(bits))
	}
	copy(a[hdr:], key)
}

// encodeSA appends an XFRM_MSG_NEWSA or XFRM_MSG_UPDSA message. Keys go
// into the message only; nothing here logs them.
func encodeSA(m *msg, typ uint16, flags uint16, seq uint32, sa *dataplane.SA) error {
	if !sa.Src.IsValid() || !sa.Dst.IsValid() || sa.Src.Is4() != sa.Dst.Is4() {
		return errors.New("xfrm: SA needs source and destination addresses of one family")
	}
	if sa.SPI < 256 {
		return errors.New("xfrm: SPI below 256 (RFC 4303 §2.1)")
	}
	if sa.ReplayWindow > replayESNMax {
		return fmt.Errorf("xfrm: replay window %d above %d", sa.ReplayWindow, replayESNMax)
	}
	if sa.ESN && sa.ReplayWindow == 0 {
		// The kernel refuses ESN without a window (xfrm_init_replay).
		return errors.New("xfrm: ESN needs a replay window")
	}
	encr, aead, err := dataplane.EncrAlg(sa.Encr)
	if err != nil {
		return err
	}
	var integ dataplane.KernelAlg
	if !aead {
		if sa.Integ == ipsec.IntegNone && sa.Encr == ipsec.EncrNull {
			return errors.New("xfrm: ESP with neither encryption nor integrity")
		}
		if sa.Integ != ipsec.IntegNone {
			if integ, err = dataplane.IntegAlg(sa.Integ); err != nil {
				return err
			}
		}
	} else if sa.Integ != ipsec.IntegNone {
		return errors.New("xfrm: integrity algorithm with an AEAD")
	}
	if sa.Sel != (dataplane.Selector{}) {
		if err := validSelector(sa.Sel); err != nil {
			return err
		}
	}

	m.begin(typ, flags, seq)
	p := m.put(sizeUsersaInfo)
	putSelector(p, sa.Sel)
	putAddr(p[saID:], sa.Dst)
	binary.BigEndian.PutUint32(p[saID+16:], sa.SPI)
	p[saID+20] = unix.IPPROTO_ESP
	putAddr(p[saSaddr:], sa.Src)
	putLifetime(p[saLft:], sa.Limits)
	ne.PutUint32(p[saReqid:], sa.ReqID)
	ne.PutUint16(p[saFamily:], family(sa.Dst))
	if sa.Mode == dataplane.Tunnel {
		p[saMode] = xfrmModeTunnel
	}
	var flagsSA byte
	if sa.ESN {
		flagsSA |= xfrmStateESN
	}
	if sa.Mode == dataplane.Tunnel && sa.Sel == (dataplane.Selector{}) {
		// Inner traffic of either family (RFC 4301 §4.1 allows IPv6
		// in IPv4 tunnels and back).
		flagsSA |= xfrmStateAFUnspec
	}
	p[saFlags] = flagsSA
	esnState := sa.ESN || sa.ReplayWindow > legacyReplayMax
	if !esnState {
		p[saReplayW] = byte(sa.ReplayWindow)
	}

	if aead {
		putAlgo(m, nl.XFRMA_ALG_AEAD, encr.Name, sa.EncrKey, encr.Bits)
	} else {
		putAlgo(m, nl.XFRMA_ALG_CRYPT, encr.Name, sa.EncrKey, 0)
		if integ.Name != "" {
			putAlgo(m, nl.XFRMA_ALG_AUTH_TRUNC, integ.Name, sa.IntegKey, integ.Bits)
		}
	}
	if sa.Encap.Enabled() {
		e := m.attr(nl.XFRMA_ENCAP, sizeEncapTmpl)
		ne.PutUint16(e, encapESPinUDP)
		binary.BigEndian.PutUint16(e[2:], sa.Encap.SrcPort)
		binary.BigEndian.PutUint16(e[4:], sa.Encap.DstPort)
	}
	if sa.Mark != (dataplane.Mark{}) {
		putMark(m, sa.Mark)
	}
	if sa.IfID != 0 {
		m.attrU32(nl.XFRMA_IF_ID, sa.IfID)
	}
	putReplay(m, sa, esnState)
	m.end()
	return nil
}

// putReplay writes the SA's replay state: XFRMA_REPLAY_ESN_VAL (struct
// xfrm_replay_state_esn) with ESN or a window above 32, else
// XFRMA_REPLAY_VAL (struct xfrm_replay_state) when a sequence number is
// set. Outbound, oseq (and oseq_hi) is the last number sent: the kernel
// sends oseq+1 first. Inbound, seq (and seq_hi) is the highest number
// received and the bitmap marks every number of the window at or below it
// as seen (all ones: the kernel's bitmaps hold one bit per number behind
// seq), so the window resumes where the HA peer left it (RFC 4303
// §3.4.3). The kernel copies both into the new SA (xfrm_update_ae_params).
// Without ESN the counters are 32-bit: a larger value is clamped to
// 2^32-1, which leaves an outbound SA nothing to send rather than
// wrapping around to numbers already used (RFC 4303 §3.3.3).
func putReplay(m *msg, sa *dataplane.SA, esnState bool) {
	oseq, iseq := sa.OSeq, sa.ISeq
	if !sa.ESN {
		oseq, iseq = min(oseq, math.MaxUint32), min(iseq, math.MaxUint32)
	}
	if esnState {
		// The bitmap's length is the window rounded up to 32-bit words.
		words := (sa.ReplayWindow + 31) / 32
		r := m.attr(nl.XFRMA_REPLAY_ESN_VAL, sizeReplayESN+int(words)*4)
		ne.PutUint32(r[0:], words)
		ne.PutUint32(r[4:], uint32(oseq))
		ne.PutUint32(r[8:], uint32(iseq))
		ne.PutUint32(r[12:], uint32(oseq>>32))
		ne.PutUint32(r[16:], uint32(iseq>>32))
		ne.PutUint32(r[20:], sa.ReplayWindow)
		if iseq != 0 {
			for i := range words {
				ne.PutUint32(r[sizeReplayESN+4*i:], math.MaxUint32)
			}
		}
		return
	}
	if oseq == 0 && iseq == 0 {
		return
	}
	r := m.attr(nl.XFRMA_REPLAY_VAL, sizeReplay)
	ne.PutUint32(r[0:], uint32(oseq))
	ne.PutUint32(r[4:], uint32(iseq))
	if iseq != 0 && sa.ReplayWindow != 0 {
		ne.PutUint32(r[8:], math.MaxUint32>>(legacyReplayMax-sa.ReplayWindow))
	}
}

func putMark(m *msg, mk dataplane.Mark) {
	a := m.attr(nl.XFRMA_MARK, 8)
	ne.PutUint32(a, mk.Value)
	ne.PutUint32(a[4:], mk.Mask)
}

// putSAID writes a struct xfrm_usersa_id.
func putSAID(m *msg, k dataplane.SAKey) {
	p := m.put(sizeUsersaID)
	putAddr(p, k.Dst)
	binary.BigEndian.PutUint32(p[16:], k.SPI)
	ne.PutUint16(p[20:], family(k.Dst))
	p[22] = unix.IPPROTO_ESP
}

// encodeSADel appends an XFRM_MSG_DELSA (or, with typ GETSA, a lookup).
func encodeSAID(m *msg, typ uint16, flags uint16, seq uint32, k dataplane.SAKey, mk dataplane.Mark) error {
	if !k.Dst.IsValid() {
		return errors.New("xfrm: SA key without destination")
	}
	m.begin(typ, flags, seq)
	putSAID(m, k)
	if mk != (dataplane.Mark{}) {
		putMark(m, mk)
	}
	m.end()
	return nil
}

// kernelDir maps a direction to XFRM_POLICY_IN/OUT/FWD.
func kernelDir(d dataplane.Dir) (uint8, error) {
	switch d {
	case dataplane.In:
		return 0, nil
	case dataplane.Out:
		return 1, nil
	case dataplane.Fwd:
		return 2, nil
	}
	return 0, fmt.Errorf("xfrm: policy direction %s", d)
}

// encodePolicy appends an XFRM_MSG_NEWPOLICY (fails if the key exists) or
// XFRM_MSG_UPDPOLICY (replaces) with the given index.
func encodePolicy(m *msg, typ uint16, flags uint16, seq uint32, p *dataplane.Policy, index uint32) error {
	if err := validSelector(p.Sel); err != nil {
		return err
	}
	dir, err := kernelDir(p.Dir)
	if err != nil {
		return err
	}
	t := p.Tmpl
	if p.Action == dataplane.Protect && (t.Src.IsValid() != t.Dst.IsValid() ||
		(t.Mode == dataplane.Tunnel && !t.Src.IsValid()) || (t.Src.IsValid() && t.Src.Is4() != t.Dst.Is4())) {
		return errors.New("xfrm: tunnel template needs both addresses, of one family")
	}
	m.begin(typ, flags, seq)
	b := m.put(sizePolicyInfo)
	putSelector(b, p.Sel)
	putLifetime(b[polLft:], dataplane.Limits{})
	ne.PutUint32(b[polPriority:], p.Priority)
	ne.PutUint32(b[polIndex:], index)
	b[polDir] = dir
	switch p.Action {
	case dataplane.Protect, dataplane.Bypass:
		b[polAction] = 0 // XFRM_POLICY_ALLOW
	case dataplane.Discard:
		b[polAction] = 1 // XFRM_POLICY_BLOCK
	default:
		return fmt.Errorf("xfrm: policy action %d", p.Action)
	}
	if p.Action == dataplane.Protect {
		u := m.attr(nl.XFRMA_TMPL, sizeUserTmpl)
		putAddr(u[0:], t.Dst)
		u[20] = unix.IPPROTO_ESP
		fam := selFamily(p.Sel)
		if t.Src.IsValid() {
			fam = family(t.Src)
		}
		ne.PutUint16(u[24:], fam)
		putAddr(u[28:], t.Src)
		ne.PutUint32(u[44:], t.ReqID)
		if t.Mode == dataplane.Tunnel {
			u[48] = xfrmModeTunnel
		}
		// Any algorithm: the SA found by reqid decides.
		ne.PutUint32(u[52:], ^uint32(0))
		ne.PutUint32(u[56:], ^uint32(0))
		ne.PutUint32(u[60:], ^uint32(0))
	}
	if p.Mark != (dataplane.Mark{}) {
		putMark(m, p.Mark)
	}
	if p.IfID != 0 {
		m.attrU32(nl.XFRMA_IF_ID, p.IfID)
	}
	m.end()
	return nil
}

// encodePolicyDel appends an XFRM_MSG_DELPOLICY by selector, direction,
// mark and interface id.
func encodePolicyDel(m *msg, flags uint16, seq uint32, p *dataplane.Policy) error {
	if err := validSelector(p.Sel); err != nil {
		return err
	}
	dir, err := kernelDir(p.Dir)
	if err != nil {
		return err
	}
	m.begin(nl.XFRM_MSG_DELPOLICY, flags, seq)
	b := m.put(sizePolicyID)
	putSelector(b, p.Sel)
	b[60] = dir
	if p.Mark != (dataplane.Mark{}) {
		putMark(m, p.Mark)
	}
	if p.IfID != 0 {
		m.attrU32(nl.XFRMA_IF_ID, p.IfID)
	}
	m.end()
	return nil
}
