package xfrm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"secgw/internal/ipsec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
)

func key(seed byte, n int) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

var (
	gwA  = netip.MustParseAddr("192.0.2.1")
	gwB  = netip.MustParseAddr("192.0.2.2")
	gw6A = netip.MustParseAddr("2001:db8::1")
	gw6B = netip.MustParseAddr("2001:db8::2")
)

// testSAs covers each suite and option the encoder handles.
func testSAs() map[string]dataplane.SA {
	base := dataplane.SA{Src: gwA, Dst: gwB, SPI: 0x1000, Mode: dataplane.Tunnel, ReqID: dataplane.OwnedReqIDs.Min,
		Encr: ipsec.EncrAESGCM16, EncrKey: key(1, 36), ReplayWindow: 32}
	m := map[string]dataplane.SA{"gcm16": base}
	sa := base
	sa.Encr, sa.EncrKey = ipsec.EncrAESGCM8, key(2, 20)
	m["gcm8-128bit"] = sa
	sa = base
	sa.Encr, sa.EncrKey, sa.Integ, sa.IntegKey = ipsec.EncrAESCBC, key(3, 32), ipsec.IntegHMACSHA2_256_128, key(4, 32)
	m["cbc-sha256"] = sa
	sa.Integ, sa.IntegKey = ipsec.IntegHMACSHA1_96, key(5, 20)
	m["cbc-sha1"] = sa
	sa.Integ, sa.IntegKey = ipsec.IntegHMACSHA2_384_192, key(6, 48)
	m["cbc-sha384"] = sa
	sa.Integ, sa.IntegKey = ipsec.IntegHMACSHA2_512_256, key(7, 64)
	m["cbc-sha512"] = sa
	sa = base
	sa.Encr, sa.EncrKey = ipsec.EncrChaCha20Poly1305, key(8, 36)
	m["chacha"] = sa
	sa = base
	sa.Encr, sa.EncrKey = ipsec.EncrAESCTR, key(8, 20)
	sa.Integ, sa.IntegKey = ipsec.IntegHMACSHA2_256_128, key(4, 32)
	m["ctr"] = sa
	sa = base
	sa.ESN, sa.ReplayWindow = true, 4096
	m["esn-4096"] = sa
	sa = base
	sa.ReplayWindow = 100
	m["window-100-no-esn"] = sa
	sa = base
	sa.ReplayWindow = 0
	m["no-replay"] = sa
	sa = base
	sa.Encap, sa.Mark, sa.IfID = dataplane.Encap{SrcPort: 4500, DstPort: 31000}, dataplane.Mark{Value: 7, Mask: 0xff}, 42
	sa.Limits = dataplane.Limits{SoftBytes: 1, HardBytes: 2, SoftPackets: 3, HardPackets: 4, SoftAdd: 50 * time.Second, HardAdd: time.Minute}
	m["encap-mark-ifid-limits"] = sa
	sa = base
	sa.Mode = dataplane.Transport
	sa.Sel = dataplane.Selector{Src: netip.PrefixFrom(gwA, 32), Dst: netip.PrefixFrom(gwB, 32), Proto: 6, DstPort: 179}
	m["transport-sel"] = sa
	sa = base
	sa.Src, sa.Dst = gw6A, gw6B
	m["ipv6"] = sa
	// HA takeover: resumed sequence numbers in each replay state.
	sa = base
	sa.OSeq, sa.ISeq = 1<<20, 1000
	m["seq-legacy"] = sa
	sa = base
	sa.ReplayWindow, sa.ISeq = 100, 70000
	m["seq-window-100-no-esn"] = sa
	sa = base
	sa.ESN, sa.ReplayWindow, sa.OSeq, sa.ISeq = true, 128, 5<<32|9, 3<<32|7
	m["seq-esn"] = sa
	return m
}

func encodedPayload(t testing.TB, sa *dataplane.SA) []byte {
	t.Helper()
	var m msg
	if err := encodeSA(&m, nl.XFRM_MSG_NEWSA, unix.NLM_F_REQUEST, 1, sa); err != nil {
		t.Fatal(err)
	}
	if int(ne.Uint32(m.b)) != len(m.b) {
		t.Fatalf("message length %d, buffer %d", ne.Uint32(m.b), len(m.b))
	}
	return m.b[headerLen:]
}

// TestSARoundTrip: what the encoder sends decodes to the same SA (a dump
// reply has the layout of the request), direction and OSeq excepted.
func TestSARoundTrip(t *testing.T) {
	for name, sa := range testSAs() {
		got, info, err := decodeSA(encodedPayload(t, &sa))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if info.larval {
			t.Errorf("%s: decoded as a placeholder", name)
		}
		if !reflect.DeepEqual(got, sa) {
			t.Errorf("%s:\n got %s %+v\nwant %s %+v", name, got.String(), got, sa.String(), sa)
		}
	}
}

// TestSAEncodingKnownAnswer checks the fixed part against the netlink
// library's independent definition of struct xfrm_usersa_info, and the
// attributes the kernel requires.
func TestSAEncodingKnownAnswer(t *testing.T) {
	sa := testSAs()["esn-4096"]
	sa.Limits.HardAdd = 1500 * time.Millisecond // rounds up to 2 s
	p := encodedPayload(t, &sa)
	want := nl.XfrmUsersaInfo{Reqid: sa.ReqID, Family: unix.AF_INET, Mode: 1, Flags: nl.XFRM_STATE_ESN | nl.XFRM_STATE_AF_UNSPEC}
	want.Id.Daddr.FromIP(net.IP(gwB.AsSlice()))
	want.Id.Spi = nl.Swap32(sa.SPI)
	want.Id.Proto = unix.IPPROTO_ESP
	want.Saddr.FromIP(net.IP(gwA.AsSlice()))
	want.Lft = nl.XfrmLifetimeCfg{SoftByteLimit: nl.XFRM_INF, HardByteLimit: nl.XFRM_INF, SoftPacketLimit: nl.XFRM_INF,
		HardPacketLimit: nl.XFRM_INF, HardAddExpiresSeconds: 2}
	if !bytes.Equal(p[:sizeUsersaInfo], want.Serialize()) {
		t.Errorf("usersa_info\n got %x\nwant %x", p[:sizeUsersaInfo], want.Serialize())
	}
	var a attrs
	parseAttrs(p[sizeUsersaInfo:], &a)
	aead := a[nl.XFRMA_ALG_AEAD]
	if len(aead) != 72+36 || string(bytes.TrimRight(aead[:64], "\x00")) != "rfc4106(gcm(aes))" ||
		ne.Uint32(aead[64:]) != 288 || ne.Uint32(aead[68:]) != 128 || !bytes.Equal(aead[72:], sa.EncrKey) {
		t.Errorf("aead attribute %x", aead)
	}
	esn := a[nl.XFRMA_REPLAY_ESN_VAL]
	// bmp_len 128 words, replay_window 4096, and room for the bitmap
	// (the kernel checks the attribute holds it).
	if len(esn) != 24+128*4 || ne.Uint32(esn) != 128 || ne.Uint32(esn[20:]) != 4096 {
		t.Errorf("replay_esn attribute: len %d bmp_len %d window %d", len(esn), ne.Uint32(esn), ne.Uint32(esn[20:]))
	}
}

// TestReplayEncodingKnownAnswer pins the replay state of each kind to
// its bytes (linux/xfrm.h: struct xfrm_replay_state {oseq, seq, bitmap};
// struct xfrm_replay_state_esn {bmp_len, oseq, seq, oseq_hi, seq_hi,
// replay_window, bmp[]}), in host order. Inbound, the bitmap is all ones:
// every number of the window at or below seq is taken as seen.
func TestReplayEncodingKnownAnswer(t *testing.T) {
	h := func(s string) []byte {
		t.Helper()
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ones := strings.Repeat("ffffffff", 4)
	for _, c := range []struct {
		name   string
		change func(*dataplane.SA)
		typ    uint16
		want   []byte // nil: no attribute
	}{
		{"new SA: no replay attribute", func(*dataplane.SA) {}, nl.XFRMA_REPLAY_VAL, nil},
		{"legacy outbound", func(s *dataplane.SA) { s.OSeq = 0x100000 }, nl.XFRMA_REPLAY_VAL,
			h("00001000 00000000 00000000")},
		{"legacy inbound, window 32", func(s *dataplane.SA) { s.ISeq = 1000 }, nl.XFRMA_REPLAY_VAL,
			h("00000000 e8030000 ffffffff")},
		{"legacy inbound, window 8", func(s *dataplane.SA) { s.ISeq, s.ReplayWindow = 1000, 8 }, nl.XFRMA_REPLAY_VAL,
			h("00000000 e8030000 ff000000")},
		{"legacy: no ESN, numbers clamped to 32 bits", func(s *dataplane.SA) { s.OSeq, s.ISeq = 1<<33, 1<<32+1 }, nl.XFRMA_REPLAY_VAL,
			h("ffffffff ffffffff ffffffff")},
		{"ESN outbound", func(s *dataplane.SA) { s.ESN, s.ReplayWindow, s.OSeq = true, 128, 5<<32|9 }, nl.XFRMA_REPLAY_ESN_VAL,
			h("04000000 09000000 00000000 05000000 00000000 80000000" + strings.Repeat("00000000", 4))},
		{"ESN inbound", func(s *dataplane.SA) { s.ESN, s.ReplayWindow, s.ISeq = true, 128, 3<<32|7 }, nl.XFRMA_REPLAY_ESN_VAL,
			h("04000000 00000000 07000000 00000000 03000000 80000000" + ones)},
		{"window 100 without ESN, inbound", func(s *dataplane.SA) { s.ReplayWindow, s.ISeq = 100, 70000 }, nl.XFRMA_REPLAY_ESN_VAL,
			h("04000000 00000000 70110100 00000000 00000000 64000000" + ones)},
	} {
		sa := testSAs()["gcm16"]
		c.change(&sa)
		var a attrs
		parseAttrs(encodedPayload(t, &sa)[sizeUsersaInfo:], &a)
		if a[nl.XFRMA_REPLAY_VAL] != nil && a[nl.XFRMA_REPLAY_ESN_VAL] != nil {
			t.Errorf("%s: both replay attributes", c.name)
		}
		if got := a[c.typ]; !bytes.Equal(got, c.want) {
			t.Errorf("%s: attribute %d\n got %x\nwant %x", c.name, c.typ, got, c.want)
		}
	}
}

// TestDecodeSeq: what SeqStates reads of a dump reply matches the full
// decoder, placeholders are told apart, and truncations are rejected.
func TestDecodeSeq(t *testing.T) {
	for name, sa := range testSAs() {
		p := encodedPayload(t, &sa)
		k, reqID, oseq, iseq, larval, err := decodeSeq(p)
		if err != nil || k != sa.Key() || reqID != sa.ReqID || oseq != sa.OSeq || iseq != sa.ISeq || larval {
			t.Errorf("%s: %v reqid %d oseq %#x iseq %#x larval %v err %v", name, k, reqID, oseq, iseq, larval, err)
		}
		for n := range sizeUsersaInfo {
			if _, _, _, _, _, err := decodeSeq(p[:n]); err == nil {
				t.Fatalf("%s: prefix of %d bytes decoded", name, n)
			}
		}
	}
	sa := testSAs()["gcm16"]
	if _, _, _, _, larval, _ := decodeSeq(encodedPayload(t, &sa)[:sizeUsersaInfo]); !larval {
		t.Error("an SA without algorithms is not a placeholder")
	}
	sa = testSAs()["seq-esn"]
	p := encodedPayload(t, &sa)
	var a attrs
	parseAttrs(p[sizeUsersaInfo:], &a)
	short := append(p[:sizeUsersaInfo:sizeUsersaInfo], p[sizeUsersaInfo:]...)
	// Cut the replay attribute's payload below its fixed part: its
	// length field then claims less than struct xfrm_replay_state_esn.
	off := len(short) - (4 + len(a[nl.XFRMA_REPLAY_ESN_VAL]))
	ne.PutUint16(short[off:], 4+sizeReplayESN-4)
	if _, _, _, _, _, err := decodeSeq(short[:off+4+sizeReplayESN-4]); err == nil {
		t.Error("a truncated replay state decoded")
	}
}

func TestSATruncationsRejected(t *testing.T) {
	sa := testSAs()["encap-mark-ifid-limits"]
	p := encodedPayload(t, &sa)
	for n := 0; n < sizeUsersaInfo; n++ {
		if _, _, err := decodeSA(p[:n]); err == nil {
			t.Fatalf("prefix of %d bytes decoded", n)
		}
	}
	// A key length beyond its attribute is rejected, not read past.
	bad := append([]byte(nil), p...)
	a := bad[sizeUsersaInfo:]
	ne.PutUint32(a[4+64:], 4096)
	if _, _, err := decodeSA(bad); err == nil {
		t.Error("algorithm with an overlong key length decoded")
	}
}

func TestEncodeSARejects(t *testing.T) {
	base := testSAs()["gcm16"]
	for name, change := range map[string]func(*dataplane.SA){
		"spi 255":           func(s *dataplane.SA) { s.SPI = 255 },
		"mixed families":    func(s *dataplane.SA) { s.Dst = gw6B },
		"window 4097":       func(s *dataplane.SA) { s.ReplayWindow = 4097 },
		"esn no window":     func(s *dataplane.SA) { s.ESN, s.ReplayWindow = true, 0 },
		"aead with integ":   func(s *dataplane.SA) { s.Integ = ipsec.IntegHMACSHA1_96 },
		"unknown cipher":    func(s *dataplane.SA) { s.Encr = ipsec.Encr3DES },
		"null null":         func(s *dataplane.SA) { s.Encr, s.EncrKey = ipsec.EncrNull, nil },
		"half a selector":   func(s *dataplane.SA) { s.Sel.Src = netip.MustParsePrefix("10.0.0.0/8") },
		"no src":            func(s *dataplane.SA) { s.Src = netip.Addr{} },
		"unknown integrity": func(s *dataplane.SA) { s.Encr, s.Integ = ipsec.EncrAESCBC, 99 },
	} {
		sa := base
		change(&sa)
		var m msg
		if err := encodeSA(&m, nl.XFRM_MSG_NEWSA, 0, 1, &sa); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

func testPolicies() map[string]dataplane.Policy {
	sel := dataplane.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")}
	tun := dataplane.Template{Src: gwA, Dst: gwB, ReqID: dataplane.OwnedReqIDs.Min}
	return map[string]dataplane.Policy{
		"out": {Sel: sel, Dir: dataplane.Out, Priority: 261888, Action: dataplane.Protect, Tmpl: tun},
		"fwd-mark-ifid": {Sel: sel, Dir: dataplane.Fwd, Priority: 1, Action: dataplane.Protect, Tmpl: tun,
			Mark: dataplane.Mark{Value: 1, Mask: 3}, IfID: 9},
		"in-transport-ports": {Sel: dataplane.Selector{Src: netip.PrefixFrom(gwB, 32), Dst: netip.PrefixFrom(gwA, 32), Proto: 6, SrcPort: 1, DstPort: 179},
			Dir: dataplane.In, Action: dataplane.Protect, Tmpl: dataplane.Template{Mode: dataplane.Transport, ReqID: 5}},
		"bypass": {Sel: sel, Dir: dataplane.Out, Priority: 7, Action: dataplane.Bypass},
		"discard-v6": {Sel: dataplane.Selector{Src: netip.MustParsePrefix("2001:db8:1::/48"), Dst: netip.MustParsePrefix("::/0")},
			Dir: dataplane.In, Action: dataplane.Discard},
		"v6-in-v4": {Sel: dataplane.Selector{Src: netip.MustParsePrefix("2001:db8:1::/48"), Dst: netip.MustParsePrefix("2001:db8:2::/48")},
			Dir: dataplane.Out, Action: dataplane.Protect, Tmpl: tun},
	}
}

func TestPolicyRoundTrip(t *testing.T) {
	for name, p := range testPolicies() {
		var m msg
		if err := encodePolicy(&m, nl.XFRM_MSG_NEWPOLICY, 0, 1, &p, indexTag|8|1); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, index, ok, err := decodePolicy(m.b[headerLen:])
		if err != nil || !ok || index != indexTag|8|1 {
			t.Errorf("%s: ok %v index %#x err %v", name, ok, index, err)
		}
		if got != p {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, p)
		}
		for n := 0; n < sizePolicyInfo; n++ {
			if _, _, _, err := decodePolicy(m.b[headerLen : headerLen+n]); err == nil {
				t.Fatalf("%s: prefix of %d bytes decoded", name, n)
			}
		}
	}
}

// TestPolicyEncodingKnownAnswer checks against the netlink library's
// struct xfrm_userpolicy_info and xfrm_user_tmpl.
func TestPolicyEncodingKnownAnswer(t *testing.T) {
	p := testPolicies()["fwd-mark-ifid"]
	var m msg
	if err := encodePolicy(&m, nl.XFRM_MSG_UPDPOLICY, 0, 1, &p, indexTag|2); err != nil {
		t.Fatal(err)
	}
	b := m.b[headerLen:]
	want := nl.XfrmUserpolicyInfo{Priority: 1, Index: indexTag | 2, Dir: 2}
	want.Sel.Family = unix.AF_INET
	want.Sel.Daddr.FromIP(net.ParseIP("10.2.0.0"))
	want.Sel.Saddr.FromIP(net.ParseIP("10.1.0.0"))
	want.Sel.PrefixlenD, want.Sel.PrefixlenS = 16, 16
	want.Lft = nl.XfrmLifetimeCfg{SoftByteLimit: nl.XFRM_INF, HardByteLimit: nl.XFRM_INF, SoftPacketLimit: nl.XFRM_INF, HardPacketLimit: nl.XFRM_INF}
	if !bytes.Equal(b[:sizePolicyInfo], want.Serialize()) {
		t.Errorf("userpolicy_info\n got %x\nwant %x", b[:sizePolicyInfo], want.Serialize())
	}
	var a attrs
	parseAttrs(b[sizePolicyInfo:], &a)
	tmpl := nl.XfrmUserTmpl{Family: unix.AF_INET, Reqid: dataplane.OwnedReqIDs.Min, Mode: 1, Aalgos: ^uint32(0), Ealgos: ^uint32(0), Calgos: ^uint32(0)}
	tmpl.XfrmId.Daddr.FromIP(net.IP(gwB.AsSlice()))
	tmpl.XfrmId.Proto = unix.IPPROTO_ESP
	tmpl.Saddr.FromIP(net.IP(gwA.AsSlice()))
	if !bytes.Equal(a[nl.XFRMA_TMPL], tmpl.Serialize()) {
		t.Errorf("template\n got %x\nwant %x", a[nl.XFRMA_TMPL], tmpl.Serialize())
	}
	if mk := a[nl.XFRMA_MARK]; len(mk) != 8 || ne.Uint32(mk) != 1 || ne.Uint32(mk[4:]) != 3 {
		t.Errorf("mark %x", mk)
	}
	if id := a[nl.XFRMA_IF_ID]; len(id) != 4 || ne.Uint32(id) != 9 {
		t.Errorf("if_id %x", id)
	}
}

// expireMsg builds an XFRM_MSG_EXPIRE payload for an SA with the given
// limits and counts.
func expireMsg(t testing.TB, sa dataplane.SA, bytes, packets uint64, hard bool) []byte {
	p := encodedPayload(t, &sa)[:sizeUsersaInfo]
	p = append(p, make([]byte, sizeUserExpire-sizeUsersaInfo)...)
	ne.PutUint64(p[saCurlft:], bytes)
	ne.PutUint64(p[saCurlft+8:], packets)
	if hard {
		p[sizeUsersaInfo] = 1
	}
	return p
}

func TestDecodeExpire(t *testing.T) {
	sa := testSAs()["encap-mark-ifid-limits"] // soft bytes 1, hard 2, soft packets 3, hard 4
	for _, c := range []struct {
		bytes, packets uint64
		hard           bool
		kind           dataplane.EventKind
		reason         string
	}{
		{1, 0, false, dataplane.SoftExpire, "bytes"},
		{0, 3, false, dataplane.SoftExpire, "packets"},
		{0, 0, false, dataplane.SoftExpire, "time"},
		{2, 0, true, dataplane.HardExpire, "bytes"},
		{1, 4, true, dataplane.HardExpire, "packets"},
	} {
		ev, reqID, err := decodeExpire(expireMsg(t, sa, c.bytes, c.packets, c.hard))
		if err != nil || ev.Kind != c.kind || ev.Reason != c.reason || ev.SA != sa.Key() || reqID != sa.ReqID {
			t.Errorf("%+v: got %+v reqid %d err %v", c, ev, reqID, err)
		}
	}
	for n := 0; n < sizeUserExpire; n++ {
		if _, _, err := decodeExpire(expireMsg(t, sa, 0, 0, true)[:n]); err == nil {
			t.Fatalf("prefix of %d bytes decoded", n)
		}
	}
}

// acquireMsg builds an XFRM_MSG_ACQUIRE payload as the kernel's
// build_acquire does: the packet's selector, the policy, then attributes.
func acquireMsg(t testing.TB, pol dataplane.Policy, index uint32, pkt dataplane.Selector) []byte {
	var m msg
	if err := encodePolicy(&m, nl.XFRM_MSG_NEWPOLICY, 0, 1, &pol, index); err != nil {
		t.Fatal(err)
	}
	polMsg := m.b[headerLen:]
	p := make([]byte, sizeUserAcq)
	putSelector(p[40:], pkt)
	copy(p[96:96+sizePolicyInfo], polMsg[:sizePolicyInfo])
	return append(p, polMsg[sizePolicyInfo:]...) // tmpl, mark, if_id
}

func TestDecodeAcquire(t *testing.T) {
	pol := testPolicies()["fwd-mark-ifid"]
	pol.Dir = dataplane.Out
	pkt := dataplane.Selector{Src: netip.MustParsePrefix("10.1.2.3/32"), Dst: netip.MustParsePrefix("10.2.3.4/32"), Proto: 17, DstPort: 53}
	ev, index, err := decodeAcquire(acquireMsg(t, pol, indexTag|9, pkt))
	if err != nil || ev.Kind != dataplane.Acquire || ev.Policy != pol.Key() || ev.Sel != pkt || index != indexTag|9 {
		t.Errorf("got %+v index %#x err %v", ev, index, err)
	}
	for n := 0; n < sizeUserAcq; n++ {
		if _, _, err := decodeAcquire(acquireMsg(t, pol, 1, pkt)[:n]); err == nil {
			t.Fatalf("prefix of %d bytes decoded", n)
		}
	}
}

func TestParseError(t *testing.T) {
	// An error reply with NLM_F_CAPPED|NLM_F_ACK_TLVS and a message.
	var m msg
	m.begin(unix.NLMSG_ERROR, nlmFCapped|nlmFAckTLVs, 0)
	b := m.put(4 + headerLen)
	errno := -int32(unix.EEXIST)
	ne.PutUint32(b, uint32(errno))
	ne.PutUint32(b[4+8:], 77)
	copy(m.attr(nlmsgerrAttrMsg, 12), "exists\x00")
	m.end()
	var got error
	var seq uint32
	walkMessages(m.b, func(h header, p []byte) error {
		got, seq, _ = parseError(h, p)
		return nil
	})
	if seq != 77 || got == nil || got.Error() != "xfrm: file exists: exists" {
		t.Errorf("seq %d err %v", seq, got)
	}
	if !errorsIs(got, dataplane.ErrExist) || errorsIs(got, dataplane.ErrNotFound) {
		t.Error("EEXIST does not match dataplane.ErrExist only")
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
