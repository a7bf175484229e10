package engine

import (
	"errors"
	"fmt"
	"secgw/internal/ipsec"
	"time"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

// IKE fragmentation (RFC 7383): once both peers sent
// IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT, a protected message that
// does not fit in one IP datagram of the fragment size goes out as several
// messages with the same header and Message ID, each carrying one
// Encrypted Fragment payload (SKF) that is sealed on its own. The receiver
// authenticates every fragment before keeping its plaintext and parses the
// inner payload chain once all of them are there.
const (
	// DefaultFragmentSize is the largest IP datagram, IP and UDP headers
	// included, of a fragment we send (RFC 7383 §2.5.1): 1280, the
	// default of strongSwan's charon.fragment_size, which is the IPv6
	// minimum MTU and goes through most IPv4 paths too.
	DefaultFragmentSize = 1280

	// maxFragments is the most fragments we reassemble into one message;
	// a fragment announcing more is dropped (RFC 7383 §2.6 leaves the
	// limit to the implementation). 64 fragments of the default size hold
	// far more than any IKE_AUTH with certificates.
	maxFragments = 64
	// maxReassembledLen bounds the decrypted octets kept for one message,
	// the largest IKE message UDP can carry unfragmented. With one
	// reassembly per direction (a window of 1, RFC 7296 §2.3) an IKE SA
	// holds at most twice this much.
	maxReassembledLen = 65535
	// reassemblyTimeout discards an incomplete message this long after
	// its first fragment arrived (RFC 7383 §2.6: fragments are not kept
	// forever). It outlasts the first three retransmissions of a peer
	// with the default constants (4 + 7 + 13 s), which resend every
	// fragment and so fill the holes.
	reassemblyTimeout = 30 * time.Second

	// skfHeaderLen is the generic payload header plus the Fragment Number
	// and Total Fragments fields of the SKF payload (RFC 7383 §2.5).
	skfHeaderLen = 8
	// skHeaderLen is the generic payload header of the SK payload (RFC
	// 7296 §3.14).
	skHeaderLen = 4
)

// Header sizes that the fragment size counts (RFC 7383 §2.5.1).
const (
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	udpHeaderLen  = 8
)

// fragState is the fragmentation state of an IKE SA. The reassembly of
// fragmented messages is ikeSA.reasm: the message being reassembled in
// each direction, [0] requests from the peer, [1] responses to our
// requests, allocated by the first fragment and freed when neither
// direction reassembles (most SAs never see a fragment).
type fragState struct {
	// fragOK is set when both peers announced IKEV2_FRAGMENTATION_SUPPORTED
	// (RFC 7383 §2.3); only then are SKF payloads sent or accepted.
	fragOK bool
}

// reassembly collects the fragments of one message (RFC 7383 §2.6). Its
// timeout is the SA's timerReasmReq or timerReasmResp.
type reassembly struct {
	active bool
	id     uint32 // Message ID
	total  uint16 // Total Fragments
	next   wire.PayloadType
	// parts are the authenticated plaintexts by fragment number - 1.
	parts      [][]byte
	have, size int
}

func dirIndex(response bool) int {
	if response {
		return 1
	}
	return 0
}

// header is the IKE header of a message of this SA.
func (sa *ikeSA) header(exch wire.ExchangeType, id uint32, response bool) wire.Header {
	h := wire.Header{SPIi: sa.spii, SPIr: sa.spir, MajorVersion: wire.MajorVersion, Exchange: exch, MessageID: id}
	if sa.initiator {
		h.Flags |= wire.FlagInitiator
	}
	if response {
		h.Flags |= wire.FlagResponse
	}
	return h
}

// encodeAll encodes a message as the datagrams that carry it: one, or the
// fragments of a protected message that is too large for the fragment
// size when fragmentation was negotiated (RFC 7383 §2.5). IKE_SA_INIT is
// never fragmented: it has no Encrypted payload.
func (sa *ikeSA) encodeAll(exch wire.ExchangeType, id uint32, response bool, ps []wire.Payload) ([][]byte, error) {
	if exch == wire.ExchangeIKESAInit || !sa.fragOK {
		raw, err := sa.encode(exch, id, response, ps)
		return [][]byte{raw}, err
	}
	plain, first, err := wire.AppendPayloadChain(nil, ps)
	if err != nil {
		return nil, err
	}
	out := sa.cipherOut()
	if out == nil {
		return nil, fmt.Errorf("engine: no keys")
	}
	defer sa.doneOut(out)
	limit := sa.fragmentLimit()
	if wire.HeaderLen+4+out.SealedLen(len(plain)) <= limit {
		raw, err := seal(out, sa.header(exch, id, response), ps)
		return [][]byte{raw}, err
	}
	return sealFragments(out, sa.header(exch, id, response), first, plain, limit)
}

// fragmentLimit is the largest IKE message that fits in an IP datagram of
// the fragment size: the IP and UDP headers and, on port 4500, the Non-ESP
// Marker are not part of the message (RFC 7383 §2.5.1).
func (sa *ikeSA) fragmentLimit() int {
	if sa.tcp {
		// The stream carries whole messages: the only limit is the
		// frame's 16-bit Length (RFC 9329 §3), so IKE messages are
		// not fragmented over TCP.
		return tcpMaxMessage
	}
	size := sa.w.e.o.FragmentSize
	if size <= 0 {
		size = DefaultFragmentSize
	}
	n := size - ipv4HeaderLen - udpHeaderLen
	if !sa.remote.Addr().Unmap().Is4() {
		n = size - ipv6HeaderLen - udpHeaderLen
	}
	if sa.natt {
		n -= ipsec.NonESPMarkerLen
	}
	return n
}

// sealFragments splits plain, the inner payload chain whose first type is
// first, into SKF messages of at most limit octets. Each carries the same
// header; fragment 1 names the first inner payload, the others zero
// (RFC 7383 §2.5). Every fragment is padded and protected on its own.
func sealFragments(c ikecrypto.SKCipher, h wire.Header, first wire.PayloadType, plain []byte, limit int) ([][]byte, error) {
	chunk := fragmentPlainLen(c, limit)
	if chunk < 1 {
		return nil, fmt.Errorf("engine: fragment size leaves no room for data (%d-octet messages)", limit)
	}
	n := (len(plain) + chunk - 1) / chunk
	if n > 0xffff {
		return nil, fmt.Errorf("engine: message needs %d fragments", n)
	}
	out := make([][]byte, 0, n)
	for i := range n {
		part := plain[i*chunk : min(len(plain), (i+1)*chunk)]
		f := &wire.EncryptedFragment{FragmentNumber: uint16(i + 1), TotalFragments: uint16(n),
			Body: make([]byte, c.SealedLen(len(part)))}
		if i == 0 {
			f.NextPayload = first
		}
		raw, err := (&wire.Message{Header: h, Payloads: []wire.Payload{f}}).Append(make([]byte, 0, wire.HeaderLen+skfHeaderLen+len(f.Body)))
		if err != nil {
			return nil, err
		}
		aad := raw[:len(raw)-len(f.Body)]
		if raw, err = c.Seal(aad, aad, part); err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, nil
}

// fragmentPlainLen returns the most plaintext octets one SKF message of at
// most limit octets can carry with cipher c.
func fragmentPlainLen(c ikecrypto.SKCipher, limit int) int {
	avail := limit - wire.HeaderLen - skfHeaderLen
	n := avail - c.Overhead()
	if n < 0 {
		return 0
	}
	for c.SealedLen(n+1) <= avail {
		n++
	}
	return n
}

// decrypt returns the inner payloads of a protected message. For an SKF
// message, complete is false until the last missing fragment arrived.
func (sa *ikeSA) decrypt(m *wire.Message, response bool) (ps []wire.Payload, complete bool, err error) {
	if len(m.Payloads) > 0 {
		if f, ok := m.Payloads[len(m.Payloads)-1].(*wire.EncryptedFragment); ok {
			return sa.openFragment(m, f, response)
		}
	}
	ps, err = sa.open(m)
	return ps, err == nil, err
}

var errFragDropped = errors.New("engine: fragment dropped")

// openFragment handles one SKF message (RFC 7383 §2.6): it is
// authenticated and decrypted before anything is kept, a duplicate is
// ignored, a fragment announcing more fragments than the current
// reassembly restarts it and one announcing fewer is dropped. Once all
// fragments are there their plaintexts, in fragment order, are the inner
// payload chain, checked like that of an SK payload. Errors other than an
// UnsupportedCriticalError or a parse error of the reassembled chain mean
// the fragment was dropped.
func (sa *ikeSA) openFragment(m *wire.Message, f *wire.EncryptedFragment, response bool) ([]wire.Payload, bool, error) {
	in := sa.cipherIn()
	if !sa.fragOK || in == nil {
		return nil, false, fmt.Errorf("%w: fragmentation not negotiated", errFragDropped)
	}
	if f.TotalFragments > maxFragments {
		return nil, false, fmt.Errorf("%w: %d fragments announced, at most %d kept", errFragDropped, f.TotalFragments, maxFragments)
	}
	r := &reassembly{}
	if sa.reasm != nil {
		r = &sa.reasm[dirIndex(response)]
	}
	id := m.Header.MessageID
	if r.active && r.id == id {
		if f.TotalFragments < r.total {
			return nil, false, fmt.Errorf("%w: %d fragments announced after %d", errFragDropped, f.TotalFragments, r.total)
		}
		if f.TotalFragments == r.total && r.parts[f.FragmentNumber-1] != nil {
			return nil, false, nil // duplicate (a retransmission)
		}
	}
	off := m.EncryptedBodyOffset()
	if off < 0 {
		return nil, false, fmt.Errorf("%w: no encrypted body", errFragDropped)
	}
	plain, err := in.Open(nil, m.Raw[:off], f.Body)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", errFragDropped, err)
	}
	if !r.active || r.id != id || f.TotalFragments > r.total {
		r = sa.startReassembly(dirIndex(response), id, f.TotalFragments)
	}
	if r.size+len(plain) > maxReassembledLen {
		sa.resetReassembly(dirIndex(response))
		return nil, false, fmt.Errorf("%w: reassembled message exceeds %d octets", errFragDropped, maxReassembledLen)
	}
	sa.keepIntermediateFragment(m, f, response)
	r.parts[f.FragmentNumber-1] = plain
	r.have++
	r.size += len(plain)
	if f.FragmentNumber == 1 {
		r.next = f.NextPayload
	}
	if r.have < int(r.total) {
		return nil, false, nil
	}
	buf := make([]byte, 0, r.size)
	for _, p := range r.parts {
		buf = append(buf, p...)
	}
	next := r.next
	sa.resetReassembly(dirIndex(response))
	sa.log().Debug("reassembled fragmented message", "msgid", id, "octets", len(buf))
	ps, err := wire.ParsePayloadChain(next, buf)
	if err != nil {
		return nil, true, err
	}
	if err := wire.CheckCritical(ps); err != nil {
		return nil, true, err
	}
	sa.keepIntermediatePlain(m, next, buf)
	return wire.SkipUnknown(ps), true, nil
}

func (sa *ikeSA) startReassembly(dir int, id uint32, total uint16) *reassembly {
	sa.resetReassembly(dir)
	if sa.reasm == nil {
		sa.reasm = new([2]reassembly)
	}
	r := &sa.reasm[dir]
	r.active, r.id, r.total = true, id, total
	r.parts = make([][]byte, total)
	sa.arm(timerReasmReq+timerKind(dir), reassemblyTimeout)
	return r
}

// resetReassembly forgets the fragments of one direction and stops its
// timer.
func (sa *ikeSA) resetReassembly(dir int) {
	if sa.reasm == nil {
		return
	}
	sa.reasm[dir] = reassembly{}
	sa.disarm(timerReasmReq + timerKind(dir))
	if !sa.reasm[0].active && !sa.reasm[1].active {
		sa.reasm = nil
	}
}

// expiredReassembly discards an incomplete message (RFC 7383 §2.6).
func (sa *ikeSA) expiredReassembly(dir int) {
	if sa.reasm == nil || !sa.reasm[dir].active {
		return
	}
	r := &sa.reasm[dir]
	sa.log().Debug("discarding incomplete fragmented message", "msgid", r.id, "have", r.have, "total", r.total)
	sa.resetReassembly(dir)
}

// retransmittedFirstFragment reports whether m, a retransmission of the
// request we last answered, is fragment 1 of it and authentic. RFC 7383
// §2.6.1: the response is resent only for fragment 1, so that a request
// of n fragments does not trigger n copies of the response; checking its
// ICV keeps a forged fragment from making us resend every fragment of the
// response.
func (sa *ikeSA) retransmittedFirstFragment(m *wire.Message, f *wire.EncryptedFragment) bool {
	if sa.retransmittedIntermediate(m) {
		return true // protected with the keys before the update
	}
	in := sa.cipherIn()
	if f.FragmentNumber != 1 || in == nil {
		return false
	}
	off := m.EncryptedBodyOffset()
	if off < 0 {
		return false
	}
	_, err := in.Open(nil, m.Raw[:off], f.Body)
	return err == nil
}

// lastFragment returns the SKF payload ending m, if any.
func lastFragment(m *wire.Message) (*wire.EncryptedFragment, bool) {
	if len(m.Payloads) == 0 {
		return nil, false
	}
	f, ok := m.Payloads[len(m.Payloads)-1].(*wire.EncryptedFragment)
	return f, ok
}
