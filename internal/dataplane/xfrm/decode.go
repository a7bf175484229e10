package xfrm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"secgw/internal/ipsec"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
)

// The decoders read what the kernel sends: dump replies, GETSA replies and
// multicast events. They check every length before reading and never
// panic on malformed input (FuzzDecode).

var errShort = errors.New("xfrm: truncated netlink message")

// attrs are the attributes of a message, by type (XFRMA_*).
type attrs [nl.XFRMA_MAX + 1][]byte

func parseAttrs(b []byte, a *attrs) {
	walkAttrs(b, func(typ uint16, v []byte) {
		if int(typ) < len(a) {
			a[typ] = v
		}
	})
}

func getAddr(b []byte, fam uint16) (netip.Addr, error) {
	switch fam {
	case unix.AF_INET:
		return netip.AddrFrom4([4]byte(b[:4])), nil
	case unix.AF_INET6:
		return netip.AddrFrom16([16]byte(b[:16])), nil
	}
	return netip.Addr{}, errors.New("xfrm: unknown address family")
}

// getSelector decodes a struct xfrm_selector; AF_UNSPEC is the zero
// Selector.
func getSelector(b []byte) (dataplane.Selector, error) {
	fam := ne.Uint16(b[40:])
	if fam == unix.AF_UNSPEC {
		return dataplane.Selector{}, nil
	}
	dst, err := getAddr(b[0:], fam)
	if err != nil {
		return dataplane.Selector{}, err
	}
	src, _ := getAddr(b[16:], fam)
	dp, sp := b[42], b[43]
	if int(dp) > dst.BitLen() || int(sp) > src.BitLen() {
		return dataplane.Selector{}, errors.New("xfrm: selector prefix length too long")
	}
	be := binary.BigEndian
	s := dataplane.Selector{
		Src: netip.PrefixFrom(src, int(sp)), Dst: netip.PrefixFrom(dst, int(dp)), Proto: b[44],
	}
	if be.Uint16(b[34:]) != 0 {
		s.DstPort = be.Uint16(b[32:])
	}
	if be.Uint16(b[38:]) != 0 {
		s.SrcPort = be.Uint16(b[36:])
	}
	return s, nil
}

func unlimit(v uint64) uint64 {
	if v == xfrmInf {
		return 0
	}
	return v
}

func getLifetime(b []byte) dataplane.Limits {
	return dataplane.Limits{
		SoftBytes: unlimit(ne.Uint64(b[0:])), HardBytes: unlimit(ne.Uint64(b[8:])),
		SoftPackets: unlimit(ne.Uint64(b[16:])), HardPackets: unlimit(ne.Uint64(b[24:])),
		SoftAdd: time.Duration(min(ne.Uint64(b[32:]), 1<<33)) * time.Second,
		HardAdd: time.Duration(min(ne.Uint64(b[40:]), 1<<33)) * time.Second,
	}
}

// getAlgo decodes struct xfrm_algo (hdr 68) or xfrm_algo_auth/_aead (hdr
// 72, with a truncation or ICV length).
func getAlgo(v []byte, hdr int) (dataplane.KernelAlg, []byte, error) {
	if len(v) < hdr {
		return dataplane.KernelAlg{}, nil, errShort
	}
	name := v[:64]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	bits := ne.Uint32(v[64:])
	if bits%8 != 0 || int(bits/8) > len(v)-hdr {
		return dataplane.KernelAlg{}, nil, errors.New("xfrm: algorithm key longer than its attribute")
	}
	a := dataplane.KernelAlg{Name: string(name)}
	if hdr == sizeAlgoAuth {
		a.Bits = int(ne.Uint32(v[68:]))
	}
	return a, append([]byte(nil), v[hdr:hdr+int(bits/8)]...), nil
}

// saInfo is what a decoded SA carries besides the dataplane.SA.
type saInfo struct {
	bytes, packets   uint64
	addTime, useTime uint64
	replayWindowDrop uint32
	replayDrop       uint32
	authFail         uint32
	oseq, iseq       uint64 // last sent, highest received
	larval           bool   // no algorithm: an allocspi or acquire placeholder
}

// decodeSA decodes a struct xfrm_usersa_info and its attributes (the
// payload of XFRM_MSG_NEWSA). Algorithms the package does not produce
// decode with zero transform IDs.
func decodeSA(p []byte) (dataplane.SA, saInfo, error) {
	var sa dataplane.SA
	var info saInfo
	if len(p) < sizeUsersaInfo {
		return sa, info, errShort
	}
	if p[saID+20] != unix.IPPROTO_ESP {
		return sa, info, errors.New("xfrm: not an ESP SA")
	}
	fam := ne.Uint16(p[saFamily:])
	var err error
	if sa.Dst, err = getAddr(p[saID:], fam); err != nil {
		return sa, info, err
	}
	sa.Src, _ = getAddr(p[saSaddr:], fam)
	sa.SPI = binary.BigEndian.Uint32(p[saID+16:])
	if sa.Sel, err = getSelector(p[:sizeSelector]); err != nil {
		return sa, info, err
	}
	sa.Limits = getLifetime(p[saLft:])
	cur := p[saCurlft:]
	info.bytes, info.packets = ne.Uint64(cur[0:]), ne.Uint64(cur[8:])
	info.addTime, info.useTime = ne.Uint64(cur[16:]), ne.Uint64(cur[24:])
	info.replayWindowDrop, info.replayDrop, info.authFail = ne.Uint32(p[saStats:]), ne.Uint32(p[saStats+4:]), ne.Uint32(p[saStats+8:])
	sa.ReqID = ne.Uint32(p[saReqid:])
	switch p[saMode] {
	case xfrmModeTunnel:
		sa.Mode = dataplane.Tunnel
	case xfrmModeTransport:
		sa.Mode = dataplane.Transport
	default:
		return sa, info, errors.New("xfrm: SA mode is neither tunnel nor transport")
	}
	sa.ESN = p[saFlags]&xfrmStateESN != 0
	sa.ReplayWindow = uint32(p[saReplayW])

	var a attrs
	parseAttrs(p[sizeUsersaInfo:], &a)
	info.larval = true
	if v := a[nl.XFRMA_ALG_AEAD]; v != nil {
		alg, key, err := getAlgo(v, sizeAlgoAuth)
		if err != nil {
			return sa, info, err
		}
		sa.Encr, _ = dataplane.EncrFromAlg(alg)
		sa.EncrKey, info.larval = key, false
	}
	if v := a[nl.XFRMA_ALG_CRYPT]; v != nil {
		alg, key, err := getAlgo(v, sizeAlgo)
		if err != nil {
			return sa, info, err
		}
		sa.Encr, _ = dataplane.EncrFromAlg(alg)
		sa.EncrKey, info.larval = key, false
	}
	if v := a[nl.XFRMA_ALG_AUTH_TRUNC]; v != nil {
		alg, key, err := getAlgo(v, sizeAlgoAuth)
		if err != nil {
			return sa, info, err
		}
		if sa.Integ, _ = dataplane.IntegFromAlg(alg); sa.Integ == ipsec.IntegNone {
			sa.Integ = 0xffff // present but not ours: never equal to a wanted SA
		}
		sa.IntegKey, info.larval = key, false
	}
	if v := a[nl.XFRMA_ENCAP]; v != nil {
		if len(v) < sizeEncapTmpl {
			return sa, info, errShort
		}
		sa.Encap = dataplane.Encap{SrcPort: binary.BigEndian.Uint16(v[2:]), DstPort: binary.BigEndian.Uint16(v[4:])}
	}
	if v := a[nl.XFRMA_MARK]; v != nil {
		if len(v) < 8 {
			return sa, info, errShort
		}
		sa.Mark = dataplane.Mark{Value: ne.Uint32(v), Mask: ne.Uint32(v[4:])}
	}
	if v := a[nl.XFRMA_IF_ID]; v != nil {
		if len(v) < 4 {
			return sa, info, errShort
		}
		sa.IfID = ne.Uint32(v)
	}
	if info.oseq, info.iseq, err = getReplay(&a, sa.ESN, &sa.ReplayWindow); err != nil {
		return sa, info, err
	}
	// The numbers the SA stands at: re-added with them, it goes on
	// without reusing one (the bitmap is not kept: resumed as all seen).
	sa.OSeq, sa.ISeq = info.oseq, info.iseq
	return sa, info, nil
}

// getReplay reads the sequence numbers of an SA's replay state (struct
// xfrm_replay_state_esn or xfrm_replay_state, see putReplay) and, from the
// former, the window. The high halves count only with ESN: without it the
// kernel's bitmap mode uses the low ones alone.
func getReplay(a *attrs, esn bool, window *uint32) (oseq, iseq uint64, err error) {
	if v := a[nl.XFRMA_REPLAY_ESN_VAL]; v != nil {
		if len(v) < sizeReplayESN {
			return 0, 0, errShort
		}
		*window = ne.Uint32(v[20:])
		oseq, iseq = uint64(ne.Uint32(v[4:])), uint64(ne.Uint32(v[8:]))
		if esn {
			oseq |= uint64(ne.Uint32(v[12:])) << 32
			iseq |= uint64(ne.Uint32(v[16:])) << 32
		}
		return oseq, iseq, nil
	}
	if v := a[nl.XFRMA_REPLAY_VAL]; v != nil {
		if len(v) < sizeReplay {
			return 0, 0, errShort
		}
		return uint64(ne.Uint32(v)), uint64(ne.Uint32(v[4:])), nil
	}
	return 0, 0, nil
}

// decodeSeq reads what SeqStates needs of a struct xfrm_usersa_info and
// its attributes, without copying the keys: the SA's key and reqid, its
// sequence numbers, and whether it is a placeholder (no algorithm).
func decodeSeq(p []byte) (k dataplane.SAKey, reqID uint32, oseq, iseq uint64, larval bool, err error) {
	if len(p) < sizeUsersaInfo {
		return k, 0, 0, 0, false, errShort
	}
	if p[saID+20] != unix.IPPROTO_ESP {
		return k, 0, 0, 0, false, errors.New("xfrm: not an ESP SA")
	}
	if k.Dst, err = getAddr(p[saID:], ne.Uint16(p[saFamily:])); err != nil {
		return k, 0, 0, 0, false, err
	}
	k.SPI = binary.BigEndian.Uint32(p[saID+16:])
	var a attrs
	parseAttrs(p[sizeUsersaInfo:], &a)
	larval = a[nl.XFRMA_ALG_AEAD] == nil && a[nl.XFRMA_ALG_CRYPT] == nil && a[nl.XFRMA_ALG_AUTH_TRUNC] == nil
	var w uint32
	oseq, iseq, err = getReplay(&a, p[saFlags]&xfrmStateESN != 0, &w)
	return k, ne.Uint32(p[saReqid:]), oseq, iseq, larval, err
}

// decodePolicy decodes a struct xfrm_userpolicy_info and its attributes
// (XFRM_MSG_NEWPOLICY). ok is false for policies this package never
// installs (sub-policies, per-socket ones): they are not listed.
func decodePolicy(p []byte) (pol dataplane.Policy, index uint32, ok bool, err error) {
	if len(p) < sizePolicyInfo {
		return pol, 0, false, errShort
	}
	if pol.Sel, err = getSelector(p[:sizeSelector]); err != nil {
		return pol, 0, false, err
	}
	pol.Priority = ne.Uint32(p[polPriority:])
	index = ne.Uint32(p[polIndex:])
	switch p[polDir] {
	case 0:
		pol.Dir = dataplane.In
	case 1:
		pol.Dir = dataplane.Out
	case 2:
		pol.Dir = dataplane.Fwd
	default:
		return pol, index, false, nil
	}
	var a attrs
	parseAttrs(p[sizePolicyInfo:], &a)
	if v := a[nl.XFRMA_POLICY_TYPE]; len(v) >= 1 && v[0] != 0 {
		return pol, index, false, nil // XFRM_POLICY_TYPE_SUB
	}
	switch p[polAction] {
	case 0:
		pol.Action = dataplane.Bypass
	case 1:
		pol.Action = dataplane.Discard
	default:
		return pol, index, false, errors.New("xfrm: unknown policy action")
	}
	if v := a[nl.XFRMA_TMPL]; len(v) > 0 && pol.Action == dataplane.Bypass {
		if len(v) < sizeUserTmpl {
			return pol, index, false, errShort
		}
		fam := ne.Uint16(v[24:])
		t := dataplane.Template{ReqID: ne.Uint32(v[44:])}
		if v[48] == xfrmModeTransport {
			t.Mode = dataplane.Transport
		}
		// No address (transport mode) is all zero in the family's
		// length: octets beyond an IPv4 address are not part of it.
		var zero [16]byte
		n := 16
		if fam == unix.AF_INET {
			n = 4
		}
		if !bytes.Equal(v[0:n], zero[:n]) || !bytes.Equal(v[28:28+n], zero[:n]) {
			if t.Dst, err = getAddr(v[0:], fam); err != nil {
				return pol, index, false, err
			}
			t.Src, _ = getAddr(v[28:], fam)
		}
		pol.Action, pol.Tmpl = dataplane.Protect, t
	}
	if v := a[nl.XFRMA_MARK]; v != nil {
		if len(v) < 8 {
			return pol, index, false, errShort
		}
		pol.Mark = dataplane.Mark{Value: ne.Uint32(v), Mask: ne.Uint32(v[4:])}
	}
	if v := a[nl.XFRMA_IF_ID]; v != nil {
		if len(v) < 4 {
			return pol, index, false, errShort
		}
		pol.IfID = ne.Uint32(v)
	}
	return pol, index, true, nil
}

// decodeExpire decodes XFRM_MSG_EXPIRE (struct xfrm_user_expire): the SA,
// whether the hard limit was reached, and which limit (RFC 4301 §4.4.2.1:
// bytes, packets or time).
func decodeExpire(p []byte) (dataplane.Event, uint32, error) {
	if len(p) < sizeUserExpire {
		return dataplane.Event{}, 0, errShort
	}
	fam := ne.Uint16(p[saFamily:])
	dst, err := getAddr(p[saID:], fam)
	if err != nil {
		return dataplane.Event{}, 0, err
	}
	ev := dataplane.Event{Kind: dataplane.SoftExpire, SA: dataplane.SAKey{Dst: dst, SPI: binary.BigEndian.Uint32(p[saID+16:])}}
	hard := p[sizeUsersaInfo] != 0
	if hard {
		ev.Kind = dataplane.HardExpire
	}
	lft, cur := p[saLft:], p[saCurlft:]
	byteLimit, packetLimit := ne.Uint64(lft[0:]), ne.Uint64(lft[16:])
	if hard {
		byteLimit, packetLimit = ne.Uint64(lft[8:]), ne.Uint64(lft[24:])
	}
	switch {
	case byteLimit != xfrmInf && ne.Uint64(cur[0:]) >= byteLimit:
		ev.Reason = "bytes"
	case packetLimit != xfrmInf && ne.Uint64(cur[8:]) >= packetLimit:
		ev.Reason = "packets"
	default:
		ev.Reason = "time"
	}
	return ev, ne.Uint32(p[saReqid:]), nil
}

// decodeAcquire decodes XFRM_MSG_ACQUIRE (struct xfrm_user_acquire): the
// policy that trapped a packet and the packet's selector. It returns the
// policy's index (ownership).
func decodeAcquire(p []byte) (dataplane.Event, uint32, error) {
	if len(p) < sizeUserAcq {
		return dataplane.Event{}, 0, errShort
	}
	ev := dataplane.Event{Kind: dataplane.Acquire}
	var err error
	if ev.Sel, err = getSelector(p[40 : 40+sizeSelector]); err != nil {
		return ev, 0, err
	}
	pol, index, _, err := decodePolicy(p[96 : 96+sizePolicyInfo])
	if err != nil {
		return ev, 0, err
	}
	var a attrs
	parseAttrs(p[sizeUserAcq:], &a)
	if v := a[nl.XFRMA_MARK]; len(v) >= 8 {
		pol.Mark = dataplane.Mark{Value: ne.Uint32(v), Mask: ne.Uint32(v[4:])}
	}
	if v := a[nl.XFRMA_IF_ID]; len(v) >= 4 {
		pol.IfID = ne.Uint32(v)
	}
	ev.Policy = pol.Key()
	return ev, index, nil
}

// spdInfo is the reply to XFRM_MSG_GETSPDINFO.
type spdInfo struct {
	count      [6]uint32 // in, out, fwd, in-socket, out-socket, fwd-socket
	hashCount  uint32
	hashMax    uint32
	v4L, v4R   uint8
	v6L, v6R   uint8
	haveThresh bool
}

// XFRMA_SPD_* attributes of XFRM_MSG_NEWSPDINFO.
const (
	spdInfoAttr = 1 // struct xfrmu_spdinfo
	spdHInfo    = 2 // struct xfrmu_spdhinfo
	spdIPv4     = 3 // struct xfrmu_spdhthresh
	spdIPv6     = 4
)

func decodeSPDInfo(p []byte) (spdInfo, error) {
	var s spdInfo
	if len(p) < 4 {
		return s, errShort
	}
	walkAttrs(p[4:], func(typ uint16, v []byte) {
		switch {
		case typ == spdInfoAttr && len(v) >= 24:
			for i := range s.count {
				s.count[i] = ne.Uint32(v[4*i:])
			}
		case typ == spdHInfo && len(v) >= 8:
			s.hashCount, s.hashMax = ne.Uint32(v), ne.Uint32(v[4:])
		case typ == spdIPv4 && len(v) >= 2:
			s.v4L, s.v4R, s.haveThresh = v[0], v[1], true
		case typ == spdIPv6 && len(v) >= 2:
			s.v6L, s.v6R = v[0], v[1]
		}
	})
	return s, nil
}
