package ha

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// The protocol of the sync link. Every message travels in one sealed
// frame (frame.go) and starts with the protocol version and its type, so
// that a node of a later release can refuse, by version, what it cannot
// read instead of misreading it. Integers are big-endian.
//
//	message   = version(1) type(1) body
//	hello     = node-id(1) role(1) flags(1)
//	sa-update = spi-i(8) spi-r(8) len(4) record(len)
//	sa-delete = spi-i(8) spi-r(8)
//	seq-batch = count(4) entry*count gone-count(4) key*gone-count
//	entry     = key flags(1) oseq(8) iseq(8)
//	key       = family(1: 4 or 6) address(4|16) spi(4)
//	snapshot-begin = (empty)
//	snapshot-end   = sa-count(4)
//	leases    = count(4) lease*count
//	lease     = pool-len(1) pool identity-len(2) identity family(1) address(4|16)
const protoVersion = 1

// MsgType is the type of a sync message.
type MsgType uint8

// The message types.
const (
	// MsgHello carries the sender's node-id and role, every
	// helloInterval, so that each node knows its peer's role (decision 5
	// of the HA design, split brain).
	MsgHello MsgType = iota + 1
	// MsgSAUpdate carries one IKE SA's record (engine-private bytes)
	// created or changed on the active node.
	MsgSAUpdate
	// MsgSADelete says an IKE SA is gone.
	MsgSADelete
	// MsgSeqBatch carries ESP sequence numbers that changed, and the ESP
	// SAs that disappeared since the last batch.
	MsgSeqBatch
	// MsgSnapshotBegin and MsgSnapshotEnd bracket a full resync: what the
	// standby holds and was not named between them is dropped at the end.
	MsgSnapshotBegin
	MsgSnapshotEnd
	// MsgLeases carries leases of the HA pools made on the active node
	// (Leases): one as it is made, or all of them in a snapshot.
	MsgLeases
)

// maxRecord bounds one SA record; larger is refused by the decoder (and
// by the sender), so that a corrupt length cannot make us allocate.
const maxRecord = 1 << 20

// maxLeases bounds the leases of one message; the sender also keeps a
// message under maxRecord bytes.
const maxLeases = 1 << 16

// maxSeqEntries bounds the entries of one seq batch (the sender splits).
const maxSeqEntries = 1 << 16

// errShort and errTrailing are the decoder's errors.
var (
	errShort    = errors.New("ha: message truncated")
	errTrailing = errors.New("ha: trailing bytes after message")
)

// Hello is the periodic message that tells the peer who we are.
type Hello struct {
	NodeID uint8
	Role   Role
	// Synced says the sender, as a standby, has received a complete
	// snapshot since its link came up.
	Synced bool
}

// SAUpdate is an IKE SA record, as the engine encodes it: the HA layer
// only knows its SPIs.
type SAUpdate struct {
	SPIi, SPIr uint64
	Record     []byte
}

// SADelete names an IKE SA that is gone.
type SADelete struct{ SPIi, SPIr uint64 }

// SeqKey names an ESP SA as the dataplane does: destination and SPI
// (RFC 4303 §2.1).
type SeqKey struct {
	Dst netip.Addr
	SPI uint32
}

// Seq is an ESP SA's sequence numbers: the last outbound one used, and
// the highest inbound one seen (RFC 4303 §3.3.3, §3.4.3).
type Seq struct{ OSeq, ISeq uint64 }

// SeqEntry is one ESP SA's numbers in a SeqBatch.
type SeqEntry struct {
	Key SeqKey
	// Out is set for an outbound SA (its OSeq matters), clear for an
	// inbound one (its ISeq matters).
	Out bool
	Seq
}

// SeqBatch carries changed sequence numbers and the ESP SAs gone since
// the last batch.
type SeqBatch struct {
	Entries []SeqEntry
	Gone    []SeqKey
}

// SnapshotBegin starts a full resync.
type SnapshotBegin struct{}

// SnapshotEnd ends a full resync that carried SAs IKE SA records.
type SnapshotEnd struct{ SAs uint32 }

// Lease is a lease of an HA pool (`ike ha pool`): Identity (the IKE
// identity, as the pool keys it) holds Addr of Pool, through an IKE SA or
// reserved after its release. The standby records it so that, after a
// takeover, it gives the address to no other identity.
type Lease struct {
	Pool, Identity string
	Addr           netip.Addr
}

// Leases carries leases of HA pools.
type Leases struct{ Leases []Lease }

// Message is one of the message types above.
type Message interface{ msgType() MsgType }

func (Hello) msgType() MsgType         { return MsgHello }
func (SAUpdate) msgType() MsgType      { return MsgSAUpdate }
func (SADelete) msgType() MsgType      { return MsgSADelete }
func (SeqBatch) msgType() MsgType      { return MsgSeqBatch }
func (SnapshotBegin) msgType() MsgType { return MsgSnapshotBegin }
func (SnapshotEnd) msgType() MsgType   { return MsgSnapshotEnd }
func (Leases) msgType() MsgType        { return MsgLeases }

// AppendMessage appends m's encoding to b.
func AppendMessage(b []byte, m Message) ([]byte, error) {
	b = append(b, protoVersion, byte(m.msgType()))
	switch m := m.(type) {
	case Hello:
		var flags byte
		if m.Synced {
			flags |= 1
		}
		b = append(b, m.NodeID, byte(m.Role), flags)
	case SAUpdate:
		if len(m.Record) > maxRecord {
			return nil, fmt.Errorf("ha: SA record of %d bytes (at most %d)", len(m.Record), maxRecord)
		}
		b = binary.BigEndian.AppendUint64(b, m.SPIi)
		b = binary.BigEndian.AppendUint64(b, m.SPIr)
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.Record)))
		b = append(b, m.Record...)
	case SADelete:
		b = binary.BigEndian.AppendUint64(b, m.SPIi)
		b = binary.BigEndian.AppendUint64(b, m.SPIr)
	case SeqBatch:
		if len(m.Entries) > maxSeqEntries || len(m.Gone) > maxSeqEntries {
			return nil, fmt.Errorf("ha: seq batch of %d+%d entries (at most %d each)", len(m.Entries), len(m.Gone), maxSeqEntries)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.Entries)))
		for _, e := range m.Entries {
			var err error
			if b, err = appendKey(b, e.Key); err != nil {
				return nil, err
			}
			var flags byte
			if e.Out {
				flags |= 1
			}
			b = append(b, flags)
			b = binary.BigEndian.AppendUint64(b, e.OSeq)
			b = binary.BigEndian.AppendUint64(b, e.ISeq)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.Gone)))
		for _, k := range m.Gone {
			var err error
			if b, err = appendKey(b, k); err != nil {
				return nil, err
			}
		}
	case SnapshotBegin:
	case SnapshotEnd:
		b = binary.BigEndian.AppendUint32(b, m.SAs)
	case Leases:
		if len(m.Leases) > maxLeases {
			return nil, fmt.Errorf("ha: %d leases in a message (at most %d)", len(m.Leases), maxLeases)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.Leases)))
		for _, l := range m.Leases {
			if len(l.Pool) == 0 || len(l.Pool) > 255 || len(l.Identity) > 0xffff {
				return nil, fmt.Errorf("ha: lease with a pool name of %d bytes or an identity of %d", len(l.Pool), len(l.Identity))
			}
			b = append(b, byte(len(l.Pool)))
			b = append(b, l.Pool...)
			b = binary.BigEndian.AppendUint16(b, uint16(len(l.Identity)))
			b = append(b, l.Identity...)
			var err error
			if b, err = appendAddr(b, l.Addr); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("ha: unknown message %T", m)
	}
	return b, nil
}

func appendKey(b []byte, k SeqKey) ([]byte, error) {
	b, err := appendAddr(b, k.Dst)
	if err != nil {
		return nil, fmt.Errorf("ha: ESP SA key: %w", err)
	}
	return binary.BigEndian.AppendUint32(b, k.SPI), nil
}

// appendAddr appends family(1: 4 or 6) and the address.
func appendAddr(b []byte, a netip.Addr) ([]byte, error) {
	switch {
	case a.Is4():
		v := a.As4()
		b = append(b, 4)
		return append(b, v[:]...), nil
	case a.Is6():
		v := a.As16()
		b = append(b, 6)
		return append(b, v[:]...), nil
	}
	return nil, fmt.Errorf("ha: address %v cannot be sent", a)
}

// reader consumes a message; the first shortfall sticks in err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errShort
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) key() SeqKey {
	k := SeqKey{Dst: r.addr()}
	k.SPI = r.u32()
	return k
}

func (r *reader) addr() netip.Addr {
	var a netip.Addr
	switch fam := r.u8(); fam {
	case 4:
		if v := r.take(4); v != nil {
			a = netip.AddrFrom4([4]byte(v))
		}
	case 6:
		if v := r.take(16); v != nil {
			a = netip.AddrFrom16([16]byte(v))
		}
	default:
		if r.err == nil {
			r.err = fmt.Errorf("ha: address family %d", fam)
		}
	}
	return a
}

// str reads a string after its length, of 2 bytes when wide, else 1.
func (r *reader) str(wide bool) string {
	var n int
	if wide {
		if v := r.take(2); v != nil {
			n = int(binary.BigEndian.Uint16(v))
		}
	} else {
		n = int(r.u8())
	}
	return string(r.take(n))
}

// count reads a count of items of at least min bytes each, refusing one
// the rest of the message cannot hold (no allocation from a bad length).
func (r *reader) count(limit, min int) int {
	n := int(r.u32())
	if r.err == nil && (n > limit || n*min > len(r.b)) {
		r.err = errShort
	}
	if r.err != nil {
		return 0
	}
	return n
}

// ParseMessage decodes one message. Record bytes alias b.
func ParseMessage(b []byte) (Message, error) {
	r := &reader{b: b}
	ver, typ := r.u8(), MsgType(r.u8())
	if r.err != nil {
		return nil, r.err
	}
	if ver != protoVersion {
		return nil, fmt.Errorf("ha: protocol version %d (this node speaks %d)", ver, protoVersion)
	}
	var m Message
	switch typ {
	case MsgHello:
		h := Hello{NodeID: r.u8(), Role: Role(r.u8())}
		flags := r.u8()
		h.Synced = flags&1 != 0
		if r.err == nil && h.Role > RoleStandby {
			return nil, fmt.Errorf("ha: role %d", h.Role)
		}
		m = h
	case MsgSAUpdate:
		u := SAUpdate{SPIi: r.u64(), SPIr: r.u64()}
		n := r.count(maxRecord, 1)
		u.Record = r.take(n)
		m = u
	case MsgSADelete:
		m = SADelete{SPIi: r.u64(), SPIr: r.u64()}
	case MsgSeqBatch:
		var s SeqBatch
		if n := r.count(maxSeqEntries, 26); n > 0 {
			s.Entries = make([]SeqEntry, n)
			for i := range s.Entries {
				e := &s.Entries[i]
				e.Key = r.key()
				e.Out = r.u8()&1 != 0
				e.OSeq, e.ISeq = r.u64(), r.u64()
			}
		}
		if n := r.count(maxSeqEntries, 9); n > 0 {
			s.Gone = make([]SeqKey, n)
			for i := range s.Gone {
				s.Gone[i] = r.key()
			}
		}
		m = s
	case MsgSnapshotBegin:
		m = SnapshotBegin{}
	case MsgSnapshotEnd:
		m = SnapshotEnd{SAs: r.u32()}
	case MsgLeases:
		var ls Leases
		// A lease is at least 9 bytes: pool of 1, no identity, IPv4.
		if n := r.count(maxLeases, 9); n > 0 {
			ls.Leases = make([]Lease, n)
			for i := range ls.Leases {
				l := &ls.Leases[i]
				l.Pool = r.str(false)
				l.Identity = r.str(true)
				l.Addr = r.addr()
				if l.Pool == "" && r.err == nil {
					r.err = errors.New("ha: lease without a pool name")
				}
			}
		}
		m = ls
	default:
		return nil, fmt.Errorf("ha: message type %d", typ)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, errTrailing
	}
	return m, nil
}
